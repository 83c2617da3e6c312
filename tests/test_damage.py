"""Damaged schemas and schema commands run at the same time as others.

A user who dropped an index by hand or emptied alembic_version is told what is damaged and
pointed to `seeder reset-db --yes`, which rebuilds whatever is there. init-db, reset-db and
populate take one lock, so they never interleave.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.schema import DropIndex
from support import invoke, ok, one_line_error, scoped_engine, seeder_process

from seeder import schema
from seeder.backends import postgresql
from seeder.models import Customer


@pytest.fixture(autouse=True)
def _no_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEEDER_DATABASE_URL", raising=False)


def _execute(url: str, statement: str | DropIndex) -> None:
    """Run SQL text, or DDL that each dialect words its own way (MySQL's DROP INDEX ... ON)."""
    with scoped_engine(url) as engine:
        with engine.begin() as connection:
            connection.execute(text(statement) if isinstance(statement, str) else statement)


def _damage(url: str) -> list[str]:
    with scoped_engine(url) as engine:
        with engine.connect() as connection:
            return schema.damage(connection)


@pytest.fixture
def seeded_url(database_url: str) -> str:
    ok(invoke(database_url, "init-db"))
    ok(invoke(database_url, "populate", "--customers", "500", "--seed", "1"))
    return database_url


def test_a_dropped_index_is_named_and_reset_db_rebuilds(seeded_url: str) -> None:
    url = seeded_url
    # Not an index a foreign key needs: MySQL would refuse to drop that one.
    _execute(url, DropIndex(next(index for index in Customer.__table__.indexes
                                 if index.name == "uq_customers_email")))
    assert _damage(url) == ["index uq_customers_email is missing"]
    for args in (("init-db",), ("populate", "--replace", "--customers", "100", "--seed", "2")):
        error = one_line_error(invoke(url, *args))
        assert "damaged: index uq_customers_email is missing; run `seeder reset-db " \
               "--yes` to rebuild it (this deletes the data)" in error, args
    ok(invoke(url, "reset-db", "--yes"))
    assert _damage(url) == []
    ok(invoke(url, "populate", "--customers", "100", "--seed", "2"))


def test_a_dropped_view_is_named(seeded_url: str) -> None:
    _execute(seeded_url, "DROP VIEW transaction_list")
    error = one_line_error(invoke(seeded_url, "init-db"))
    assert "damaged: view transaction_list is missing" in error
    ok(invoke(seeded_url, "reset-db", "--yes"))
    assert _damage(seeded_url) == []


def test_an_emptied_version_table_is_named_and_reset_db_rebuilds(seeded_url: str) -> None:
    url = seeded_url
    _execute(url, "DELETE FROM alembic_version")
    for args in (("init-db",), ("populate", "--customers", "100", "--seed", "2")):
        error = one_line_error(invoke(url, *args))
        assert "holds seeder's customers, cars, services, transactions, referral_links, " \
               "seed_runs, transaction_list, customer_list, alembic_version but no schema " \
               "revision; run `seeder reset-db --yes`" in error, args
    ok(invoke(url, "reset-db", "--yes"))
    ok(invoke(url, "populate", "--customers", "100", "--seed", "2"))


def test_init_db_does_not_count_users_own_indexes_as_damage(seeded_url: str) -> None:
    _execute(seeded_url, "CREATE INDEX my_index ON customers (last_name)")
    assert "nothing to do" in ok(invoke(seeded_url, "init-db")).stdout


def test_two_init_db_at_once_upgrade_once(database_url: str, tmp_path: Path) -> None:
    runs = [seeder_process("--database-url", database_url, "init-db", cwd=tmp_path)
            for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    said = sorted("upgraded" if "upgraded from empty" in out else
                  "nothing to do" if "already at revision" in out else out
                  for out, _ in outputs)
    assert said == ["nothing to do", "upgraded"]
    assert _damage(database_url) == []


def test_reset_db_during_a_populate_waits_then_says_why(
        postgres_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_database_url
    ok(invoke(url, "init-db"))
    populate = seeder_process("--database-url", url, "populate", "--customers", "150000",
                              "--seed", "3", cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while "seeder_load_" not in _held_advisory_lock_owner(url):
            assert populate.poll() is None, populate.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        monkeypatch.setattr(postgresql, "LOCK_TIMEOUT_SECONDS", 1)
        error = one_line_error(invoke(url, "reset-db", "--yes"))
        assert populate.poll() is None, "the populate ended before reset-db could meet it"
    finally:
        stdout, stderr = populate.communicate(timeout=300)
    assert "another seeder populate or schema change is running on" in error
    assert populate.returncode == 0, stderr
    assert "Wrote to" in stdout


def _held_advisory_lock_owner(url: str) -> str:
    """What the session holding seeder's advisory lock is running ('' when none holds it)."""
    with scoped_engine(url) as engine:
        with engine.connect() as connection:
            return connection.scalar(text(
                "SELECT coalesce(max(a.query), '') FROM pg_locks AS l "
                "JOIN pg_stat_activity AS a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()"))
