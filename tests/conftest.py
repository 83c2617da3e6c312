"""Shared fixtures: every database test runs on a fresh SQLite file and a fresh PostgreSQL database.

PostgreSQL is reached through an admin URL (default: the local trust-auth server, override with
$SEEDER_TEST_POSTGRES_URL). When it cannot be reached the PostgreSQL cases are skipped, except
under CI=true, where they fail: CI must test both backends.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from seeder import schema
from seeder.config import create_seeder_engine, resolve_database_url

# The server the PostgreSQL cases create their throwaway databases on (any existing database
# works as the admin one; the user needs CREATEDB).
POSTGRES_ADMIN_URL = os.environ.get(
    "SEEDER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: builds and installs the package in a fresh venv (about a minute)"
    )


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _admin_connection() -> psycopg.Connection:
    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())
    shown = make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)
    message = (
        f"PostgreSQL is not reachable at {shown} ({reason}); "
        "start it or point SEEDER_TEST_POSTGRES_URL at a server"
    )
    if _in_ci():
        pytest.fail(f"CI=true requires PostgreSQL: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def postgres_database_url() -> Iterator[str]:
    """A new empty PostgreSQL database for one test, dropped afterwards."""
    name = f"seeder_test_{uuid.uuid4().hex[:12]}"
    with _admin_connection() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin_connection() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A fresh, empty database URL as a user would write it, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/test.db"
    return request.getfixturevalue("postgres_database_url")


@pytest.fixture
def backend(database_url: str) -> str:
    """'sqlite' or 'postgresql', matching database_url."""
    return make_url(database_url).get_backend_name()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_seeder_engine(resolve_database_url(database_url))
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def migrated_engine(engine: Engine) -> Engine:
    """The engine, with the schema upgraded to head."""
    with engine.begin() as conn:
        schema.upgrade(conn)
    return engine
