"""The `seeder` command line: a thin Click layer over seeder.commands.

It parses options, turns Ctrl-C and SIGTERM into a Cancellation, draws progress on a
terminal, prints results, and prints every SeederError as one `seeder: error:` line with the
error's exit status; never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import click
from tqdm import tqdm

from seeder import __version__, commands, limits, loading
from seeder import exercises as learning
from seeder.cancel import Cancellation
from seeder.errors import Cancelled, SeederError
from seeder.generator import MAX_SEED
from seeder.progress import LOADING
from seeder.scenario import Scenario, load_scenario
from seeder.urls import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE_URL,
    database_url,
    display_url,
    parse_database_url,
)

# After Ctrl-C or SIGTERM, how long the work may take to roll back before the process ends
# anyway (a server that does not answer cannot hold it: the transaction dies with the
# connection, which is all-or-nothing too).
CANCEL_GRACE_SECONDS = 2
_SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


class _Group(click.Group):
    """Turns SeederError into one line on stderr and its exit status, and a usage error (bad
    option value, unknown command) into one line and exit status 2; never a traceback."""

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:  # the group's own options
            _usage_error(error)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:  # a command's options, or an unknown command
            _usage_error(error)
        except BrokenPipeError:
            # The reader of the output went away (`seeder info | head -1`): what it did not
            # read is not an error. The interpreter's last flush must not complain either.
            sys.stdout = open(os.devnull, "w")
            ctx.exit(0)
        except OSError as error:  # writing the output failed (a full disk, /dev/full)
            click.echo(f"seeder: error: cannot write the output: {error.strerror} (the "
                       f"{ctx.invoked_subcommand} command itself completed)", err=True)
            sys.stdout = open(os.devnull, "w")
            ctx.exit(1)
        except KeyboardInterrupt:  # Ctrl-C outside the commands that take it over
            click.echo("seeder: error: interrupted; nothing was written", err=True)
            ctx.exit(_SIGNAL_EXIT[signal.SIGINT])
        except SeederError as error:
            click.echo(f"seeder: error: {error}", err=True)
            signal_number = ctx.meta.get("seeder.signal")
            if isinstance(error, Cancelled) and signal_number in _SIGNAL_EXIT:
                ctx.exit(_SIGNAL_EXIT[signal_number])
            ctx.exit(error.exit_code)


def _usage_error(error: click.UsageError) -> NoReturn:
    hint = f" (see {error.ctx.command_path} --help)" if error.ctx else ""
    click.echo(f"seeder: error: {error.format_message()}{hint}", err=True)
    sys.exit(error.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="seeder")
@click.option(
    "--database-url",
    metavar="URL",
    help=f"Database to use. Default: ${DATABASE_URL_ENV}, else {DEFAULT_DATABASE_URL}.",
)
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """Fill SQLite, PostgreSQL or MySQL/MariaDB with a reproducible car-repair-shop dataset.

    \b
      seeder init-db
      seeder populate --customers 5000
    """
    ctx.obj = database_url


def _url(ctx: click.Context) -> str:
    return database_url(ctx.find_root().obj)


def _shown(url: str) -> str:
    return display_url(parse_database_url(url))


@cli.command("init-db")
@click.pass_context
def init_db(ctx: click.Context) -> None:
    """Create the schema or upgrade it to the newest revision (safe to rerun).

    \b
      seeder init-db
      seeder --database-url postgresql://postgres@localhost/shop init-db
      seeder --database-url mariadb://root@127.0.0.1/shop init-db
    """
    change = commands.init_db(_url(ctx))
    if change.changed:
        click.echo(f"{change.database} upgraded from {change.before or 'empty'} to revision "
                   f"{change.after}")
    else:
        click.echo(f"{change.database} is already at revision {change.after}; nothing to do")


@cli.command("reset-db")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def reset_db(ctx: click.Context, yes: bool) -> None:
    """Drop all seeder tables and views, with their data, and recreate them empty.

    \b
      seeder reset-db --yes
    """
    url = _url(ctx)
    shown = _shown(url)
    if not yes:
        click.confirm(f"Delete every seeder table and all data in {shown}?", abort=True)
    commands.reset_db(url)
    click.echo(f"{shown} reset to an empty schema")


_seed_option = click.option(
    "--seed", type=click.IntRange(0, MAX_SEED),
    help="Seed of the random generator; the same seed gives the same rows. Default: a new "
    "one, printed.",
)
_customers_option = click.option(
    "--customers", type=click.IntRange(min=1), required=True, help="Number of customers.",
)
_scenario_option = click.option(
    "--scenario", type=click.Path(dir_okay=False, path_type=Path),
    help="TOML file overriding the default scenario (the notebook's numbers).",
)


def _scenario(path: Path | None) -> Scenario | None:
    return None if path is None else load_scenario(path)


class _ProgressDisplay:
    """Progress on stderr when it is a terminal: the phase, its count, the total elapsed time.

    No ETA: how long the keys and indexes take after the load cannot be known in advance.
    """

    _FORMAT = "{desc:<25} {percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt}{postfix}"

    def __init__(self, announce: str | None) -> None:
        self._enabled = sys.stderr.isatty()
        self._announce = announce
        self._bar: tqdm | None = None
        self._phase: str | None = None
        self._started = time.perf_counter()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase == LOADING and self._announce:
            self._write(self._announce)  # the seed, once the run starts writing
            self._announce = None
        if not self._enabled:
            return
        elapsed = f"elapsed {time.perf_counter() - self._started:.0f} s"
        if phase != self._phase:
            self.close()
            self._phase = phase
            self._bar = tqdm(total=total, desc=phase, file=sys.stderr, leave=False,
                             unit_scale=total >= 10_000, bar_format=self._FORMAT,
                             postfix=elapsed, ncols=80)
        assert self._bar is not None
        self._bar.set_postfix_str(elapsed, refresh=False)
        self._bar.update(done - self._bar.n)

    def _write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=sys.stderr)
        else:
            click.echo(line, err=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@contextlib.contextmanager
def _progress(announce: str | None) -> Iterator[_ProgressDisplay]:
    display = _ProgressDisplay(announce)
    try:
        yield display
    finally:
        display.close()


# What is said when the work has not ended CANCEL_GRACE_SECONDS after a signal, per command.
_ENDED_ANYWAY = {
    "populate": f"interrupted; the database did not answer within {CANCEL_GRACE_SECONDS} s, so "
                "the connection was closed and the transaction rolled back with it",
    "export": f"interrupted; the export did not stop within {CANCEL_GRACE_SECONDS} s and was "
              "ended; nothing was written (a .NAME.*.partial directory left beside --out can "
              "be removed)",
}


@contextlib.contextmanager
def _cancel_on_signals(ctx: click.Context) -> Iterator[Cancellation]:
    """Ctrl-C and SIGTERM cancel the work; if it has not ended a few seconds later (a server
    that does not answer), the process ends anyway with the signal's exit status."""
    cancellation = Cancellation()
    finished = threading.Event()
    ended_anyway = _ENDED_ANYWAY[ctx.command.name]

    def handler(signal_number: int, _frame) -> None:
        ctx.meta["seeder.signal"] = signal_number
        # In threads: cancelling a statement talks to the server, which may not answer.
        threading.Thread(target=cancellation.cancel, daemon=True).start()
        threading.Thread(target=_end_unless_finished,
                         args=(finished, signal_number, ended_anyway), daemon=True).start()

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, handler) for number in handled}
    try:
        yield cancellation
    finally:
        finished.set()
        for number, old in previous.items():
            signal.signal(number, old)


def _end_unless_finished(finished: threading.Event, signal_number: int, message: str) -> None:
    if finished.wait(CANCEL_GRACE_SECONDS):
        return
    sys.stderr.write(f"seeder: error: {message}\n")
    sys.stderr.flush()
    os._exit(_SIGNAL_EXIT[signal_number])


def _print_counts(row_counts: dict[str, int]) -> None:
    for table, rows in row_counts.items():
        click.echo(f"  {table:<15} {rows:>12,} rows")


def _print_summary(summary: loading.Summary, verb: str) -> None:
    _print_counts(summary.row_counts)
    rate = summary.rows / summary.seconds if summary.seconds else 0
    click.echo(f"{verb} {summary.rows:,} rows in {summary.seconds:.1f} s ({rate:,.0f} rows/s), "
               f"seed {summary.seed}")


def _seed_announcement(seed: int | None) -> tuple[int, str | None]:
    if seed is not None:
        return seed, None
    chosen = commands.pick_seed()
    return chosen, f"seed {chosen} (pass --seed {chosen} to reproduce this dataset)"


@cli.command()
@_customers_option
@_seed_option
@click.option("--batch-size", type=click.IntRange(min=1), default=loading.DEFAULT_BATCH_SIZE,
              show_default=True, help="Rows per write.")
@_scenario_option
@click.option("--replace", is_flag=True, help="Replace the dataset the database already holds.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Load shards of the dataset over this many connections at once "
              "(PostgreSQL).")
@click.option("--dry-run", is_flag=True, help="Print what would be written; touch nothing.")
@click.pass_context
def populate(ctx: click.Context, customers: int, seed: int | None, batch_size: int,
             scenario: Path | None, replace: bool, workers: int, dry_run: bool) -> None:
    """Generate the dataset and write it, all in one transaction.

    Refuses a database that already holds a dataset unless --replace is given.

    \b
      seeder populate --customers 5000
      seeder populate --customers 1000000 --seed 42 --replace
      seeder populate --customers 100 --scenario my_shop.toml --dry-run
      seeder populate --customers 10000000 --workers 2 --replace   # PostgreSQL
    """
    url = _url(ctx)
    chosen = _scenario(scenario)
    seed, announce = _seed_announcement(seed)
    with _cancel_on_signals(ctx) as cancellation:
        if dry_run:
            summary, size = commands.dry_run(customers=customers, seed=seed, scenario=chosen,
                                             cancel=cancellation)
            _print_counts(summary.row_counts)
            click.echo(f"Would write {summary.rows:,} rows, about {size / 1e6:,.1f} MB as CSV, "
                       f"seed {summary.seed}; nothing was written")
            return
        with _progress(announce) as display:
            summary = loading.populate(url, customers=customers, seed=seed, scenario=chosen,
                                        replace=replace, batch_size=batch_size,
                                        workers=workers, cancel=cancellation,
                                        progress=display)
    _print_summary(summary, f"Wrote to {_shown(url)}:")


def _shard(ctx: click.Context, param: click.Parameter, value: str | None
           ) -> tuple[int, int] | None:
    if value is None:
        return None
    index, slash, count = value.partition("/")
    if not (slash and index.isdigit() and count.isdigit()):
        raise click.BadParameter(f"{value!r} is not K/N, like 2/8")
    return int(index), int(count)


@cli.command()
@_customers_option
@_seed_option
@_scenario_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for the files (created if missing).")
@click.option("--format", "file_format", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True,
              help="A CSV file per table, or a directory of Parquet files per table.")
@click.option("--shard", metavar="K/N", callback=_shard,
              help="Write only shard K of N; the N shards together hold every row once.")
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Run on a new local Dask cluster of N worker processes.")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Run on the existing Dask cluster of this scheduler; its workers must see "
                   "--out at the same path.")
@click.pass_context
def export(ctx: click.Context, customers: int, seed: int | None, scenario: Path | None,
           out: Path, file_format: str, shard: tuple[int, int] | None, workers: int | None,
           scheduler: str | None) -> None:
    """Write the dataset as files, without a database: a CSV file per table, or a directory
    of Parquet files per table.

    The CSV files load as they are with psql's \\copy TABLE FROM FILE CSV HEADER, the sqlite3
    shell's .import --csv --skip 1, or MySQL's LOAD DATA ... FIELDS TERMINATED BY ','
    OPTIONALLY ENCLOSED BY '"' ESCAPED BY '' IGNORE 1 LINES. --workers and --scheduler run
    on Dask, and --format parquet needs pyarrow: pip install 'seeder[distributed]'.

    \b
      seeder export --customers 5000 --seed 42 --out data/
      seeder export --customers 10000000 --seed 42 --format parquet --workers 2 --out data/
      seeder export --customers 10000000 --seed 42 --shard 2/8 --out part-2/
    """
    chosen = _scenario(scenario)
    seed, announce = _seed_announcement(seed)
    if announce:
        click.echo(announce, err=True)
    with _cancel_on_signals(ctx) as cancellation, _progress(None) as display:
        summary = commands.export(out, customers=customers, seed=seed, scenario=chosen,
                                  format=file_format, shard=shard, workers=workers,
                                  scheduler=scheduler, cancel=cancellation, progress=display)
    _print_summary(summary, f"Wrote {out}/:")


@cli.command("scenario")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def scenario_command(file: Path | None) -> None:
    """Print the complete scenario as TOML: the default, or FILE with its overrides applied.

    The output, given back with --scenario, makes exactly the same data.

    \b
      seeder scenario > my_shop.toml
      seeder scenario my_shop.toml
    """
    chosen = _scenario(file) or Scenario()
    limits.check_columns(chosen)
    click.echo(chosen.to_toml(), nl=False)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def info(ctx: click.Context, as_json: bool) -> None:
    """Print what the database holds: rows per table, the last populate, and the figures to
    look at first (dates, revenue per field of service, visits per customer, referrals).

    \b
      seeder info
      seeder info --json | jq .revenue_per_field
    """
    facts = commands.info(_url(ctx))
    if as_json:
        click.echo(json.dumps(facts, indent=2))
        return
    click.echo(f"{facts['database']} (schema revision {facts['revision']})")
    _print_counts(facts["row_counts"])
    run = facts["last_populate"]
    if run:
        click.echo(f"last populate: {run['customers']:,} customers, seed {run['seed']}, "
                   f"generator version {run['generator_version']}, at {run['finished_at']}")
    if facts["first_transaction"]:
        _print_figures(facts)


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "     -"


def _print_figures(facts: dict) -> None:
    """The figures of `seeder info` as aligned tables."""
    click.echo("\ndates")
    click.echo(f"  registrations   {facts['first_registration']} to "
               f"{facts['last_registration']}")
    click.echo(f"  transactions    {facts['first_transaction']} to {facts['last_transaction']}")

    revenue, transactions = facts["revenue"], facts["row_counts"]["transactions"]
    click.echo("\nrevenue per field of service")
    click.echo(f"  {'field':<14} {'transactions':>12} {'revenue':>14} {'share':>6}")
    for field in facts["revenue_per_field"]:
        click.echo(f"  {field['field']:<14} {field['transactions']:>12,} "
                   f"{field['revenue']:>14,} {_share(field['revenue'], revenue)}")
    click.echo(f"  {'all':<14} {transactions:>12,} {revenue:>14,} {_share(revenue, revenue)}")
    click.echo(f"  ({facts['free_services']:,} transactions were free)")

    visits = facts["visits_per_customer"]
    customers = facts["row_counts"]["customers"]
    click.echo(f"\nvisits per customer: {visits['average']:.2f} on average")
    click.echo(f"  {'visits':>6} {'customers':>12} {'share':>6}")
    for row in visits["distribution"]:
        click.echo(f"  {row['visits']:>6} {row['customers']:>12,} "
                   f"{_share(row['customers'], customers)}")

    referrals = facts["referral_programme"]
    click.echo("\nreferral programme")
    click.echo(f"  {'referrers':<24} {referrals['referrers']:>8,}")
    click.echo(f"  {'referred customers':<24} {referrals['referred_customers']:>8,}")
    for reward in referrals["rewards"]:
        label = f"free services ({reward['field']})"
        worth = f"{reward['list_value']:,.1f}".removesuffix(".0")
        click.echo(f"  {label:<24} {reward['count']:>8,}   worth {worth} at list price "
                   "(mid-range)")


@cli.command("schema")
@click.option("--format", "output_format", type=click.Choice(["markdown", "mermaid"]),
              default="markdown", show_default=True,
              help="markdown: the data dictionary (with the diagram); mermaid: the ER diagram.")
def schema_command(output_format: str) -> None:
    """Print the schema, generated from the models; needs no database.

    \b
      seeder schema > docs/schema.md
      seeder schema --format mermaid
    """
    # Imported here: it loads SQL dialects that no other command needs.
    from seeder import schema_docs

    text = schema_docs.markdown() if output_format == "markdown" else schema_docs.mermaid()
    click.echo(text, nl=False)


@cli.group()
def exercises() -> None:
    """SQL exercises on the data, checked on your database (see docs/exercises.md).

    \b
      seeder exercises list
      seeder exercises show 12
      seeder exercises check 12 my_query.sql
      seeder exercises show 12 --answer
      seeder exercises clean
    """


@exercises.command("list")
def list_exercises() -> None:
    """List the exercises: number, level, title and topics."""
    every = learning.load_exercises()
    width = max(len(exercise.title) for exercise in every)
    for exercise in every:
        click.echo(f"{exercise.id:>3}  {exercise.level:<6}  {exercise.title:<{width}}  "
                   f"{', '.join(exercise.topics)}")


@exercises.command()
@click.argument("number", type=int)
@click.option("--answer", is_flag=True,
              help="Print the reference answer for the database's SQL dialect, as one query.")
@click.pass_context
def show(ctx: click.Context, number: int, answer: bool) -> None:
    """Print exercise NUMBER, or with --answer its reference answer.

    \b
      seeder exercises show 12
      seeder --database-url postgresql://localhost/shop exercises show 12 --answer
    """
    if answer:
        click.echo(learning.reference_answer(_url(ctx), number) + ";")
        return
    exercise = learning.get_exercise(number)
    order = "Row order matters." if exercise.ordered else "Row order does not matter."
    click.echo(f"Exercise {exercise.id}: {exercise.title}")
    click.echo(f"({exercise.level}; {', '.join(exercise.topics)}. {order})\n")
    click.echo(exercise.question)
    click.echo(f"\nCheck a query with: seeder exercises check {exercise.id} FILE")


@exercises.command("check")
@click.argument("number", type=int)
@click.argument("file", type=click.File("rb"))
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              default=learning.DEFAULT_TIMEOUT_SECONDS, show_default=True, metavar="SECONDS",
              help="Stop the query after this long on each dataset.")
@click.pass_context
def check_exercise(ctx: click.Context, number: int, file, timeout: float) -> None:
    """Check the query in FILE (- for stdin) for exercise NUMBER.

    It runs read-only on your database and on two hidden variants made from other seeds
    (built on the first check, then reused), and prints "correct" (exit status 0) or what
    differs (exit status 1). Your database is never changed.

    \b
      seeder exercises check 12 my_query.sql
      echo "SELECT ..." | seeder exercises check 12 -
    """
    try:
        query = file.read().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise click.BadParameter(f"not UTF-8 text ({error.reason} at byte {error.start})",
                                 param_hint="FILE") from None
    with _progress(None) as display:
        verdict = learning.check(_url(ctx), number, query, timeout=timeout, progress=display)
    click.echo(verdict.message)
    if not verdict.correct:
        ctx.exit(1)


@exercises.command()
@click.option("--all", "every", is_flag=True,
              help="Drop every hidden variant on the server (or in the cache directory), not "
              "only those of this database's populates.")
@click.pass_context
def clean(ctx: click.Context, every: bool) -> None:
    """Drop the hidden variants that checks built for this database.

    \b
      seeder exercises clean
      seeder exercises clean --all
    """
    dropped = learning.drop_variants(_url(ctx), every=every)
    for name in dropped:
        click.echo(f"dropped {name}")
    if not dropped:
        click.echo("no hidden variants to drop")


def main() -> None:
    """Entry point of the `seeder` console script and `python -m seeder`."""
    cli(prog_name="seeder")
