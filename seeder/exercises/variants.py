"""Hidden variants: datasets like the learner's, from other seeds, that a check also runs on.

An answer that only fits the learner's rows (hard-coded values, a particular id) gives the
right result on the learner's database and a wrong one on a variant. A variant has:

- the learner's backend and server;
- the scenario and number of customers of the learner's last populate (its seed_runs row);
  a database without one (loaded from CSV) cannot be checked;
- one of two seeds derived from the learner's seed (`variant_seeds`), the same two every time.

Building a variant takes as long as a populate of that size, so variants are kept and reused
by every later check, of any database with the same last populate. Each is named
`seeder_variant_<generator version>_<customers>_<seed>`:

- SQLite: a file NAME.db in `$XDG_CACHE_HOME/seeder/variants/` (`~/.cache/seeder/variants/`
  when XDG_CACHE_HOME is unset). It is built under a temporary name and renamed into place,
  so a cached file is always complete.
- PostgreSQL: a database NAME on the learner's server, reached with the learner's URL (user,
  password, options) with only the database name changed. Creating it needs CREATEDB; without
  it, an administrator can create the two databases for the learner (owned by the learner) and
  seeder fills them. One check builds a variant while others wait for it (a session advisory
  lock in the variant database), then they reuse it.

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
import os
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from seeder import commands, loading, schema
from seeder.database import Database, Target, open_database
from seeder.errors import InvalidArgument, ScenarioError, VariantError
from seeder.generator import GENERATOR_VERSION, MAX_SEED
from seeder.models import SeedRun
from seeder.progress import Progress
from seeder.scenario import Referral, Scenario

VARIANT_COUNT = 2
NAME_PREFIX = "seeder_variant_"
_NAME = re.compile(re.escape(NAME_PREFIX) + r"(.+)_(\d+)_(\d+)")
# Held in a variant database while one check finds out whether it is current and fills it; any
# fixed number other than populate's own advisory lock key.
_BUILD_LOCK_KEY = 0x5EED_E5


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


def cache_directory() -> Path:
    """Where SQLite variants are kept: $XDG_CACHE_HOME/seeder/variants, else ~/.cache/..."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG rule: a relative path is ignored
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:
            raise VariantError("cannot tell where to cache the hidden variants (no home "
                               "directory); set XDG_CACHE_HOME to a directory") from None
    return Path(base) / "seeder" / "variants"


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
    store = _store(learner)
    store.reserve(learner, [variant_name(populate.customers, seed) for seed in seeds])
    learner_url = learner.connection.engine.url
    for index, seed in enumerate(seeds, start=1):
        expected = Populate(seed, populate.customers, scenario.to_dict())
        fill = functools.partial(_fill, customers=populate.customers, seed=seed,
                                 scenario=scenario,
                                 progress=_prefixed(progress, f"hidden variant {index}: "))
        connection = store.open(learner_url, variant_name(populate.customers, seed), expected,
                                fill, opened)
        yield f"hidden variant {index}", connection


def _fill(target: Target, *, customers: int, seed: int, scenario: Scenario,
          progress: Progress | None) -> None:
    """Make the target a variant: the current schema, then the dataset (replacing any)."""
    commands.init_db(target)
    loading.populate(target, customers=customers, seed=seed, scenario=scenario, replace=True,
                      progress=progress)


def drop_variants(target: Target, *, every: bool = False) -> list[str]:
    """Drop the hidden variants of the target's populates (every row of its seed_runs log), or
    with `every` all variants on its server (PostgreSQL: the current user's) or in the cache
    directory (SQLite). Returns what was dropped: database names, or file paths."""
    with open_database(target) as db:
        store = _store(db)
        url = db.connection.engine.url
        present = store.names(url)
        if not every:
            wanted = {(populate.customers, seed) for populate in _populates(db, last_only=False)
                      for seed in variant_seeds(populate.seed)}
            present = [name for name in present if _size_and_seed(name) in wanted]
        return [store.drop(url, name) for name in present]


def _store(db: Database) -> _SQLiteVariants | _PostgresVariants:
    store = _STORES.get(db.backend.name)
    if store is None:
        raise InvalidArgument(f"hidden variants work on SQLite and PostgreSQL, not "
                              f"{db.backend.name}")
    return store


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


def _holds(connection: Connection, expected: Populate) -> bool:
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


Fill = Callable[[Target], None]


class _SQLiteVariants:
    """Variants as files in the cache directory."""

    def reserve(self, learner: Database, names: Sequence[str]) -> None:
        pass  # files need no one's permission

    def open(self, learner_url: URL, name: str, expected: Populate, fill: Fill,
             opened: contextlib.ExitStack) -> Connection:
        """A connection to the variant's file, built first unless it holds `expected`."""
        path = cache_directory() / f"{name}.db"
        if not (path.exists() and self._holds(path, expected)):
            self._build(path, fill)
        return opened.enter_context(open_database(self._url(path))).connection

    def _holds(self, path: Path, expected: Populate) -> bool:
        with open_database(self._url(path)) as db, db.transaction() as connection:
            return _holds(connection, expected)

    def _build(self, path: Path, fill: Fill) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise VariantError(f"cannot create {path.parent} for the hidden variants: "
                               f"{error.strerror}; set XDG_CACHE_HOME to a writable "
                               "directory") from None
        # Built aside and renamed into place: a cached file is always complete, and a check
        # reading the old file meanwhile keeps reading it.
        partial = path.with_name(f"{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.partial")
        try:
            fill(self._url(partial))
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)

    def names(self, learner_url: URL) -> list[str]:
        return sorted(path.stem for path in cache_directory().glob(f"{NAME_PREFIX}*.db"))

    def drop(self, learner_url: URL, name: str) -> str:
        path = cache_directory() / f"{name}.db"
        path.unlink(missing_ok=True)
        return str(path)

    def _url(self, path: Path) -> URL:
        return URL.create("sqlite+pysqlite", database=str(path))


class _PostgresVariants:
    """Variants as databases on the learner's server."""

    def reserve(self, learner: Database, names: Sequence[str]) -> None:
        """Create the variant databases that do not exist yet."""
        connection = learner.connection
        with learner.errors():
            existing = set(connection.scalars(
                text("SELECT datname FROM pg_database WHERE datname = ANY(:names)"),
                {"names": list(names)}))
            connection.rollback()
        missing = [name for name in names if name not in existing]
        if not missing:
            return
        with _autocommit(connection.engine.url) as server:
            for name in missing:
                try:
                    server.exec_driver_sql(f"CREATE DATABASE {self._quote(server, name)}")
                except DBAPIError as error:
                    if isinstance(error.orig, psycopg.errors.InsufficientPrivilege):
                        user = server.scalar(text("SELECT current_user"))
                        raise VariantError(
                            f"a check compares your result on hidden variant databases on "
                            f"the same server, and {user} may not create them "
                            f"({error.orig.diag.message_primary}); ask an administrator to "
                            f"grant it (ALTER ROLE {user} CREATEDB), or to create the "
                            f"databases {' and '.join(names)} owned by {user}") from None
                    # Another check may have created it since `existing` was read.
                    if not isinstance(error.orig, psycopg.errors.DuplicateDatabase
                                      | psycopg.errors.UniqueViolation):
                        raise

    def open(self, learner_url: URL, name: str, expected: Populate, fill: Fill,
             opened: contextlib.ExitStack) -> Connection:
        """A connection to the variant database, filled first unless it holds `expected`.

        The session advisory lock makes a second check wait while one fills the variant; it
        is taken outside seeder's transactions, which would give up after the lock timeout.
        """
        url = learner_url.set(database=name)
        db = opened.enter_context(open_database(url))
        connection = db.connection
        with db.errors():
            connection.execute(select(func.pg_advisory_lock(_BUILD_LOCK_KEY)))
            try:
                current = _holds(connection, expected)
                connection.rollback()
                if not current:
                    fill(url)
            finally:
                connection.rollback()  # a failed read leaves its transaction unusable
                connection.execute(select(func.pg_advisory_unlock(_BUILD_LOCK_KEY)))
                connection.commit()
        return connection

    def names(self, learner_url: URL) -> list[str]:
        with _autocommit(learner_url) as connection:
            return list(connection.scalars(text(
                "SELECT datname FROM pg_database WHERE datname LIKE :prefix "
                "AND datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
                "ORDER BY datname"), {"prefix": NAME_PREFIX.replace("_", r"\_") + "%"}))

    def drop(self, learner_url: URL, name: str) -> str:
        with _autocommit(learner_url) as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {self._quote(connection, name)}")
        return name

    def _quote(self, connection: Connection, name: str) -> str:
        return connection.dialect.identifier_preparer.quote(name)


@contextlib.contextmanager
def _autocommit(url: URL) -> Iterator[Connection]:
    """A connection to `url` in autocommit mode (CREATE and DROP DATABASE need one), its
    errors as SeederErrors."""
    with open_database(url) as db, db.errors():
        yield db.connection.execution_options(isolation_level="AUTOCOMMIT")


_STORES = {"sqlite": _SQLiteVariants(), "postgresql": _PostgresVariants()}
