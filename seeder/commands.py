"""What seeder does, as plain functions: the Python API, of which the CLI is one caller.

A `target` is the database: a URL string (`sqlite:///shop.db`, `postgresql://...`), a
SQLAlchemy `URL`, an `Engine` or a `Connection`. Given a URL or an Engine, a function works in
its own transaction and commits it; given a Connection, it works inside the caller's
transaction and commits nothing. Sizes and seeds are keyword-only. Nothing here prints, exits
or installs signal handlers: cancellation comes in as a `Cancellation`, progress goes out to a
callable. Every failure a user can cause is a `SeederError` whose message is one line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Connection, exists, func, select

from seeder import __version__, limits, schema
from seeder.batch import Batch, rebatch
from seeder.cancel import Cancellation
from seeder.database import Target, open_database
from seeder.errors import (
    AlreadySeeded,
    Cancelled,
    DatabaseError,
    ExportError,
    InvalidArgument,
    SchemaError,
)
from seeder.formats import csv_header, csv_lines
from seeder.generator import GENERATOR_VERSION, generate
from seeder.models import (
    DATA_TABLES,
    Customer,
    ReferralLink,
    SeedRun,
    Service,
    Transaction,
)
from seeder.progress import COMMITTING, LOADING, WRITING, Progress, ignore
from seeder.scenario import Scenario

DEFAULT_BATCH_SIZE = 10_000
T = TypeVar("T")
_END = object()
ROLLED_BACK = "interrupted; the transaction was rolled back and the database is unchanged"


@dataclasses.dataclass(frozen=True)
class SchemaChange:
    """What init_db did: the revision before (None: no seeder schema) and after."""

    database: str
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclasses.dataclass(frozen=True)
class Summary:
    """What a populate or export wrote."""

    seed: int
    row_counts: dict[str, int]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(self.row_counts.values())


def init_db(target: Target) -> SchemaChange:
    """Create the schema, or upgrade it to the newest revision."""
    head = schema.HEAD_REVISION
    with open_database(target, must_exist=False) as db, \
            db.transaction(write=True) as connection:
        db.backend.lock(connection, db.display, wait=True)
        current = schema.current_revision(connection)
        _require_known_revision(db.display, current)
        if current is None and (found := schema.seeder_objects(connection)):
            raise SchemaError(f"{db.display} holds seeder's {', '.join(found)} but no schema "
                              f"revision; {_RESET_HINT}")
        if current == head:
            _require_undamaged(connection, db.display)
        else:
            schema.upgrade(connection)
    return SchemaChange(db.display, current, head)


def reset_db(target: Target) -> None:
    """Drop every table and view seeder created, damaged or not, then create the empty schema
    again."""
    with open_database(target) as db, db.transaction(write=True) as connection:
        db.backend.lock(connection, db.display, wait=True)
        if not schema.seeder_objects(connection):
            raise SchemaError(f"{db.display} has no seeder schema; run `seeder init-db`")
        _require_known_revision(db.display, schema.current_revision(connection))
        schema.drop_everything(connection)
        schema.upgrade(connection)


_RESET_HINT = "run `seeder reset-db --yes` to rebuild it (this deletes the data)"


def require_current_schema(connection: Connection, display: str) -> None:
    """Stop unless the database is at the newest revision."""
    current, head = schema.current_revision(connection), schema.HEAD_REVISION
    if current != head:
        _require_known_revision(display, current)
        if current is None and (found := schema.seeder_objects(connection)):
            raise SchemaError(f"{display} holds seeder's {', '.join(found)} but no schema "
                              f"revision; {_RESET_HINT}")
        state = "is not initialised" if current is None else f"is at revision {current}, not {head}"
        raise SchemaError(f"{display} {state}; run `seeder init-db`")


def _require_undamaged(connection: Connection, display: str) -> None:
    if found := schema.damage(connection):
        raise SchemaError(f"{display} is at revision {schema.HEAD_REVISION} but damaged: "
                          f"{'; '.join(found)}; {_RESET_HINT}")


def _require_known_revision(display: str, current: str | None) -> None:
    if current is not None and current not in schema.known_revisions():
        raise SchemaError(f"{display} is at revision {current}, which this seeder "
                          f"({__version__}) does not know; upgrade seeder")


def pick_seed() -> int:
    """A fresh random seed, for callers that were given none (print it: it reproduces the run)."""
    return secrets.randbelow(2**32)


def _counted(batches: Iterator[Batch], counts: dict[str, int], phase: str, customers: int,
             report: Progress) -> Iterator[Batch]:
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


def _zero_counts() -> dict[str, int]:
    return {table.name: 0 for table in DATA_TABLES}


def populate(target: Target, *, customers: int, seed: int, scenario: Scenario | None = None,
             replace: bool = False, batch_size: int = DEFAULT_BATCH_SIZE,
             cancel: Cancellation | None = None, progress: Progress | None = None) -> Summary:
    """Generate the dataset and write it in one transaction: all of it, or nothing.

    Refuses a database that already holds a dataset unless `replace`. `progress` is told each
    phase (see seeder.progress); `cancel` stops the run and rolls it back (Cancelled).
    """
    scenario = scenario if scenario is not None else Scenario()
    limits.check_columns(scenario)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgument(f"batch_size must be a positive integer, not {batch_size!r}")
    cancel = cancel if cancel is not None else Cancellation()
    report = progress or ignore
    batches = generate(customers=customers, seed=seed, scenario=scenario, cancel=cancel,
                       progress=report)
    started_at, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    counts = _zero_counts()
    try:
        with open_database(target) as db:
            loader = db.backend.loader(db.connection)
            with loader.settings(), db.transaction(write=True) as connection, \
                    cancel.interrupts(db.backend.interrupter(connection)):
                db.backend.lock(connection, db.display, wait=False)
                require_current_schema(connection, db.display)
                _require_undamaged(connection, db.display)
                holds_data = connection.scalar(
                    select(exists(select(Customer.id)) | exists(select(Service.id))))
                if holds_data and not replace:
                    raise AlreadySeeded(f"{db.display} already holds a dataset; "
                                        "rerun with --replace to replace it")
                loader.start()
                counted = _counted(rebatch(batches, batch_size), counts, LOADING,
                                   customers, report)
                for batch, payload in _one_ahead((b, loader.encode(b)) for b in counted):
                    cancel.check()
                    loader.write(batch, payload)
                cancel.check()
                loader.finish(report)
                cancel.check()
                # seed_runs is a log: one row per populate, replaced ones included.
                connection.execute(SeedRun.__table__.insert().values(
                    seed=seed, customers=customers, scenario=scenario.to_dict(),
                    generator_version=GENERATOR_VERSION, seeder_version=__version__,
                    numpy_version=np.__version__,
                    row_counts=counts, started_at=started_at,
                    finished_at=dt.datetime.now(dt.UTC),
                ))
                report(COMMITTING, 0, 1)
    except Cancelled:
        raise Cancelled(ROLLED_BACK) from None
    except DatabaseError as error:
        if cancel.cancelled:  # the statement that the cancellation interrupted
            raise Cancelled(ROLLED_BACK) from None
        raise DatabaseError(f"{error}; nothing was written") from None
    report(COMMITTING, 1, 1)
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


def dry_run(*, customers: int, seed: int, scenario: Scenario | None = None,
            cancel: Cancellation | None = None) -> tuple[Summary, int]:
    """Generate the dataset without writing it: rows per table, and its size as CSV bytes."""
    scenario = scenario if scenario is not None else Scenario()
    limits.check_columns(scenario)
    clock, counts = time.perf_counter(), _zero_counts()
    batches = generate(customers=customers, seed=seed, scenario=scenario, cancel=cancel)
    size = 0
    for batch in batches:
        counts[batch.table] += len(batch)
        size += len(csv_lines(batch))
    return Summary(seed, counts, time.perf_counter() - clock), size


def export(out: str | Path, *, customers: int, seed: int, scenario: Scenario | None = None,
           cancel: Cancellation | None = None, progress: Progress | None = None) -> Summary:
    """Write the dataset as one CSV file per table, named after the table, into `out`.

    The files are written into a temporary directory beside `out` and moved into place only
    when all are complete; on any failure (a full disk, cancellation) it is removed and an
    earlier export in `out` is left as it was.
    """
    out = Path(out)
    scenario = scenario if scenario is not None else Scenario()
    limits.check_columns(scenario)
    report = progress or ignore
    batches = generate(customers=customers, seed=seed, scenario=scenario, cancel=cancel,
                       progress=report)
    clock, counts = time.perf_counter(), _zero_counts()
    untouched = f"the earlier export in {out}, if any, is untouched"
    try:
        if out.exists() and not out.is_dir():
            raise ExportError(f"{out} exists and is not a directory; choose another --out")
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial",
                                        dir=out.parent))
    except OSError as error:
        raise ExportError(f"cannot write to {out}: {error.strerror}") from None
    try:
        with contextlib.ExitStack() as opened:
            files = {table.name: opened.enter_context(open(staging / f"{table.name}.csv", "wb"))
                     for table in DATA_TABLES}
            for table in DATA_TABLES:
                files[table.name].write(csv_header(table))
            for batch in _counted(batches, counts, WRITING, customers, report):
                files[batch.table].write(csv_lines(batch))
        out.mkdir(exist_ok=True)
        for table in DATA_TABLES:
            os.replace(staging / f"{table.name}.csv", out / f"{table.name}.csv")
    except OSError as error:
        raise ExportError(f"cannot write to {out}: {error.strerror}; {untouched}") from None
    except Cancelled:
        raise Cancelled(f"interrupted; nothing was written, and {untouched}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Summary(seed, counts, time.perf_counter() - clock)


def info(target: Target) -> dict[str, Any]:
    """What the database holds: schema revision, rows per table, the last populate, and the
    figures a learner or a tester looks at first.

    Keys: `database`, `revision`, `row_counts` (per table), `last_populate` (None without
    one), the date span (`first_registration`, `last_registration`, `first_transaction`,
    `last_transaction`; None when empty), `revenue` (sum of prices), `free_services`
    (transactions at price 0), `referrals` (referral_links rows), and:

    - `revenue_per_field`: per field of service (services.category), most revenue first:
      `field`, `transactions`, `revenue`.
    - `visits_per_customer`: `average` (transactions per customer) and `distribution`, a list
      of `visits` (transactions, 0 included) and how many `customers` made that many.
    - `referral_programme`: `referrers` and `referred_customers` (distinct customers on each
      side of referral_links), and `rewards`: per field of service of the reward transactions
      (oil in the default scenario: the free oil changes), their `count` and their
      `list_value`, the sum of the middle of each service's price range ((min_price +
      max_price) / 2, the price the generator draws around).
    """
    with open_database(target) as db, db.transaction() as connection:
        require_current_schema(connection, db.display)
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
        first_registration, last_registration = connection.execute(select(
            func.min(Customer.registered_on), func.max(Customer.registered_on))).one()
        field_revenue = func.coalesce(func.sum(Transaction.price), 0)
        per_field = connection.execute(
            select(Service.category, func.count(Transaction.id), field_revenue)
            .outerjoin(Transaction, Transaction.service_id == Service.id)
            .group_by(Service.category).order_by(field_revenue.desc(), Service.category)
        ).all()
        visits = (select(func.count().label("visits")).select_from(Transaction)
                  .group_by(Transaction.customer_id).subquery())
        visit_counts = connection.execute(
            select(visits.c.visits, func.count()).group_by(visits.c.visits)
            .order_by(visits.c.visits)
        ).all()
        referrers, referred = connection.execute(select(
            func.count(ReferralLink.referrer_id.distinct()),
            func.count(ReferralLink.referred_id.distinct()))).one()
        reward_ids = select(ReferralLink.referrer_reward_id.label("id")).union(
            select(ReferralLink.referred_reward_id)).subquery()
        rewards = connection.execute(
            select(Service.category, func.count(), func.sum(Service.min_price + Service.max_price))
            .select_from(reward_ids)
            .join(Transaction, Transaction.id == reward_ids.c.id)
            .join(Service, Service.id == Transaction.service_id)
            .group_by(Service.category).order_by(Service.category)
        ).all()
    customers = counts["customers"]
    # Customers without a transaction (none in generated data) are not in the GROUP BY.
    without_visits = customers - sum(number for _, number in visit_counts)
    distribution = [(0, without_visits)] if without_visits else []
    distribution += [(int(visits), number) for visits, number in visit_counts]
    return {
        "database": db.display,
        "revision": schema.HEAD_REVISION,
        "row_counts": counts,
        "last_populate": None if last_run is None else {
            "seed": last_run.seed, "customers": last_run.customers,
            "generator_version": last_run.generator_version,
            "finished_at": str(last_run.finished_at),
        },
        "first_transaction": _iso(first_visit),
        "last_transaction": _iso(last_visit),
        "revenue": int(revenue),
        "free_services": free,
        "referrals": counts["referral_links"],
        "first_registration": _iso(first_registration),
        "last_registration": _iso(last_registration),
        "revenue_per_field": [
            {"field": field, "transactions": number, "revenue": int(total)}
            for field, number, total in per_field
        ],
        "visits_per_customer": {
            "average": counts["transactions"] / customers if customers else None,
            "distribution": [{"visits": visits, "customers": number}
                             for visits, number in distribution],
        },
        "referral_programme": {
            "referrers": referrers,
            "referred_customers": referred,
            "rewards": [{"field": field, "count": number, "list_value": int(doubled) / 2}
                        for field, number, doubled in rewards],
        },
    }


def _iso(date: dt.date | str | None) -> str | None:
    """A date as ISO text: PostgreSQL gives a date, SQLite the text itself."""
    return None if date is None else str(date)
