"""The `seeder` command line: parses options, calls seeder.commands, prints one-line errors."""

from __future__ import annotations

import click

from seeder import __version__, commands
from seeder.config import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE_URL,
    display_url,
    resolve_database_url,
)
from seeder.errors import CommandError


class _Group(click.Group):
    """Turns CommandError into one line on stderr and exit status 1, with no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CommandError as error:
            click.echo(f"seeder: error: {error}", err=True)
            ctx.exit(1)


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


def _url(ctx: click.Context):
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


def main() -> None:
    """Entry point of the `seeder` console script and `python -m seeder`."""
    cli(prog_name="seeder")
