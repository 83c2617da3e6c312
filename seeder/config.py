"""Database URLs as users write them, and engines configured the way seeder needs them."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from seeder.errors import SeederError

DEFAULT_DATABASE_URL = "sqlite:///seeder.db"
DATABASE_URL_ENV = "SEEDER_DATABASE_URL"
# Fail fast when a PostgreSQL host does not answer, rather than hanging on TCP retries.
CONNECT_TIMEOUT_SECONDS = 5

_DRIVERS = {
    "sqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
}


def resolve_database_url(option: str | None) -> URL:
    """The URL from --database-url, else $SEEDER_DATABASE_URL, else the default SQLite file."""
    text = option or os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        raise SeederError(
            "could not parse the database URL; write it as sqlite:///PATH or "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE, with special characters in the "
            "password percent-encoded (@ as %40, : as %3A)"
        ) from None
    backend, _, driver = url.drivername.partition("+")
    if backend not in _DRIVERS:
        raise SeederError(
            f"unsupported database URL scheme {url.drivername!r}; use sqlite:/// or postgresql://"
        )
    if backend != "sqlite" and driver not in ("", "psycopg"):
        raise SeederError(
            f"unsupported PostgreSQL driver {driver!r}; use postgresql:// (seeder uses psycopg 3)"
        )
    return url.set(drivername=_DRIVERS[backend])


def display_url(url: URL) -> str:
    """The URL as users write it (no driver name), and never with its password."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL opens, or None for an in-memory database."""
    name = url.database
    if url.query.get("uri") in ("true", "1") and name and name.startswith("file:"):
        # sqlite:///file:PATH?mode=ro&uri=true: an SQLite URI filename.
        parts = urllib.parse.urlsplit(name)
        if "memory" in urllib.parse.parse_qs(parts.query).get("mode", []) or not parts.path:
            return None
        return Path(urllib.parse.unquote(parts.path))
    if not name or name == ":memory:":
        return None
    return Path(name)


def describe_database_error(url: URL, error: Exception) -> str:
    """A database error as one line for the user, naming the database without its password."""
    # The driver's first line names the cause (refused, timeout, bad password, no database,
    # read-only file, disk full) and never contains the password.
    orig = error.orig if isinstance(error, DBAPIError) else error
    reason = str(orig).strip().splitlines()[0] if orig else str(error)
    if "database is locked" in reason:
        reason += " (another seeder populate may be writing to it; try again when it is done)"
    return f"cannot use {display_url(url)}: {reason}"


def create_seeder_engine(url: URL) -> Engine:
    """An engine with transactional DDL and foreign keys on SQLite, fail-fast on PostgreSQL."""
    if url.get_backend_name() != "sqlite":
        return create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})
    engine = create_engine(url)

    # pysqlite commits before DDL on its own; take over BEGIN so that migrations and a whole
    # populate (which drops and rebuilds indexes) are one transaction, as on PostgreSQL.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    # A writer asks for BEGIN IMMEDIATE (execution option sqlite_begin) to take the write
    # lock up front, so a second writer is turned away before it does any work.
    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))

    return engine
