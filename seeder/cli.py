"""The `seeder` command line: parses options, calls seeder.commands, prints one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import click
from sqlalchemy.engine import URL
from tqdm import tqdm

from seeder import __version__, commands
from seeder.config import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE_URL,
    display_url,
    resolve_database_url,
)
from seeder.errors import SeederError
from seeder.models import MAX_SEED


class _Group(click.Group):
    """Turns SeederError into one line on stderr and exit status 1, and a usage error (bad
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
        except SeederError as error:
            click.echo(f"seeder: error: {error}", err=True)
            ctx.exit(1)


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
    """Fill SQLite or PostgreSQL with a reproducible car-repair-shop dataset.

    \b
      seeder init-db
      seeder populate --customers 5000
    """
    ctx.obj = database_url


def _url(ctx: click.Context) -> URL:
    return resolve_database_url(ctx.obj)


@cli.command("init-db")
@click.pass_context
def init_db(ctx: click.Context) -> None:
    """Create the schema or upgrade it to the newest revision (safe to rerun).

    \b
      seeder init-db
      seeder --database-url postgresql://postgres@localhost/shop init-db
    """
    commands.init_db(_url(ctx), click.echo)


@cli.command("reset-db")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def reset_db(ctx: click.Context, yes: bool) -> None:
    """Drop all seeder tables and views, with their data, and recreate them empty.

    \b
      seeder reset-db --yes
    """
    url = _url(ctx)
    if not yes:
        click.confirm(f"Delete every seeder table and all data in {display_url(url)}?", abort=True)
    commands.reset_db(url, click.echo)


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


def _announce_seed(seed: int | None) -> int:
    chosen = commands.pick_seed(seed)
    if seed is None:
        click.echo(f"seed {chosen} (pass --seed {chosen} to reproduce this dataset)", err=True)
    return chosen


def _progress(customers: int) -> tqdm:
    # A bar only on a terminal; redirected output stays clean.
    return tqdm(total=customers, unit=" customers", unit_scale=True, file=sys.stderr,
                disable=not sys.stderr.isatty(), leave=False)


def _print_counts(row_counts: dict[str, int]) -> None:
    for table, rows in row_counts.items():
        click.echo(f"  {table:<15} {rows:>12,} rows")


def _print_summary(summary: commands.Summary, verb: str) -> None:
    _print_counts(summary.row_counts)
    rate = summary.rows / summary.seconds if summary.seconds else 0
    click.echo(f"{verb} {summary.rows:,} rows in {summary.seconds:.1f} s ({rate:,.0f} rows/s), "
               f"seed {summary.seed}")


@cli.command()
@_customers_option
@_seed_option
@click.option("--batch-size", type=click.IntRange(min=1), default=commands.DEFAULT_BATCH_SIZE,
              show_default=True, help="Rows per write.")
@_scenario_option
@click.option("--replace", is_flag=True, help="Replace the dataset the database already holds.")
@click.option("--dry-run", is_flag=True, help="Print what would be written; touch nothing.")
@click.pass_context
def populate(ctx: click.Context, customers: int, seed: int | None, batch_size: int,
             scenario: Path | None, replace: bool, dry_run: bool) -> None:
    """Generate the dataset and write it, all in one transaction.

    Refuses a database that already holds a dataset unless --replace is given.

    \b
      seeder populate --customers 5000
      seeder populate --customers 1000000 --seed 42 --replace
      seeder populate --customers 100 --scenario my_shop.toml --dry-run
    """
    url = _url(ctx)
    seed = _announce_seed(seed)
    if dry_run:
        summary, size = commands.dry_run(customers, seed, scenario)
        _print_counts(summary.row_counts)
        click.echo(f"Would write {summary.rows:,} rows, about {size / 1e6:,.1f} MB as CSV, "
                   f"seed {summary.seed}; nothing was written")
        return
    with _progress(customers) as bar:

        def on_customers(count: int) -> None:
            bar.update(count)
            if bar.n >= customers:  # what is left takes seconds at scale: say what it is
                bar.set_postfix_str("last rows, then indexes and keys")

        summary = commands.populate(url, customers, seed, scenario, replace=replace,
                                    batch_size=batch_size, on_customers=on_customers)
    _print_summary(summary, f"Wrote to {display_url(url)}:")


@cli.command()
@_customers_option
@_seed_option
@_scenario_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for the CSV files (created if missing).")
def export(customers: int, seed: int | None, scenario: Path | None, out: Path) -> None:
    """Write the dataset as CSV files, one per table, without a database.

    The files load as they are with psql's \\copy TABLE FROM FILE CSV HEADER or the sqlite3
    shell's .import --csv --skip 1.

    \b
      seeder export --customers 5000 --seed 42 --out data/
    """
    seed = _announce_seed(seed)
    with _progress(customers) as bar:
        summary = commands.export(out, customers, seed, scenario, on_customers=bar.update)
    _print_summary(summary, f"Wrote {out}/:")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def info(ctx: click.Context, as_json: bool) -> None:
    """Print what the database holds: rows per table, the last populate, headline figures.

    \b
      seeder info
      seeder info --json | jq .row_counts
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
        click.echo(f"transactions from {facts['first_transaction']} to "
                   f"{facts['last_transaction']}; revenue {facts['revenue']:,}; "
                   f"{facts['referrals']:,} referrals; {facts['free_services']:,} free services")


def main() -> None:
    """Entry point of the `seeder` console script and `python -m seeder`."""
    cli(prog_name="seeder")
