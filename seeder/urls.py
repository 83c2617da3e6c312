"""Database URLs as users write them, and as seeder shows them (never with a password)."""

from __future__ import annotations

import os

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from seeder.errors import DatabaseURLError


def parse_database_url(text: str) -> URL:
    """The URL in `text`; a one-line error when it cannot be parsed."""
    try:
        return make_url(text)
    except (ArgumentError, ValueError):
        raise DatabaseURLError(
            "could not parse the database URL; write it as sqlite:///PATH or "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE, with special characters in the "
            "password percent-encoded (@ as %40, : as %3A)"
        ) from None


def display_url(url: URL) -> str:
    """The URL as users write it (no driver name), and never with its password."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


DEFAULT_DATABASE_URL = "sqlite:///seeder.db"
DATABASE_URL_ENV = "SEEDER_DATABASE_URL"


def database_url(option: str | None) -> str:
    """The URL given (--database-url), else $SEEDER_DATABASE_URL, else the default SQLite file."""
    return option or os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL
