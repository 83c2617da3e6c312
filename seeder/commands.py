"""What each `seeder` command does, as plain functions; the CLI only parses and prints.

Every function raises CommandError for a problem the user can fix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Connection
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError

from seeder import schema
from seeder.config import create_seeder_engine, display_url
from seeder.errors import CommandError


@contextlib.contextmanager
def _connect(url: URL, *, must_exist: bool = True) -> Iterator[Connection]:
    """A connection in one transaction, with connection failures turned into one-line errors."""
    if must_exist and url.get_backend_name() == "sqlite":
        _require_sqlite_file(url)
    engine = create_seeder_engine(url)
    try:
        with engine.begin() as connection:
            yield connection
    except OperationalError as error:
        raise CommandError(_describe_connection_error(url, error)) from None
    finally:
        engine.dispose()


def _require_sqlite_file(url: URL) -> None:
    if url.database and url.database != ":memory:" and not Path(url.database).exists():
        raise CommandError(f"{url.database} does not exist; run `seeder init-db` first")


def _describe_connection_error(url: URL, error: DBAPIError) -> str:
    # The driver's first line names the cause (refused, timeout, bad password, no database)
    # and never contains the password.
    reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    return f"cannot use {display_url(url)}: {reason}"


def init_db(url: URL, echo: Callable[[str], None]) -> None:
    """Create the schema, or upgrade it to the newest revision."""
    head = schema.head_revision()
    with _connect(url, must_exist=False) as connection:
        current = schema.current_revision(connection)
        if current == head:
            echo(f"{display_url(url)} is already at revision {head}; nothing to do")
            return
        schema.upgrade(connection)
    echo(f"{display_url(url)} upgraded from {current or 'empty'} to revision {head}")


def reset_db(url: URL, echo: Callable[[str], None]) -> None:
    """Drop every table and view seeder created, then create the empty schema again."""
    with _connect(url) as connection:
        if schema.current_revision(connection) is None:
            raise CommandError(f"{display_url(url)} has no seeder schema; run `seeder init-db`")
        schema.downgrade(connection)
        schema.upgrade(connection)
    echo(f"{display_url(url)} reset to an empty schema at revision {schema.head_revision()}")


def require_current_schema(connection: Connection, url: URL) -> None:
    """Stop unless the database is at the newest revision."""
    current, head = schema.current_revision(connection), schema.head_revision()
    if current != head:
        state = "is not initialised" if current is None else f"is at revision {current}, not {head}"
        raise CommandError(f"{display_url(url)} {state}; run `seeder init-db`")

