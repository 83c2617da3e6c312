"""Other sessions during a populate: readers, lock holders, and what each side is told.

PostgreSQL: the populate loads staging tables and swaps them in at the end, so readers keep
seeing the old dataset and are held up only by the swap; a session that holds a lock on a
seeder table delays the swap a bounded time and is named. SQLite: one writer at a time; a
reader that finds the file locked is told a populate is writing.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from support import (
    admin_connection,
    invoke,
    ok,
    one_line_error,
    scoped_engine,
    seeder_process,
    staging_schemas,
)

from seeder.backends import postgresql

SEED = 5


@pytest.fixture(autouse=True)
def _no_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEEDER_DATABASE_URL", raising=False)


def _customers(url: str) -> int:
    with scoped_engine(url) as engine:
        with engine.connect() as connection:
            return connection.scalar(text("SELECT count(*) FROM customers"))


@pytest.fixture
def seeded_postgres(postgres_database_url: str) -> str:
    """A PostgreSQL database holding 1,000 customers."""
    ok(invoke(postgres_database_url, "init-db"))
    ok(invoke(postgres_database_url, "populate", "--customers", "1000", "--seed", str(SEED)))
    return postgres_database_url


def _populate_lock_taken(url: str) -> bool:
    with admin_connection() as admin:
        return bool(admin.execute(
            "SELECT count(*) FROM pg_locks JOIN pg_database d ON d.oid = pg_locks.database "
            "WHERE locktype = 'advisory' AND granted AND d.datname = %s",
            (make_url(url).database,),
        ).fetchone()[0])


@contextlib.contextmanager
def _populate_running(url: str, cwd: Path, customers: int) -> Iterator[subprocess.Popen]:
    process = seeder_process("--database-url", url, "populate", "--replace", "--customers",
                             str(customers), "--seed", "6", cwd=cwd)
    try:
        deadline = time.monotonic() + 60
        while not _populate_lock_taken(url):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "populate never started"
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.wait(timeout=300)


def test_readers_see_the_old_dataset_while_a_populate_runs(seeded_postgres: str,
                                                           tmp_path: Path) -> None:
    url = seeded_postgres
    with _populate_running(url, tmp_path, 150_000) as process:
        time.sleep(1)  # into the load
        started = time.monotonic()
        info = ok(invoke(url, "info", "--json"))
        waited = time.monotonic() - started
        assert process.poll() is None, "the populate ended before the reader could read"
        assert '"customers": 1000,' in info.stdout
        assert _customers(url) == 1000
    assert process.returncode == 0, process.stderr
    assert waited < postgresql.LOCK_TIMEOUT_SECONDS
    assert _customers(url) == 150_000
    assert staging_schemas(url) == []


def test_the_swap_waits_for_a_lock_holder_and_names_it(
        seeded_postgres: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = seeded_postgres
    monkeypatch.setattr(postgresql, "SWAP_ATTEMPT_SECONDS", 1)
    monkeypatch.setattr(postgresql, "SWAP_WAIT_SECONDS", 2)
    with psycopg.connect(url, application_name="a learner's psql") as reader:
        reader.execute("SELECT count(*) FROM customers")  # ACCESS SHARE, idle in transaction
        pid = reader.info.backend_pid
        error = one_line_error(invoke(url, "populate", "--replace", "--customers", "500",
                                      "--seed", "9"))
        reader.rollback()
    assert (f"held by session {pid} (postgres, a learner's psql, idle in transaction, "
            "holding AccessShareLock on customers)") in error
    assert "nothing was written" in error
    assert _customers(url) == 1000
    assert staging_schemas(url) == []


def test_a_lock_holder_that_lets_go_in_time_only_delays_the_swap(
        seeded_postgres: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = seeded_postgres
    monkeypatch.setattr(postgresql, "SWAP_ATTEMPT_SECONDS", 1)
    reader = psycopg.connect(url)
    reader.execute("SELECT count(*) FROM customers")
    lets_go = threading.Timer(2, reader.rollback)
    lets_go.start()
    try:
        ok(invoke(url, "populate", "--replace", "--customers", "500", "--seed", "9"))
    finally:
        lets_go.join()
        reader.close()
    assert _customers(url) == 500


def test_info_waits_a_bounded_time_and_says_why(seeded_postgres: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    url = seeded_postgres
    monkeypatch.setattr(postgresql, "LOCK_TIMEOUT_SECONDS", 1)
    with psycopg.connect(url, application_name="an ALTER in psql") as schema_change:
        schema_change.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
        pid = schema_change.info.backend_pid
        started = time.monotonic()
        error = one_line_error(invoke(url, "info"))
        assert time.monotonic() - started < 10
        schema_change.rollback()
    assert (f"waited 1 s for a lock on a seeder table held by session {pid} (postgres, an "
            "ALTER in psql, idle in transaction, holding AccessExclusiveLock on customers); "
            "try again when it is done") in error


def test_info_says_when_a_populate_holds_the_lock(seeded_postgres: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    url = seeded_postgres
    monkeypatch.setattr(postgresql, "LOCK_TIMEOUT_SECONDS", 1)
    with psycopg.connect(url) as populate:  # what a populate holds while it swaps
        populate.execute("SELECT pg_advisory_xact_lock(%s)", (postgresql.POPULATE_LOCK_KEY,))
        populate.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
        error = one_line_error(invoke(url, "info"))
        populate.rollback()
    assert "(a populate is running); try again when it is done" in error


def test_views_over_the_tables_survive_the_swap(seeded_postgres: str) -> None:
    url = seeded_postgres
    with scoped_engine(url) as engine:
        with engine.begin() as connection:
            connection.execute(text(
                "CREATE VIEW busy_customers AS SELECT customer_id, count(*) AS visits "
                "FROM transaction_list GROUP BY customer_id HAVING count(*) > 1"))
            connection.execute(text("COMMENT ON VIEW busy_customers IS 'mine'"))
        ok(invoke(url, "populate", "--replace", "--customers", "800", "--seed", "2"))
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM customer_list")) == 800
            assert connection.scalar(text("SELECT count(*) FROM busy_customers")) > 0
            assert connection.scalar(text(
                "SELECT obj_description('busy_customers'::regclass, 'pg_class')")) == "mine"


def test_sqlite_readers_are_told_a_populate_is_writing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shop.db"
    ok(invoke(url, "init-db"))
    ok(invoke(url, "populate", "--customers", "300", "--seed", "1"))
    writer = sqlite3.connect(tmp_path / "shop.db", isolation_level=None)
    try:
        writer.execute("BEGIN EXCLUSIVE")  # what a populate holds once its cache spills
        error = one_line_error(invoke(url + "?timeout=0.2", "info"))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert "database is locked" in error
    assert "a populate or another writer is writing to it" in error
