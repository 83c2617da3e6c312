"""What each `seeder` command does, as plain functions; the CLI only parses and prints.

Every function raises SeederError for a problem the user can fix.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import secrets
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Connection, Engine, exists, func, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from seeder import __version__, schema
from seeder.batch import Batch, rebatch
from seeder.config import (
    create_seeder_engine,
    describe_database_error,
    display_url,
    sqlite_file,
)
from seeder.errors import SeederError
from seeder.formats import csv_header, csv_lines
from seeder.generator import GENERATOR_VERSION, generate
from seeder.models import DATA_TABLES, Customer, SeedRun, Service, Transaction
from seeder.scenario import Scenario, load_scenario
from seeder.writers import Writer, writer_for

DEFAULT_BATCH_SIZE = 10_000
T = TypeVar("T")
_END = object()
# Any fixed number: the key of the PostgreSQL advisory lock that one populate holds at a time.
_POPULATE_LOCK_KEY = 0x5EED_E4
_INTERRUPTED = "interrupted; the transaction was rolled back and the database is unchanged"
# The writers call the drivers directly (COPY, executemany), so their errors arrive unwrapped.
_DRIVER_ERRORS = (sqlite3.Error, psycopg.Error)


def _engine_for(url: URL, *, must_exist: bool) -> Engine:
    if must_exist and url.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        if path is not None and not path.exists():
            raise SeederError(f"{path} does not exist; run `seeder init-db` first")
    return create_seeder_engine(url)


@contextlib.contextmanager
def _transaction(url: URL, *, must_exist: bool = True) -> Iterator[Connection]:
    """A connection in one transaction, with database errors turned into one-line errors."""
    engine = _engine_for(url, must_exist=must_exist)
    try:
        with engine.begin() as connection:
            yield connection
    except DBAPIError as error:
        raise SeederError(describe_database_error(url, error)) from None
    finally:
        engine.dispose()


def init_db(url: URL, echo: Callable[[str], None]) -> None:
    """Create the schema, or upgrade it to the newest revision."""
    head = schema.HEAD_REVISION
    with _transaction(url, must_exist=False) as connection:
        current = schema.current_revision(connection)
        if current == head:
            echo(f"{display_url(url)} is already at revision {head}; nothing to do")
            return
        _require_known_revision(url, current)
        schema.upgrade(connection)
    echo(f"{display_url(url)} upgraded from {current or 'empty'} to revision {head}")


def reset_db(url: URL, echo: Callable[[str], None]) -> None:
    """Drop every table and view seeder created, then create the empty schema again."""
    with _transaction(url) as connection:
        current = schema.current_revision(connection)
        if current is None:
            raise SeederError(f"{display_url(url)} has no seeder schema; run `seeder init-db`")
        _require_known_revision(url, current)
        schema.downgrade(connection)
        schema.upgrade(connection)
    echo(f"{display_url(url)} reset to an empty schema at revision {schema.HEAD_REVISION}")


def require_current_schema(connection: Connection, url: URL) -> None:
    """Stop unless the database is at the newest revision."""
    current, head = schema.current_revision(connection), schema.HEAD_REVISION
    if current != head:
        _require_known_revision(url, current)
        state = "is not initialised" if current is None else f"is at revision {current}, not {head}"
        raise SeederError(f"{display_url(url)} {state}; run `seeder init-db`")


def _require_known_revision(url: URL, current: str | None) -> None:
    if current is not None and current not in schema.known_revisions():
        raise SeederError(f"{display_url(url)} is at revision {current}, which this seeder "
                           f"({__version__}) does not know; upgrade seeder")


@dataclasses.dataclass(frozen=True)
class Summary:
    """What a populate or export wrote."""

    seed: int
    row_counts: dict[str, int]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(self.row_counts.values())


def pick_seed(seed: int | None) -> int:
    """The seed to use: the given one, or a fresh random one that the caller must print."""
    return secrets.randbelow(2**32) if seed is None else seed


def _counted(scenario: Scenario, seed: int, customers: int, batch_size: int,
             counts: dict[str, int], on_customers: Callable[[int], None]) -> Iterator[Batch]:
    """The dataset's batches, each counted into `counts` (and customers reported) as it passes."""
    for batch in rebatch(generate(customers=customers, seed=seed, scenario=scenario), batch_size):
        counts[batch.table] += len(batch)
        if batch.table == "customers":
            on_customers(len(batch))
        yield batch


def _zero_counts() -> dict[str, int]:
    return {table.name: 0 for table in DATA_TABLES}


def populate(url: URL, customers: int, seed: int, scenario_path: Path | None, *,
             replace: bool = False, batch_size: int = DEFAULT_BATCH_SIZE,
             on_customers: Callable[[int], None] = lambda n: None) -> Summary:
    """Generate the dataset and write it in one transaction: all of it, or nothing."""
    scenario = load_scenario(scenario_path)
    started_at, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    counts = _zero_counts()
    engine = _engine_for(url, must_exist=True)
    interrupt = _Interrupt()
    try:
        with engine.connect() as connection, interrupt.handled(connection):
            writer = writer_for(connection)
            with writer.load_settings():
                connection = connection.execution_options(sqlite_begin="BEGIN IMMEDIATE")
                with connection.begin():
                    _prepare(connection, url, writer, replace)
                    writer.start()
                    batches = _counted(scenario, seed, customers, batch_size, counts,
                                       on_customers)
                    encoded = ((batch, writer.encode(batch)) for batch in batches)
                    for batch, payload in _one_ahead(encoded):
                        interrupt.check()
                        writer.write(batch, payload)
                    interrupt.check()
                    writer.finish()
                    interrupt.check()
                    connection.execute(SeedRun.__table__.insert().values(
                        seed=seed, customers=customers, scenario=scenario.to_dict(),
                        generator_version=GENERATOR_VERSION, seeder_version=__version__,
                        row_counts=counts, started_at=started_at,
                        finished_at=dt.datetime.now(dt.UTC),
                    ))
    except KeyboardInterrupt:
        raise SeederError(_INTERRUPTED) from None
    except (DBAPIError, *_DRIVER_ERRORS) as error:
        if interrupt.received:  # the statement the signal cancelled
            raise SeederError(_INTERRUPTED) from None
        raise SeederError(f"{describe_database_error(url, error)}; nothing was written"
                           ) from None
    finally:
        engine.dispose()
    return Summary(seed, counts, time.perf_counter() - clock)


def _one_ahead(items: Iterator[T]) -> Iterator[T]:
    """The items, each produced in a worker thread while the caller uses the one before.

    Generating and encoding the next batch (NumPy, mostly outside the GIL) then overlaps with
    the database taking this one. Errors in the worker surface here, in order.
    """
    with ThreadPoolExecutor(max_workers=1) as worker:
        upcoming = worker.submit(next, items, _END)
        while (item := upcoming.result()) is not _END:
            upcoming = worker.submit(next, items, _END)
            yield item


class _Interrupt:
    """Ctrl-C and SIGTERM cancel the running statement and stop populate at the next batch.

    The handler does not raise: an exception raised at an arbitrary point can land inside the
    driver mid-protocol (starting a COPY), after which not even ROLLBACK can be sent.
    """

    def __init__(self) -> None:
        self.received = False

    @contextlib.contextmanager
    def handled(self, connection: Connection) -> Iterator[None]:
        driver = connection.connection.driver_connection
        cancel = driver.interrupt if connection.dialect.name == "sqlite" else driver.cancel

        def handler(_signum, _frame) -> None:
            self.received = True
            with contextlib.suppress(Exception):
                cancel()  # the statement fails with "canceled"/"interrupted"; we roll back

        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {number: signal.signal(number, handler) for number in signals}
        try:
            yield
        finally:
            for number, old in previous.items():
                signal.signal(number, old)

    def check(self) -> None:
        if self.received:
            raise KeyboardInterrupt


def _prepare(connection: Connection, url: URL, writer: Writer, replace: bool) -> None:
    """Take the populate lock, check the schema, and make sure the tables are empty."""
    if connection.dialect.name == "postgresql":
        locked = connection.scalar(select(func.pg_try_advisory_xact_lock(_POPULATE_LOCK_KEY)))
        if not locked:
            raise SeederError(f"another seeder populate is writing to {display_url(url)}; "
                               "try again when it is done")
    # (SQLite: BEGIN IMMEDIATE has already taken the database's write lock.)
    require_current_schema(connection, url)
    holds_data = connection.scalar(select(exists(select(Customer.id)) | exists(select(Service.id))))
    if holds_data and not replace:
        raise SeederError(f"{display_url(url)} already holds a dataset; "
                           "rerun with --replace to replace it")
    writer.clear(DATA_TABLES)  # seed_runs keeps one row per populate, replaced ones included


def dry_run(customers: int, seed: int, scenario_path: Path | None) -> tuple[Summary, int]:
    """Generate the dataset without writing it: rows per table and their size as CSV."""
    scenario = load_scenario(scenario_path)
    clock, counts = time.perf_counter(), _zero_counts()
    batches = _counted(scenario, seed, customers, DEFAULT_BATCH_SIZE, counts, lambda n: None)
    size = sum(len(csv_lines(batch)) for batch in batches)
    return Summary(seed, counts, time.perf_counter() - clock), size


def export(out: Path, customers: int, seed: int, scenario_path: Path | None,
           on_customers: Callable[[int], None] = lambda n: None) -> Summary:
    """Write the dataset as one CSV file per table, named after the table, into `out`."""
    scenario = load_scenario(scenario_path)
    clock, counts = time.perf_counter(), _zero_counts()
    try:
        out.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as files:
            opened = {}
            for table in DATA_TABLES:
                opened[table.name] = files.enter_context(open(out / f"{table.name}.csv", "wb"))
                opened[table.name].write(csv_header(table))
            for batch in _counted(scenario, seed, customers, DEFAULT_BATCH_SIZE, counts,
                                  on_customers):
                opened[batch.table].write(csv_lines(batch))
    except OSError as error:
        raise SeederError(f"cannot write to {out}: {error.strerror}") from None
    return Summary(seed, counts, time.perf_counter() - clock)


def info(url: URL) -> dict[str, Any]:
    """What the database holds: schema revision, rows per table, the last populate, headlines."""
    with _transaction(url) as connection:
        require_current_schema(connection, url)
        tables = [*DATA_TABLES, SeedRun.__table__]
        counts = {t.name: connection.scalar(select(func.count()).select_from(t)) for t in tables}
        last_run = connection.execute(
            select(SeedRun.seed, SeedRun.customers, SeedRun.generator_version,
                   SeedRun.finished_at).order_by(SeedRun.id.desc()).limit(1)
        ).first()
        first_visit, last_visit, revenue, free = connection.execute(select(
            func.min(Transaction.transaction_date), func.max(Transaction.transaction_date),
            func.coalesce(func.sum(Transaction.price), 0),
            func.count().filter(Transaction.price == 0),
        )).one()
    return {
        "database": display_url(url),
        "revision": schema.HEAD_REVISION,
        "row_counts": counts,
        "last_populate": None if last_run is None else {
            "seed": last_run.seed, "customers": last_run.customers,
            "generator_version": last_run.generator_version,
            "finished_at": str(last_run.finished_at),
        },
        "first_transaction": None if first_visit is None else str(first_visit),
        "last_transaction": None if last_visit is None else str(last_visit),
        "revenue": int(revenue),
        "free_services": free,
        "referrals": counts["referral_links"],
    }
