"""`populate --workers N`: shards loaded over N connections into staging tables, swapped in
at the end; the same rows as one connection, and the old dataset kept on any failure."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from support import (
    admin_connection,
    invoke,
    ok,
    one_line_error,
    reaped,
    seeder_process,
    staging_schemas,
)
from test_populate import _dump

import seeder

SEED = 8


@pytest.fixture(autouse=True)
def _no_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEEDER_DATABASE_URL", raising=False)


@pytest.fixture
def seeded(postgres_database_url: str) -> str:
    ok(invoke(postgres_database_url, "init-db"))
    ok(invoke(postgres_database_url, "populate", "--customers", "2000", "--seed", "3"))
    return postgres_database_url


def test_two_workers_write_the_rows_one_connection_writes(seeded: str,
                                                          tmp_path: Path) -> None:
    single = f"sqlite:///{tmp_path}/single.db"
    ok(invoke(single, "init-db"))
    ok(invoke(single, "populate", "--customers", "25000", "--seed", str(SEED)))
    result = ok(invoke(seeded, "populate", "--replace", "--workers", "2", "--customers",
                       "25000", "--seed", str(SEED)))
    assert "Wrote to" in result.output
    parallel, one = _dump(seeded), _dump(single)
    runs = parallel.pop("seed_runs"), one.pop("seed_runs")
    assert parallel == one
    assert runs[0][-1] == runs[1][0]  # the same row counts recorded
    assert staging_schemas(seeded) == []
    ok(invoke(seeded, "init-db"))  # not damaged: every key, index and comment is in place


def _wait_for_workers_loading(url: str, process: subprocess.Popen) -> list[int]:
    """The pids of the server sessions of the loading workers, once both are copying."""
    deadline = time.monotonic() + 90
    database = make_url(url).database
    while True:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the workers never started loading"
        with admin_connection() as admin:
            pids = [row[0] for row in admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND query LIKE 'COPY %%'",
                (database,))]
        if len(pids) >= 2:
            return pids
        time.sleep(0.05)


def _parallel_populate(url: str, cwd: Path) -> subprocess.Popen:
    return seeder_process("--database-url", url, "populate", "--replace", "--workers", "2",
                          "--customers", "400000", "--seed", "2", "--batch-size", "500",
                          cwd=cwd)


def test_sigterm_midway_keeps_the_old_dataset_and_no_staging(seeded: str,
                                                             tmp_path: Path) -> None:
    before = _dump(seeded)
    with reaped(_parallel_populate(seeded, tmp_path)) as process:
        _wait_for_workers_loading(seeded, process)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 143
    assert stderr.strip().splitlines()[-1] == (
        "seeder: error: interrupted; the transaction was rolled back and the database is "
        "unchanged")
    assert _dump(seeded) == before
    assert staging_schemas(seeded) == []


def test_a_killed_worker_connection_keeps_the_old_dataset_and_no_staging(
        seeded: str, tmp_path: Path) -> None:
    before = _dump(seeded)
    with reaped(_parallel_populate(seeded, tmp_path)) as process:
        worker = _wait_for_workers_loading(seeded, process)[0]
        with admin_connection() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (worker,))
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    error = stderr.strip().splitlines()[-1]
    assert error.startswith("seeder: error: cannot use postgresql://")
    assert "terminating connection due to administrator command" in error
    assert error.endswith("; nothing was written")
    assert _dump(seeded) == before
    assert staging_schemas(seeded) == []


def test_a_staging_schema_left_by_a_killed_populate_is_dropped_by_the_next(
        seeded: str, tmp_path: Path) -> None:
    with reaped(_parallel_populate(seeded, tmp_path)) as process:
        _wait_for_workers_loading(seeded, process)
        process.kill()  # kill -9: no chance to clean up
        process.wait()
    time.sleep(0.5)  # the server notices the closed connections
    assert len(staging_schemas(seeded)) == 1
    ok(invoke(seeded, "populate", "--replace", "--customers", "500", "--seed", "4"))
    assert staging_schemas(seeded) == []


@pytest.mark.parametrize("database_url, title", [("sqlite", "SQLite"),
                                                  ("mysql", "MySQL/MariaDB")],
                         indirect=["database_url"])
def test_other_databases_refuse_several_workers(database_url: str, title: str) -> None:
    ok(invoke(database_url, "init-db"))
    error = one_line_error(invoke(database_url, "populate", "--workers", "2", "--customers",
                                  "100", "--seed", "1"))
    assert error == ("seeder: error: loading over several connections is for PostgreSQL; load "
                     f"{title} databases with one worker")


def test_a_callers_connection_cannot_lend_itself_to_several_workers(seeded: str) -> None:
    engine = create_engine(seeded.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection, pytest.raises(seeder.InvalidArgument) as caught:
            seeder.populate(connection, customers=100, seed=1, replace=True, workers=2)
    finally:
        engine.dispose()
    assert str(caught.value) == ("a load over several connections needs connections of its "
                                 "own: pass a URL or an Engine, not a Connection")
