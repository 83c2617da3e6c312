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
import importlib
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select

from seeder import limits, parts, schema
from seeder.cancel import Cancellation
from seeder.database import Target, open_database
from seeder.errors import (
    Cancelled,
    ExportError,
    InvalidArgument,
    SchemaError,
)
from seeder.formats import csv_lines
from seeder.generator import Catalog, Shard, check_arguments, generate
from seeder.loading import Summary, zero_counts
from seeder.models import (
    DATA_TABLES,
    Customer,
    ReferralLink,
    SeedRun,
    Service,
    Transaction,
)
from seeder.progress import Progress, ignore
from seeder.scenario import Scenario


@dataclasses.dataclass(frozen=True)
class SchemaChange:
    """What init_db did: the revision before (None: no seeder schema) and after."""

    database: str
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def init_db(target: Target) -> SchemaChange:
    """Create the schema, or upgrade it to the newest revision."""
    head = schema.HEAD_REVISION
    with open_database(target, must_exist=False) as db, \
            db.transaction(write=True) as connection:
        db.backend.lock(connection, db.display, wait=True)
        current = schema.current_revision(connection)
        schema.require_upgradable(connection, db.display, current)
        if current == head:
            schema.require_undamaged(connection, db.display)
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
        schema.require_known(db.display, schema.current_revision(connection))
        schema.drop_everything(connection)
        schema.upgrade(connection)


def pick_seed() -> int:
    """A fresh random seed, for callers that were given none (print it: it reproduces the run)."""
    return secrets.randbelow(2**32)


def dry_run(*, customers: int, seed: int, scenario: Scenario | None = None,
            cancel: Cancellation | None = None) -> tuple[Summary, int]:
    """Generate the dataset without writing it: rows per table, and its size as CSV bytes."""
    scenario = scenario if scenario is not None else Scenario()
    limits.check_columns(scenario)
    clock, counts = time.perf_counter(), zero_counts()
    batches = generate(customers=customers, seed=seed, scenario=scenario, cancel=cancel)
    size = 0
    for batch in batches:
        counts[batch.table] += len(batch)
        size += len(csv_lines(batch))
    return Summary(seed, counts, time.perf_counter() - clock), size


def export(out: str | Path, *, customers: int, seed: int, scenario: Scenario | None = None,
           format: str = "csv", shard: Shard | tuple[int, int] | None = None,
           workers: int | None = None, scheduler: str | None = None,
           cancel: Cancellation | None = None, progress: Progress | None = None) -> Summary:
    """Write the dataset into the directory `out`, as CSV (a file per table) or Parquet (a
    directory of files per table); the layout is described in seeder.parts.

    `shard` (K, N) writes only shard K of N (see seeder.generator.Shard): the N shards'
    exports hold every row of the dataset exactly once. `workers` runs the work on a new local
    Dask cluster of that many processes, `scheduler` (tcp://host:port) on an existing one
    whose workers see `out` at the same path; Dask and pyarrow (for Parquet) come with the
    extra `seeder[distributed]`. Whatever the engine, the same arguments write the same rows.

    The files are written into a temporary directory beside `out` and moved into place only
    when all are complete; on any failure (a full disk, cancellation, a lost worker) it is
    removed and an earlier export in `out` is left as it was.
    """
    out = Path(out)
    scenario = scenario if scenario is not None else Scenario()
    limits.check_columns(scenario)
    check_arguments(customers=customers, seed=seed, scenario=scenario)
    if format not in parts.FORMATS:
        raise InvalidArgument(f"format must be one of {', '.join(parts.FORMATS)}, "
                              f"not {format!r}")
    shard = shard if isinstance(shard, Shard) else Shard(*(shard or (1, 1)))
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise InvalidArgument(f"workers must be a positive integer, not {workers!r}")
    if workers is not None and scheduler is not None:
        raise InvalidArgument("give either workers (a new local Dask cluster) or scheduler "
                              "(an existing one), not both")
    on_dask = workers is not None or scheduler is not None
    if format == "parquet":
        _require_extra("pyarrow", "Parquet export")
    if on_dask:
        _require_extra("distributed", "Export on Dask")
    cancel = cancel if cancel is not None else Cancellation()
    report = progress or ignore
    untouched = f"the earlier export in {out}, if any, is untouched"
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a directory; choose another --out")
    clock = time.perf_counter()
    with contextlib.ExitStack() as engine:
        if on_dask:
            from seeder import distributed

            client = engine.enter_context(distributed.connect(workers, scheduler))
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            # Absolute: the workers of a Dask cluster do not share this process's directory.
            staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial",
                                            dir=out.parent)).absolute()
        except OSError as error:
            raise ExportError(f"cannot write to {out}: {error.strerror}") from None
        try:
            cancel.check()
            if on_dask:
                parts.prepare(staging, format, pieces=True)
                counts = distributed.export(
                    client, staging, format, scenario=scenario, seed=seed, customers=customers,
                    shard=shard, checkpoint=cancel.check, report=report)
            else:
                counts = parts.write_here(staging, format, Catalog(scenario), seed, customers,
                                          shard, cancel.check, report)
            _move_into_place(staging, out, parts.outputs(format))
        except OSError as error:
            # strerror: the file system's reason; a lost connection to a cluster has none.
            reason = error.strerror or error
            raise ExportError(f"cannot write to {out}: {reason}; {untouched}") from None
        except Cancelled:
            raise Cancelled(f"interrupted; nothing was written, and {untouched}") from None
        finally:
            _remove_tree(staging)
    return Summary(seed, counts, time.perf_counter() - clock)


_EXTRA = "pip install 'seeder[distributed]'"


def _require_extra(module: str, purpose: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError:
        raise ExportError(f"{purpose} needs {module}, which is not installed; "
                          f"install it with {_EXTRA}") from None


def _move_into_place(staging: Path, out: Path, names: list[str]) -> None:
    """Put staging/NAME at out/NAME for each name, replacing what is there (a directory too);
    if a move fails, what was moved is moved back."""
    out.mkdir(exist_ok=True)
    replaced = staging / ".replaced"
    replaced.mkdir()
    aside: list[str] = []
    moved: list[str] = []
    try:
        for name in names:
            if os.path.lexists(out / name):
                os.replace(out / name, replaced / name)
                aside.append(name)
        for name in names:
            os.replace(staging / name, out / name)
            moved.append(name)
    except OSError:
        for name in moved:
            os.replace(out / name, staging / name)
        for name in aside:
            os.replace(replaced / name, out / name)
        raise


def _remove_tree(path: Path) -> None:
    # On an existing Dask cluster a task that was running when the export stopped goes on, and
    # may add a file while the tree is being removed; it cannot recreate a removed directory.
    for _ in range(3):
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.lexists(path):
            return
        time.sleep(0.1)


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
        schema.require_current(connection, db.display)
        tables = [*DATA_TABLES, SeedRun.__table__]
        counts = {t.name: connection.scalar(select(func.count()).select_from(t)) for t in tables}
        last_run = connection.execute(
            select(SeedRun.seed, SeedRun.customers, SeedRun.generator_version,
                   SeedRun.finished_at).order_by(SeedRun.id.desc()).limit(1)
        ).first()
        first_visit, last_visit, revenue, free = connection.execute(select(
            func.min(Transaction.transaction_date), func.max(Transaction.transaction_date),
            func.coalesce(func.sum(Transaction.price), 0),
            # Not COUNT(*) FILTER (WHERE ...): MySQL has no FILTER clause.
            func.coalesce(func.sum(case((Transaction.price == 0, 1), else_=0)), 0),
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
        "free_services": int(free),
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
