"""Hidden variants: datasets like the learner's, from other seeds, that a check also runs on.

An answer that only fits the learner's rows (hard-coded values, a particular id) gives the
right result on the learner's database and a wrong one on a variant. A variant has:

- the learner's backend and server;
- the scenario and number of customers of the learner's last populate (its seed_runs row);
  a database without one (loaded from CSV) cannot be checked;
- one of two seeds derived from the learner's seed (`variant_seeds`), the same two every time.

Building a variant takes as long as a populate of that size, so variants are kept and reused
by every later check, of any database with the same last populate. Each is named
`seeder_variant_<generator version>_<customers>_<seed>` and kept by the backend's `variants`
store (seeder.backends):

- SQLite: a file NAME.db in `$XDG_CACHE_HOME/seeder/variants/` (`~/.cache/seeder/variants/`
  when XDG_CACHE_HOME is unset). It is built under a temporary name and renamed into place,
  so a cached file is always complete.
- PostgreSQL: a database NAME on the learner's server, reached with the learner's URL (user,
  password, options) with only the database name changed. Creating it needs CREATEDB; without
  it, an administrator can create the two databases for the learner (owned by the learner) and
  seeder fills them. One check builds a variant while others wait for it (a session advisory
  lock in the variant database), then they reuse it.
- MySQL/MariaDB: the same, with the learner's database's character set and collation;
  creating it needs the CREATE privilege on it (an administrator can create the two
  databases and grant the learner all privileges on them), and the build is serialised with
  a named server lock (GET_LOCK).

A variant is reused when its last seed_runs row shows the expected seed, number of customers,
scenario and generator version; otherwise it is filled again (a populate with replace).
`drop_variants` removes the variants of a database's populates, or every variant.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, select

from seeder import commands, loading, schema
from seeder.database import Database, Target, open_database
from seeder.errors import ScenarioError, VariantError
from seeder.generator import GENERATOR_VERSION, MAX_SEED
from seeder.models import SeedRun
from seeder.progress import Progress
from seeder.scenario import Referral, Scenario

VARIANT_COUNT = 2
NAME_PREFIX = "seeder_variant_"
_NAME = re.compile(re.escape(NAME_PREFIX) + r"(.+)_(\d+)_(\d+)")


@dataclasses.dataclass(frozen=True)
class Populate:
    """What a seed_runs row records of one populate: enough to make a dataset like it."""

    seed: int
    customers: int
    scenario: dict[str, Any]  # as stored: Scenario.to_dict()


def variant_seeds(seed: int) -> tuple[int, ...]:
    """The hidden variants' seeds, derived from the learner's seed: the same ones every time."""
    seeds = []
    for index in range(1, VARIANT_COUNT + 1):
        digest = hashlib.sha256(f"seeder hidden variant {index} of seed {seed}".encode()).digest()
        seeds.append(int.from_bytes(digest[:8], "big") & MAX_SEED)
    return tuple(seeds)


def variant_name(customers: int, seed: int) -> str:
    return f"{NAME_PREFIX}{GENERATOR_VERSION}_{customers}_{seed}"


def _size_and_seed(name: str) -> tuple[int, int] | None:
    """The number of customers and the seed of a variant's name, of any generator version."""
    match = _NAME.fullmatch(name)
    return None if match is None else (int(match.group(2)), int(match.group(3)))


def hidden_variants(learner: Database, opened: contextlib.ExitStack,
                    progress: Progress | None = None) -> Iterator[tuple[str, Connection]]:
    """("hidden variant N", connection) for each variant of the learner's database, each one
    built or found only when it is asked for; the connections are closed by `opened`."""
    last = _populates(learner, last_only=True)
    if not last:
        raise VariantError(
            f"{learner.display} has no populate on record (its seed_runs table is empty, as "
            "when the data was loaded from CSV files), so the hidden variants to check against "
            "cannot be made; fill it with `seeder populate`")
    populate = last[0]
    scenario = _scenario(populate.scenario)
    seeds = variant_seeds(populate.seed)
    store = learner.backend.variants
    store.reserve(learner, [variant_name(populate.customers, seed) for seed in seeds])
    learner_url = learner.connection.engine.url
    for index, seed in enumerate(seeds, start=1):
        expected = Populate(seed, populate.customers, scenario.to_dict())
        fill = functools.partial(_fill, customers=populate.customers, seed=seed,
                                 scenario=scenario,
                                 progress=_prefixed(progress, f"hidden variant {index}: "))
        connection = store.open(learner_url, variant_name(populate.customers, seed),
                                functools.partial(_holds, expected=expected), fill, opened)
        yield f"hidden variant {index}", connection


def _fill(target: Target, *, customers: int, seed: int, scenario: Scenario,
          progress: Progress | None) -> None:
    """Make the target a variant: the current schema, then the dataset (replacing any)."""
    commands.init_db(target)
    loading.populate(target, customers=customers, seed=seed, scenario=scenario, replace=True,
                      progress=progress)


def drop_variants(target: Target, *, every: bool = False) -> list[str]:
    """Drop the hidden variants of the target's populates (every row of its seed_runs log), or
    with `every` all variants on its server (PostgreSQL: the current user's; MySQL: those it
    can see) or in the cache directory (SQLite). Returns what was dropped: database names, or
    file paths."""
    with open_database(target) as db:
        store = db.backend.variants
        url = db.connection.engine.url
        present = store.names(url, NAME_PREFIX)
        if not every:
            wanted = {(populate.customers, seed) for populate in _populates(db, last_only=False)
                      for seed in variant_seeds(populate.seed)}
            present = [name for name in present if _size_and_seed(name) in wanted]
        return [store.drop(url, name) for name in present]


def _populates(db: Database, *, last_only: bool) -> list[Populate]:
    """The target's seed_runs rows, newest first, read in a transaction rolled back at once
    (the connection may be a caller's, and must be left outside a transaction)."""
    connection = db.connection
    with db.errors():
        transaction = connection.begin()
        try:
            schema.require_current(connection, db.display)
            query = select(SeedRun.seed, SeedRun.customers, SeedRun.scenario).order_by(
                SeedRun.id.desc())
            rows = connection.execute(query.limit(1) if last_only else query).all()
        finally:
            transaction.rollback()
    return [Populate(row.seed, row.customers, row.scenario) for row in rows]


def _scenario(data: dict[str, Any]) -> Scenario:
    """The Scenario that a seed_runs row's JSON was made from (dates are ISO text there)."""
    try:
        referral = {**data["referral"]}
        for key in ("start", "end"):
            referral[key] = dt.date.fromisoformat(referral[key])
        values = {**data, "referral": Referral(**referral),
                  "start": dt.date.fromisoformat(data["start"]),
                  "end": dt.date.fromisoformat(data["end"])}
        return Scenario(**values)
    except (KeyError, TypeError, ValueError, ScenarioError) as error:
        raise VariantError(f"the scenario of the last populate cannot be read back ({error}); "
                           "populate the database again with this seeder") from None


def _holds(connection: Connection, *, expected: Populate) -> bool:
    """Whether the variant is at the current schema and its last populate is `expected` (read
    in the connection's transaction, which the caller ends)."""
    if schema.current_revision(connection) != schema.HEAD_REVISION:
        return False
    last = connection.execute(
        select(SeedRun.seed, SeedRun.customers, SeedRun.scenario,
               SeedRun.generator_version).order_by(SeedRun.id.desc()).limit(1)).first()
    return last is not None and last.generator_version == GENERATOR_VERSION and (
        Populate(last.seed, last.customers, last.scenario) == expected)


def _prefixed(progress: Progress | None, prefix: str) -> Progress | None:
    if progress is None:
        return None
    return lambda phase, done, total: progress(prefix + phase, done, total)
