"""Shared fixtures: every database test runs on a fresh SQLite file, a fresh PostgreSQL database
and a fresh MariaDB database.

The databases come from support.new_database, on the servers its admin URLs name. When a server
cannot be reached its cases are skipped, except under CI=true, where they fail: CI must test
every backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from support import BACKENDS, new_database, scoped_engine

from seeder import schema


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: builds and installs the package in a fresh venv (about a minute)"
    )


@pytest.fixture
def postgres_database_url(tmp_path: Path) -> Iterator[str]:
    """A new empty PostgreSQL database for one test, dropped afterwards."""
    with new_database("postgresql", tmp_path) as url:
        yield url


@pytest.fixture
def mysql_database_url(tmp_path: Path) -> Iterator[str]:
    """A new empty MariaDB (or MySQL) database for one test, dropped afterwards."""
    with new_database("mysql", tmp_path) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL as a user would write it, on each backend."""
    with new_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def backend(database_url: str) -> str:
    """'sqlite', 'postgresql' or 'mysql', matching database_url."""
    return make_url(database_url).get_backend_name()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    with scoped_engine(database_url) as engine:
        yield engine


@pytest.fixture
def migrated_engine(engine: Engine) -> Engine:
    """The engine, with the schema upgraded to head."""
    with engine.begin() as conn:
        schema.upgrade(conn)
    return engine
