"""`seeder populate`: what it writes, determinism, and all-or-nothing behaviour.

Every database test runs on SQLite, PostgreSQL and MariaDB (see conftest.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pymysql
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import Result
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from support import (
    BACKENDS,
    admin_connection,
    invoke,
    mysql_admin_connection,
    new_database,
    ok,
    one_line_error,
    seeder_engine,
)

import seeder
from seeder import __version__, generator, schema
from seeder.backends import backend_named
from seeder.backends.postgresql import POPULATE_LOCK_KEY
from seeder.generator import GENERATOR_VERSION
from seeder.models import DATA_TABLES, Base, SeedRun
from seeder.progress import INDEXING
from seeder.scenario import load_scenario

ALL_TABLES = [*DATA_TABLES, SeedRun.__table__]
TABLE_NAMES = [table.name for table in ALL_TABLES]
VIEWS = ["customer_list", "transaction_list"]
SEED = 20240101
CUSTOMERS = 5000


# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEEDER_DATABASE_URL", raising=False)


def _engine(url: str) -> Engine:
    return seeder_engine(url)


@contextlib.contextmanager
def _connected(url: str) -> Iterator[Any]:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _counts(url: str) -> dict[str, int]:
    with _connected(url) as conn:
        return {t.name: conn.scalar(select(func.count()).select_from(t)) for t in ALL_TABLES}


def _plain(value: Any) -> Any:
    """A value as both backends can agree on it."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)  # SQLite's views give 1/0 where PostgreSQL gives true/false
    return value


def _dump(url: str) -> dict[str, list[tuple]]:
    """Every data table ordered by id, the views, and seed_runs' reproducible columns."""
    dump: dict[str, list[tuple]] = {}
    with _connected(url) as conn:
        for table in DATA_TABLES:
            rows = conn.execute(select(table).order_by(table.c.id))
            dump[table.name] = [tuple(map(_plain, row)) for row in rows]
        for view in VIEWS:
            rows = [tuple(map(_plain, row)) for row in conn.execute(text(f"SELECT * FROM {view}"))]
            dump[view] = sorted(rows, key=lambda row: tuple(map(str, row)))
        runs = SeedRun.__table__.c
        dump["seed_runs"] = [
            (row.seed, row.customers, row.generator_version, json.dumps(row.scenario),
             json.dumps(row.row_counts, sort_keys=True))
            for row in conn.execute(select(runs.seed, runs.customers, runs.generator_version,
                                           runs.scenario, runs.row_counts).order_by(runs.id))
        ]
    return dump


def _schema_snapshot(url: str) -> dict[str, Any]:
    """Every table's keys, indexes and constraints, and the views, as the database reports."""
    snapshot: dict[str, Any] = {}
    with _connected(url) as conn:
        inspector = inspect(conn)
        for name in TABLE_NAMES:
            pk = inspector.get_pk_constraint(name)
            snapshot[name] = {
                "pk": (pk["name"], tuple(pk["constrained_columns"])),
                "indexes": sorted((_model_name(ix["name"]), tuple(ix["column_names"]),
                                   bool(ix["unique"])) for ix in inspector.get_indexes(name)),
                "foreign_keys": sorted(
                    (_model_name(fk["name"]), tuple(fk["constrained_columns"]),
                     fk["referred_table"],
                     tuple(fk["referred_columns"])) for fk in inspector.get_foreign_keys(name)),
                "checks": sorted(ck["name"] for ck in inspector.get_check_constraints(name)),
            }
        snapshot["views"] = sorted(inspector.get_view_names())
    return snapshot


def _index_names(url: str) -> set[str]:
    with _connected(url) as conn:
        inspector = inspect(conn)
        return {_model_name(ix["name"]) for name in TABLE_NAMES
                for ix in inspector.get_indexes(name)}


def _model_name(name: str) -> str:
    """A key's or index's name as the models give it: on MySQL foreign key names alternate
    between populates (seeder.backends.mysql), and so do the indexes MySQL names after them."""
    return name.removesuffix("_2") if name.startswith("fk_") else name


def _assert_schema_matches_models(url: str) -> None:
    """What `alembic check` does: the database's schema is the models', nothing missing."""
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
            command.check(schema.alembic_config(conn))  # raises on any difference
            assert schema.current_revision(conn) == schema.HEAD_REVISION
    finally:
        engine.dispose()


def _summary_counts(output: str) -> dict[str, int]:
    """The `  table   1,234 rows` lines of a populate or dry-run summary."""
    counts = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in TABLE_NAMES and parts[2] == "rows":
            counts[parts[0]] = int(parts[1].replace(",", ""))
    return counts


def _populate(url: str, customers: int = 2000, seed: int = SEED, *extra: str) -> Result:
    return invoke(url, "populate", "--customers", str(customers), "--seed", str(seed), *extra)


@pytest.fixture
def initialised_url(database_url: str) -> str:
    ok(invoke(database_url, "init-db"))
    return database_url


# --- one populate, inspected from every side --------------------------------------------------


@dataclasses.dataclass
class Populated:
    url: str
    result: Result
    indexes_before: set[str]
    schema_before: dict[str, Any]
    counts: dict[str, int]


@pytest.fixture(scope="module", params=BACKENDS)
def populated(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Populated]:
    """5,000 customers written once per backend; the tests using it only read."""
    with new_database(request.param, tmp_path_factory.mktemp("populated")) as url:
        ok(invoke(url, "init-db"))
        indexes_before, schema_before = _index_names(url), _schema_snapshot(url)
        result = ok(_populate(url, CUSTOMERS))
        yield Populated(url, result, indexes_before, schema_before, _counts(url))


def test_counts_match_seed_run(populated: Populated) -> None:
    counts = populated.counts
    assert counts["customers"] == CUSTOMERS
    assert counts["cars"] == CUSTOMERS
    assert counts["services"] > 0
    assert counts["transactions"] >= CUSTOMERS  # a first visit each, then revisits
    assert counts["referral_links"] > 0
    assert counts["seed_runs"] == 1
    data_counts = {name: rows for name, rows in counts.items() if name != "seed_runs"}
    assert _summary_counts(populated.result.stdout) == data_counts

    with _connected(populated.url) as conn:
        run = conn.execute(select(SeedRun.__table__)).one()
    assert run.row_counts == data_counts
    assert run.seed == SEED
    assert run.customers == CUSTOMERS
    assert run.generator_version == GENERATOR_VERSION
    assert run.seeder_version == __version__
    assert run.numpy_version == np.__version__  # NumPy's streams are part of the data
    assert run.scenario == json.loads(json.dumps(load_scenario(None).to_dict()))
    assert run.started_at is not None and run.finished_at is not None
    assert run.started_at <= run.finished_at


def test_every_foreign_key_resolves(populated: Populated) -> None:
    checked = 0
    with _connected(populated.url) as conn:
        for table in DATA_TABLES:
            for fk in table.foreign_keys:
                parent = fk.column.table.alias("parent")
                column = parent.c[fk.column.name]
                orphans = conn.scalar(
                    select(func.count())
                    .select_from(table.outerjoin(parent, fk.parent == column))
                    .where(column.is_(None))
                )
                assert orphans == 0, f"{table.name}.{fk.parent.name} -> {fk.target_fullname}"
                checked += 1
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    assert checked == 8


def test_schema_is_as_migrated_after_populate(populated: Populated) -> None:
    """The writer rebuilt every index, key and constraint it set aside during the load."""
    assert _index_names(populated.url) == populated.indexes_before
    assert {"ix_transactions_customer_id", "ix_transactions_transaction_date",
            "ix_transactions_service_id", "uq_customers_uuid"} <= populated.indexes_before
    assert _schema_snapshot(populated.url) == populated.schema_before
    _assert_schema_matches_models(populated.url)


def test_the_planner_has_statistics_after_a_populate(populated: Populated) -> None:
    """ANALYZE ran inside the populate: where autovacuum is off, nothing else would run it."""
    statistics = {  # both filled by ANALYZE alone
        "sqlite": "SELECT DISTINCT tbl FROM sqlite_stat1",
        "postgresql": "SELECT DISTINCT tablename FROM pg_stats "
                      "WHERE schemaname = current_schema()",
        # InnoDB also refreshes these in the background, so this alone cannot show that
        # ANALYZE TABLE ran: tests/test_mysql.py checks the statement itself.
        "mysql": "SELECT table_name FROM mysql.innodb_table_stats "
                 "WHERE database_name = DATABASE() AND n_rows > 0",
    }
    with _connected(populated.url) as conn:
        analysed = set(conn.scalars(text(statistics[conn.dialect.name])))
    assert {table.name for table in DATA_TABLES} <= analysed


def test_views_return_the_data(populated: Populated) -> None:
    with _connected(populated.url) as conn:
        def count(query: str) -> int:
            return conn.scalar(text(query))

        assert count("SELECT count(*) FROM customer_list") == populated.counts["customers"]
        assert count("SELECT count(*) FROM transaction_list") == populated.counts["transactions"]
        links = populated.counts["referral_links"]
        assert count("SELECT count(*) FROM customer_list WHERE recommended_someone") == links
        assert count("SELECT count(*) FROM customer_list WHERE is_recommended") == links
        assert count("SELECT count(DISTINCT referrer_id) FROM referral_links") == links
        assert count("SELECT count(*) FROM transaction_list WHERE is_recommended") > 0


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_gives_identical_rows_on_every_backend(
    tmp_path: Path, postgres_database_url: str, mysql_database_url: str
) -> None:
    sqlite_url = f"sqlite:///{tmp_path}/same.db"
    urls = (sqlite_url, postgres_database_url, mysql_database_url)
    for url in urls:
        ok(invoke(url, "init-db"))
        ok(_populate(url, CUSTOMERS, 7))
    sqlite_rows = _dump(sqlite_url)
    assert len(sqlite_rows["customers"]) == CUSTOMERS
    for url in urls[1:]:
        rows = _dump(url)
        for name in sqlite_rows:
            assert rows[name] == sqlite_rows[name], (make_url(url).get_backend_name(), name)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_batch_size_does_not_change_the_rows(backend_name: str, tmp_path: Path) -> None:
    dumps = []
    for batch_size in (1000, 4096):
        directory = tmp_path / str(batch_size)
        directory.mkdir()
        with new_database(backend_name, directory) as url:
            ok(invoke(url, "init-db"))
            ok(_populate(url, CUSTOMERS, 11, "--batch-size", str(batch_size)))
            dumps.append(_dump(url))
    assert len(dumps[0]["transactions"]) > 4096
    assert dumps[0] == dumps[1]


# --- existing data ----------------------------------------------------------------------------


def test_replace_twice_leaves_exactly_one_dataset(initialised_url: str) -> None:
    url = initialised_url
    ok(_populate(url, 1500, 3, "--replace"))  # --replace on an empty database is fine
    single = _dump(url)
    single_counts = _counts(url)
    ok(_populate(url, 700, 4, "--replace"))
    assert _counts(url)["customers"] == 700
    ok(_populate(url, 1500, 3, "--replace"))
    after = _dump(url)
    # seed_runs is the log of populates: one row each, the replaced ones included.
    assert [run[:2] for run in after.pop("seed_runs")] == [(3, 1500), (4, 700), (3, 1500)]
    single.pop("seed_runs")
    assert after == single
    assert _counts(url) == {**single_counts, "seed_runs": 3}
    _assert_schema_matches_models(url)


def test_second_populate_without_replace_is_refused(initialised_url: str) -> None:
    url = initialised_url
    ok(_populate(url, 1000, 1))
    before = _dump(url)
    error = one_line_error(_populate(url, 500, 2))
    assert "--replace" in error
    assert _dump(url) == before


def test_uninitialised_database_says_run_init_db(database_url: str, backend: str) -> None:
    if backend == "sqlite":
        sqlite3.connect(make_url(database_url).database).close()  # an empty database file
    error = one_line_error(_populate(database_url, 100, 1))
    assert "seeder init-db" in error
    with _connected(database_url) as conn:
        assert inspect(conn).get_table_names() == []


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    error = one_line_error(_populate(f"sqlite:///{path}", 100, 1))
    assert "seeder init-db" in error
    assert not path.exists()


# --- all or nothing ---------------------------------------------------------------------------


def _failing_writer_after(monkeypatch: pytest.MonkeyPatch, backend: str, batches: int,
                          error: BaseException) -> list[int]:
    """Make the backend's loader raise `error` on the write after `batches` successful ones."""
    written = [0]
    backend_class = type(backend_named(backend))
    real_loader = backend_class.loader

    def loader(self, connection):
        real = real_loader(self, connection)
        real_write = real.write

        def write(*args):
            if written[0] == batches:
                raise error
            real_write(*args)
            written[0] += 1

        real.write = write
        return real

    monkeypatch.setattr(backend_class, "loader", loader)
    return written


FAILURES = {
    # What SQLAlchemy raises for a statement it runs (the lock, the schema check, DDL).
    "database-error": lambda backend: OperationalError("INSERT", None,
                                                       Exception("disk I/O error")),
    # What the driver itself raises from the writers' COPY / executemany: a full disk.
    "driver-error": lambda backend: {
        "sqlite": lambda: sqlite3.OperationalError("database or disk is full"),
        "postgresql": lambda: psycopg.errors.DiskFull(
            "could not extend file: No space left on device"),
        "mysql": lambda: pymysql.err.OperationalError(1021, "Disk full (/tmp/#sql); waiting "
                                                            "for someone to free some space..."),
    }[backend](),
    "ctrl-c": lambda backend: KeyboardInterrupt(),
}


@pytest.mark.parametrize("failure", FAILURES)
def test_failure_midway_leaves_database_as_before(
    initialised_url: str, backend: str, failure: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = initialised_url
    schema_before = _schema_snapshot(url)
    written = _failing_writer_after(monkeypatch, backend, 3, FAILURES[failure](backend))
    error = one_line_error(_populate(url, CUSTOMERS, 1, "--batch-size", "500"))
    assert written[0] == 3  # it failed midway, not before writing
    assert "nothing was written" in error or "rolled back" in error
    assert _counts(url) == dict.fromkeys(TABLE_NAMES, 0)
    assert _schema_snapshot(url) == schema_before
    _assert_schema_matches_models(url)


@pytest.mark.parametrize("failure", FAILURES)
def test_failed_replace_keeps_the_old_dataset(
    initialised_url: str, backend: str, failure: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = initialised_url
    ok(_populate(url, 1000, 1))
    before, schema_before = _dump(url), _schema_snapshot(url)
    written = _failing_writer_after(monkeypatch, backend, 3, FAILURES[failure](backend))
    error = one_line_error(_populate(url, 2000, 2, "--replace", "--batch-size", "500"))
    assert written[0] == 3
    assert "nothing was written" in error or "rolled back" in error
    assert _dump(url) == before
    assert _schema_snapshot(url) == schema_before
    _assert_schema_matches_models(url)


def test_failure_while_rebuilding_keys_leaves_the_old_dataset(
    initialised_url: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = initialised_url
    ok(_populate(url, 1000, 1))
    before, schema_before = _dump(url), _schema_snapshot(url)
    backend_class = type(backend_named(backend))
    real_loader = backend_class.loader
    steps = []

    def loader(self, connection):
        real = real_loader(self, connection)
        real_finish = real.finish

        def finish(progress):
            def failing(phase: str, done: int, total: int) -> None:
                steps.append((phase, done))
                if phase == INDEXING and done == 3:
                    raise FAILURES["driver-error"](backend)
                progress(phase, done, total)

            real_finish(failing)

        real.finish = finish
        return real

    monkeypatch.setattr(backend_class, "loader", loader)
    error = one_line_error(_populate(url, 2000, 2, "--replace"))
    assert steps[-1] == (INDEXING, 3)  # it failed midway through the rebuild
    assert error.endswith("; nothing was written")
    assert _dump(url) == before
    assert _schema_snapshot(url) == schema_before


def test_an_error_in_the_generator_thread_reaches_the_caller(
    initialised_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_block_rows = generator.block_rows

    def block_rows(catalog, seed, dataset, block):
        if block == 1:
            raise RuntimeError("a bug in block 1")
        return real_block_rows(catalog, seed, dataset, block)

    monkeypatch.setattr(generator, "block_rows", block_rows)
    threads = threading.active_count()
    with pytest.raises(RuntimeError, match="^a bug in block 1$"):
        seeder.populate(initialised_url, customers=25_000, seed=1)
    assert threading.active_count() == threads
    assert _counts(initialised_url) == dict.fromkeys(TABLE_NAMES, 0)


def _writing_has_begun(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return Path(f"{parsed.database}-journal").exists()
    if parsed.get_backend_name() == "mysql":
        with mysql_admin_connection() as admin, admin.cursor() as cursor:
            cursor.execute("SELECT IS_USED_LOCK(%s)", (f"seeder:{parsed.database}",))
            return cursor.fetchone()[0] is not None
    with admin_connection() as admin:
        return bool(admin.execute(
            "SELECT count(*) FROM pg_locks JOIN pg_database d ON d.oid = pg_locks.database "
            "WHERE locktype = 'advisory' AND granted AND d.datname = %s",
            (parsed.database,),
        ).fetchone()[0])


# Several moments, and small batches (many COPY / executemany calls), so that the signal is
# likely to land inside a driver call, not only between batches.
@pytest.mark.parametrize("delay", [0.2, 0.5, 0.9])
def test_sigterm_midway_rolls_back(initialised_url: str, tmp_path: Path, delay: float) -> None:
    url = initialised_url
    schema_before = _schema_snapshot(url)
    env = {key: value for key, value in os.environ.items() if key != "SEEDER_DATABASE_URL"}
    process = subprocess.Popen(
        [sys.executable, "-m", "seeder", "--database-url", url,
         "populate", "--customers", "200000", "--seed", "1", "--batch-size", "100"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not _writing_has_begun(url):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "populate never started writing"
            time.sleep(0.05)
        time.sleep(delay)  # into the load
        assert process.poll() is None, "populate finished before it could be interrupted"
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 143  # 128 + SIGTERM, as shells expect
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("seeder: error:")
    assert "rolled back" in lines[0] or "unchanged" in lines[0]
    assert _counts(url) == dict.fromkeys(TABLE_NAMES, 0)
    assert _schema_snapshot(url) == schema_before
    _assert_schema_matches_models(url)
    if make_url(url).get_backend_name() == "sqlite":
        with _connected(url) as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


# --- two populates at once --------------------------------------------------------------------


@contextlib.contextmanager
def _populate_lock_held(url: str) -> Iterator[None]:
    """Hold, from another connection, what a running populate holds."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        other = sqlite3.connect(parsed.database, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            yield
            other.execute("ROLLBACK")
        finally:
            other.close()
        return
    if parsed.get_backend_name() == "mysql":
        with mysql_admin_connection() as other, other.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 0)", (f"seeder:{parsed.database}",))
            yield
        return
    with psycopg.connect(url, connect_timeout=5) as other:  # not autocommit: a transaction
        other.execute("SELECT pg_advisory_xact_lock(%s)", (POPULATE_LOCK_KEY,))
        yield
        other.rollback()


def test_concurrent_populate_stops_with_clear_message(initialised_url: str) -> None:
    url = initialised_url
    with _populate_lock_held(url):
        started = time.monotonic()
        result = _populate(url, 1000, 1)
        elapsed = time.monotonic() - started
    error = one_line_error(result)
    assert result.exit_code == 1
    assert elapsed < 10
    expected = {"sqlite": "database is locked (a populate or another writer is writing to it",
                "postgresql": "another seeder populate or schema change is running on",
                "mysql": "another seeder populate or schema change is running on"}
    assert expected[make_url(url).get_backend_name()] in error
    assert _counts(url) == dict.fromkeys(TABLE_NAMES, 0)
    ok(_populate(url, 200, 1))  # once the other one is done, populate proceeds
    assert _counts(url)["customers"] == 200


# --- dry run ----------------------------------------------------------------------------------


def test_dry_run_prints_counts_and_writes_nothing(initialised_url: str) -> None:
    url = initialised_url
    dry = ok(_populate(url, 1000, 5, "--dry-run"))
    would = _summary_counts(dry.stdout)
    assert set(would) == {table.name for table in DATA_TABLES}
    assert would["customers"] == 1000
    assert "nothing was written" in dry.stdout
    assert _counts(url) == dict.fromkeys(TABLE_NAMES, 0)
    real = ok(_populate(url, 1000, 5))
    assert _summary_counts(real.stdout) == would


@pytest.mark.parametrize("url_template", [
    "sqlite:///{tmp_path}/nothing-here.db",
    "postgresql://postgres@127.0.0.1:1/nothing_here",
])
def test_dry_run_needs_no_database(url_template: str, tmp_path: Path) -> None:
    url = url_template.format(tmp_path=tmp_path)
    result = ok(_populate(url, 300, 5, "--dry-run"))
    assert _summary_counts(result.stdout)["customers"] == 300
    assert list(tmp_path.iterdir()) == []
