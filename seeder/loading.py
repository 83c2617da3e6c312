"""Populate: generate the dataset and load it, over one connection or several, all or nothing.

One connection (the default): one transaction takes the populate lock, checks the schema,
loads every batch through the backend's loader (which sets keys and indexes aside and builds
them at the end) and records the run in seed_runs. The next batch is generated and encoded in
a worker thread while the database takes this one.

Several connections (`workers=N`, for backends that load in parallel: PostgreSQL): the
backend's ParallelLoad commits an empty staging area; N worker processes each generate one
shard of the dataset (seeder.generator.Shard) and load it over their own connection; the keys
and indexes are built there; then one short transaction swaps the new tables in and records
the run. Any failure, or cancellation, drops the staging area: the old dataset stays.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing
import queue
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Connection, exists, select

from seeder import __version__, limits, schema
from seeder.batch import Batch, rebatch
from seeder.cancel import Cancellation
from seeder.database import Database, Target, open_database
from seeder.errors import AlreadySeeded, Cancelled, DatabaseError, InvalidArgument, SeederError
from seeder.generator import GENERATOR_VERSION, generate
from seeder.models import DATA_TABLES, Customer, SeedRun, Service
from seeder.progress import COMMITTING, LOADING, Progress, ignore
from seeder.scenario import Scenario
from seeder.urls import display_url

DEFAULT_BATCH_SIZE = 10_000
ROLLED_BACK = "interrupted; the transaction was rolled back and the database is unchanged"
T = TypeVar("T")
_END = object()
# How often the coordinator of a parallel load looks at its workers and the cancellation.
_POLL_SECONDS = 0.05


@dataclasses.dataclass(frozen=True)
class Summary:
    """What a populate or export wrote."""

    seed: int
    row_counts: dict[str, int]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(self.row_counts.values())


def populate(target: Target, *, customers: int, seed: int, scenario: Scenario | None = None,
             replace: bool = False, batch_size: int = DEFAULT_BATCH_SIZE, workers: int = 1,
             cancel: Cancellation | None = None, progress: Progress | None = None) -> Summary:
    """Generate the dataset and write it: all of it, or nothing.

    Refuses a database that already holds a dataset unless `replace`. `workers` > 1 loads
    shards over that many connections at once (PostgreSQL). `progress` is told each phase
    (see seeder.progress); `cancel` stops the run and rolls it back (Cancelled).
    """
    scenario = scenario if scenario is not None else Scenario()
    limits.check_columns(scenario)
    for name, value in (("batch_size", batch_size), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidArgument(f"{name} must be a positive integer, not {value!r}")
    cancel = cancel if cancel is not None else Cancellation()
    report = progress or ignore
    run = _Run(customers, seed, scenario, replace, batch_size, cancel, report)
    try:
        with open_database(target) as db:
            if workers > 1:
                return run.in_parallel(db, workers)
            return run.in_one_transaction(db)
    except Cancelled:
        raise Cancelled(ROLLED_BACK) from None
    except DatabaseError as error:
        if cancel.cancelled:  # the statement that the cancellation interrupted
            raise Cancelled(ROLLED_BACK) from None
        raise DatabaseError(f"{error}; nothing was written") from None


@dataclasses.dataclass
class _Run:
    customers: int
    seed: int
    scenario: Scenario
    replace: bool
    batch_size: int
    cancel: Cancellation
    report: Progress

    def __post_init__(self) -> None:
        self.started_at = dt.datetime.now(dt.UTC)
        self.clock = time.perf_counter()
        self.counts = zero_counts()

    def batches(self, shard: tuple[int, int] | None = None,
                progress: Progress | None = None) -> Iterator[Batch]:
        return rebatch(generate(customers=self.customers, seed=self.seed,
                                scenario=self.scenario, shard=shard, cancel=self.cancel,
                                progress=progress), self.batch_size)

    def in_one_transaction(self, db: Database) -> Summary:
        batches = self.batches(progress=self.report)  # arguments checked before connecting
        loader = db.backend.loader(db.connection)
        with loader.settings(), db.transaction(write=True) as connection, \
                self.cancel.interrupts(db.backend.interrupter(connection)):
            self.check_target(db, connection, wait_for_lock=False)
            loader.start()
            counted = counted_batches(batches, self.counts, LOADING, self.customers, self.report)
            for batch, payload in one_ahead((b, loader.encode(b)) for b in counted):
                self.cancel.check()
                loader.write(batch, payload)
            self.cancel.check()
            loader.finish(self.report)
            self.cancel.check()
            self.record(connection)
            self.report(COMMITTING, 0, 1)
        return self.finished()

    def in_parallel(self, db: Database, workers: int) -> Summary:
        self.batches()  # the arguments are checked before any work
        url = db.connection.engine.url
        parallel = db.backend.parallel_load(db)
        with parallel:
            with db.transaction(write=True) as connection:
                self.check_target(db, connection, wait_for_lock=None)
                parallel.prepare()
            self._load_shards(url.render_as_string(hide_password=False), parallel.staging,
                              workers)
            with db.transaction(write=True) as connection, \
                    self.cancel.interrupts(db.backend.interrupter(connection)):
                parallel.build(self.report)
            self.cancel.check()
            with db.transaction(write=True) as connection:
                parallel.swap(self.report)
                self.record(connection)
                self.report(COMMITTING, 0, 1)
        return self.finished()

    def check_target(self, db: Database, connection: Connection,
                     wait_for_lock: bool | None) -> None:
        """Take the populate lock (None: the caller holds it), check the schema, and refuse a
        dataset already there unless replacing it."""
        if wait_for_lock is not None:
            db.backend.lock(connection, db.display, wait=wait_for_lock)
        schema.require_current(connection, db.display)
        schema.require_undamaged(connection, db.display)
        holds_data = connection.scalar(
            select(exists(select(Customer.id)) | exists(select(Service.id))))
        if holds_data and not self.replace:
            raise AlreadySeeded(f"{db.display} already holds a dataset; "
                                "rerun with --replace to replace it")

    def _load_shards(self, url: str, staging: str, workers: int) -> None:
        """Shard k of `workers` loaded by worker process k; this process watches them."""
        context = multiprocessing.get_context("spawn")
        messages = context.Queue()
        processes = [
            context.Process(target=_load_shard, daemon=True, args=(
                messages, url, staging, (index, workers), self.customers, self.seed,
                self.scenario, self.batch_size))
            for index in range(1, workers + 1)]
        for process in processes:
            process.start()
        loaded, finished = 0, 0
        try:
            self.report(LOADING, 0, self.customers)
            while finished < workers:
                self.cancel.check()
                try:
                    kind, value = messages.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    if dead := [p for p in processes if p.exitcode not in (None, 0)]:
                        raise DatabaseError(
                            f"a loading process ended unexpectedly (exit status "
                            f"{dead[0].exitcode}) while loading into {display_url(url)}"
                        ) from None
                    continue
                if kind == "error":
                    raise value
                if kind == "customers":
                    loaded += value
                    self.report(LOADING, loaded, self.customers)
                else:
                    finished += 1
                    for table, rows in value.items():
                        self.counts[table] += rows
        finally:
            for process in processes:
                if process.is_alive():
                    process.terminate()  # its connection dies, and its transaction with it
            for process in processes:
                process.join()

    def record(self, connection: Connection) -> None:
        """seed_runs is a log: one row per populate, replaced ones included."""
        connection.execute(SeedRun.__table__.insert().values(
            seed=self.seed, customers=self.customers, scenario=self.scenario.to_dict(),
            generator_version=GENERATOR_VERSION, seeder_version=__version__,
            numpy_version=np.__version__, row_counts=self.counts, started_at=self.started_at,
            finished_at=dt.datetime.now(dt.UTC)))

    def finished(self) -> Summary:
        self.report(COMMITTING, 1, 1)
        return Summary(self.seed, self.counts, time.perf_counter() - self.clock)


def _load_shard(messages: Any, url: str, staging: str, shard: tuple[int, int], customers: int,
                seed: int, scenario: Scenario, batch_size: int) -> None:
    """A worker process of a parallel load: its shard into the staging tables, one transaction.

    It reports ("customers", n) as it goes, then ("counts", rows per table) or ("error", e).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    counts = zero_counts()
    try:
        with open_database(url) as db, db.transaction(write=True) as connection:
            loader = db.backend.staging_loader(connection, staging)
            batches = rebatch(generate(customers=customers, seed=seed, scenario=scenario,
                                       shard=shard), batch_size)
            for batch, payload in one_ahead((b, loader.encode(b)) for b in batches):
                loader.write(batch, payload)
                counts[batch.table] += len(batch)
                if batch.table == "customers":
                    messages.put(("customers", len(batch)))
    except SeederError as error:
        messages.put(("error", error))
        return
    messages.put(("counts", counts))


def counted_batches(batches: Iterator[Batch], counts: dict[str, int], phase: str,
                    customers: int, report: Progress) -> Iterator[Batch]:
    """The batches, each counted into `counts`, and customers reported as they pass."""
    done = 0
    for batch in batches:
        if not any(counts.values()):  # planning is over: the rows start to flow
            report(phase, done, customers)
        counts[batch.table] += len(batch)
        yield batch
        if batch.table == "customers":
            done += len(batch)
            report(phase, done, customers)


def zero_counts() -> dict[str, int]:
    return {table.name: 0 for table in DATA_TABLES}


def one_ahead(items: Iterator[T]) -> Iterator[T]:
    """The items, each produced in a worker thread while the caller uses the one before.

    Generating and encoding the next batch (NumPy, mostly outside the GIL) then overlaps with
    the database taking this one. Errors in the worker surface here, in order.
    """
    with ThreadPoolExecutor(max_workers=1) as worker:
        upcoming = worker.submit(next, items, _END)
        while (item := upcoming.result()) is not _END:
            upcoming = worker.submit(next, items, _END)
            yield item
