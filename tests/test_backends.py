"""The backend seam: every database seeder serves is found by its URL scheme or dialect name,
and what is not served is a clear error, never a silent fallback."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

import seeder
from seeder.backends import BACKENDS, backend_for_url, backend_named
from seeder.errors import DatabaseURLError
from seeder.urls import parse_database_url


@pytest.mark.parametrize("url, dialect", [
    ("sqlite:///shop.db", "sqlite"),
    ("sqlite+pysqlite:///shop.db", "sqlite"),
    ("postgresql://u@h/shop", "postgresql"),
    ("postgres://u@h/shop", "postgresql"),
    ("postgresql+psycopg://u@h/shop", "postgresql"),
])
def test_urls_find_their_backend(url: str, dialect: str) -> None:
    parsed = parse_database_url(url)
    backend = backend_for_url(parsed)
    assert backend.name == dialect
    assert backend.driver_url(parsed).get_dialect().name == dialect


def test_every_registered_backend_names_its_dialect() -> None:
    for dialect in BACKENDS:
        assert backend_named(dialect).name == dialect


def test_an_unknown_dialect_is_refused_by_name() -> None:
    with pytest.raises(DatabaseURLError) as caught:
        backend_named("oracle")
    assert str(caught.value) == ("seeder does not support oracle databases; use one of: "
                                 + ", ".join(BACKENDS))


def test_an_engine_of_an_unknown_dialect_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine("sqlite://")
    monkeypatch.setattr(engine.dialect, "name", "oracle")
    with pytest.raises(DatabaseURLError, match="^seeder does not support oracle databases"):
        seeder.info(engine)


@pytest.mark.parametrize("dialect, error", [
    ("sqlite", sqlite3.OperationalError("")),
    ("postgresql", psycopg.OperationalError("")),
    ("sqlite", OperationalError("SELECT 1", None, sqlite3.OperationalError("  \n"))),
])
def test_an_empty_driver_message_still_gives_one_line(dialect: str, error: Exception) -> None:
    message = str(backend_named(dialect).error(error, "sqlite:///shop.db"))
    assert message == "cannot use sqlite:///shop.db: OperationalError"
