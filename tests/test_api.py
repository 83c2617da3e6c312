"""The Python API: what `import seeder` offers, on every kind of target, from any thread.

Every database case runs on SQLite and on PostgreSQL (see conftest.py).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.pool import StaticPool
from support import BACKENDS, invoke, one_line_error

import seeder
from seeder import schema
from seeder.models import DATA_TABLES, Customer

CUSTOMERS = 700


def _customers(connection) -> int:
    return connection.scalar(select(func.count()).select_from(Customer))


def test_the_public_api_is_exported_and_typed() -> None:
    for name in seeder.__all__:
        assert getattr(seeder, name) is not None, name
    assert {"init_db", "populate", "generate", "export", "info", "reset_db", "Scenario",
            "load_scenario", "SeederError", "Batch", "Cancellation"} <= set(seeder.__all__)
    assert (Path(seeder.__file__).parent / "py.typed").exists()


def test_generate_yields_batches_of_numpy_columns_in_table_order() -> None:
    order = [table.name for table in DATA_TABLES]
    seen = []
    for batch in seeder.generate(customers=300, seed=1):
        assert isinstance(batch, seeder.Batch)
        assert list(batch.columns) == [c.name for c in DATA_TABLES[order.index(batch.table)].c]
        assert all(isinstance(column, np.ndarray) for column in batch.columns.values())
        seen.append(batch.table)
    assert seen[0] == "services"
    assert set(seen) == set(order)


def test_sizes_and_seeds_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        seeder.generate(300, 1)  # type: ignore[misc]
    with pytest.raises(TypeError):
        seeder.populate("sqlite://", 300, 1)  # type: ignore[misc]


def test_in_memory_sqlite_through_an_engine() -> None:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    change = seeder.init_db(engine)
    assert (change.before, change.after) == (None, schema.HEAD_REVISION)
    summary = seeder.populate(engine, customers=CUSTOMERS, seed=3)
    assert summary.row_counts["customers"] == CUSTOMERS
    with engine.connect() as connection:
        assert _customers(connection) == CUSTOMERS
    assert seeder.info(engine)["row_counts"]["customers"] == CUSTOMERS


# MySQL commits DDL at once: seeder refuses a caller's Connection there (tests/test_mysql.py).
TRANSACTIONAL = [name for name in BACKENDS if name != "mysql"]


@pytest.mark.parametrize("database_url", TRANSACTIONAL, indirect=True)
def test_a_callers_transaction_is_used_and_not_committed(database_url: str) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            seeder.init_db(connection)
            summary = seeder.populate(connection, customers=CUSTOMERS, seed=4)
            assert summary.row_counts["customers"] == CUSTOMERS
            assert _customers(connection) == CUSTOMERS  # visible inside the transaction
            connection.rollback()
        with engine.connect() as connection:
            assert inspect(connection).get_table_names() == []  # nothing was committed
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", TRANSACTIONAL, indirect=True)
def test_a_callers_transaction_is_committed_by_the_caller(database_url: str) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as connection:
            seeder.init_db(connection)
            seeder.populate(connection, customers=CUSTOMERS, seed=4)
        with engine.connect() as connection:
            assert _customers(connection) == CUSTOMERS
    finally:
        engine.dispose()


def test_populate_from_a_worker_thread(database_url: str) -> None:
    seeder.init_db(database_url)
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(
        seeder.populate(database_url, customers=CUSTOMERS, seed=5)))
    worker.start()
    worker.join(timeout=120)
    assert isinstance(outcome[0], seeder.Summary), outcome
    assert seeder.info(database_url)["row_counts"]["customers"] == CUSTOMERS


def test_cancellation_from_another_thread_rolls_back(database_url: str) -> None:
    seeder.init_db(database_url)
    cancellation = seeder.Cancellation()
    phases: list[str] = []

    def progress(phase: str, done: int, total: int) -> None:
        phases.append(phase)
        if phase == "generating and loading" and done >= 20_000:
            threading.Thread(target=cancellation.cancel).start()

    with pytest.raises(seeder.Cancelled, match="^interrupted; the transaction was rolled back"):
        seeder.populate(database_url, customers=200_000, seed=6, cancel=cancellation,
                        progress=progress)
    assert "building keys and indexes" not in phases
    assert seeder.info(database_url)["row_counts"]["customers"] == 0


def test_progress_reports_every_phase_in_order(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shop.db"
    seeder.init_db(url)
    phases: list[str] = []
    seeder.populate(url, customers=CUSTOMERS, seed=7,
                    progress=lambda phase, done, total: phases.append(phase))
    order = list(dict.fromkeys(phases))
    assert order == ["planning", "generating and loading", "building keys and indexes",
                     "analyzing", "committing"]


# Every failure a user can cause: its SeederError kind, and the same line the CLI prints.
def _failures(tmp_path: Path, postgres_url: str) -> list[tuple]:
    sqlite_url = f"sqlite:///{tmp_path}/shop.db"
    empty = f"sqlite:///{tmp_path}/empty.db"
    bad_scenario = tmp_path / "bad.toml"
    bad_scenario.write_text("cohort_months = 0\n")
    return [
        (seeder.DatabaseURLError, "mongodb://h/db", ("info",), lambda: seeder.info("mongodb://h/db")),
        (seeder.DatabaseError, "postgresql://postgres@127.0.0.1:1/x", ("info",),
         lambda: seeder.info("postgresql://postgres@127.0.0.1:1/x")),
        (seeder.DatabaseError, f"sqlite:///{tmp_path}/missing.db", ("info",),
         lambda: seeder.info(f"sqlite:///{tmp_path}/missing.db")),
        (seeder.SchemaError, postgres_url, ("info",), lambda: seeder.info(postgres_url)),
        (seeder.AlreadySeeded, sqlite_url, ("populate", "--customers", "50", "--seed", "1"),
         lambda: seeder.populate(sqlite_url, customers=50, seed=1)),
        (seeder.ScenarioError, empty, ("populate", "--customers", "50", "--seed", "1",
                                       "--scenario", str(bad_scenario)),
         lambda: seeder.populate(empty, customers=50, seed=1,
                                 scenario=seeder.load_scenario(bad_scenario))),
        (seeder.LimitExceeded, empty, ("populate", "--customers", "2000000000", "--seed", "1"),
         lambda: seeder.populate(empty, customers=2_000_000_000, seed=1)),
    ]


def test_every_user_error_is_a_typed_seeder_error_with_the_cli_message(
        tmp_path: Path, postgres_database_url: str) -> None:
    seeder.init_db(f"sqlite:///{tmp_path}/shop.db")
    seeder.populate(f"sqlite:///{tmp_path}/shop.db", customers=50, seed=1)
    seeder.init_db(f"sqlite:///{tmp_path}/empty.db")
    for kind, url, args, call in _failures(tmp_path, postgres_database_url):
        with pytest.raises(kind) as caught:
            call()
        assert isinstance(caught.value, seeder.SeederError)
        assert one_line_error(invoke(url, *args)) == f"seeder: error: {caught.value}", kind


def test_invalid_arguments_are_typed() -> None:
    with pytest.raises(seeder.InvalidArgument, match="^customers must be a positive integer"):
        seeder.generate(customers=0, seed=1)
    with pytest.raises(seeder.InvalidArgument, match="^seed must be an integer from 0 to"):
        seeder.generate(customers=10, seed=-1)
    with pytest.raises(seeder.InvalidArgument, match="^batch_size must be a positive integer"):
        seeder.populate("sqlite://", customers=10, seed=1, batch_size=0)


def test_export_from_python(tmp_path: Path) -> None:
    summary = seeder.export(tmp_path / "out", customers=300, seed=2)
    assert summary.row_counts["customers"] == 300
    lines = (tmp_path / "out" / "customers.csv").read_text().splitlines()
    assert len(lines) == 301


def test_scenarios_are_built_in_code(tmp_path: Path) -> None:
    import dataclasses

    german = dataclasses.replace(seeder.Scenario(), locale="de_DE")
    assert german == seeder.Scenario(locale="de_DE")
    url = f"sqlite:///{tmp_path}/shop.db"
    seeder.init_db(url)
    seeder.populate(url, customers=200, seed=1, scenario=german)
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT json_extract(scenario, '$.locale') FROM seed_runs")
                                 ) == "de_DE"
    engine.dispose()


def test_every_exported_name_is_listed_in_all() -> None:
    assert sorted(seeder.__all__) == sorted(seeder._EXPORTS)
