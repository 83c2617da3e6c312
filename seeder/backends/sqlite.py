"""SQLite: prepared executemany into tables without secondary indexes, then the indexes.

Foreign keys are switched off for the load (SQLite can only do that outside a transaction)
and checked as a whole with PRAGMA foreign_key_check before the transaction commits.
Python's sqlite3 commits on its own around some statements; seeder's connections leave
transaction control to seeder (isolation_level None), and `begin()` opens the transaction
with an explicit BEGIN, so DDL and data change together, as on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.schema import CreateIndex, DropIndex

from seeder.backends import Backend, Deadline, Fill, Rows
from seeder.batch import Batch
from seeder.database import Database, open_database
from seeder.errors import Busy, DatabaseError, SeederError, VariantError
from seeder.formats import python_rows
from seeder.models import DATA_TABLES
from seeder.progress import ANALYZING, INDEXING, Progress
from seeder.urls import bool_option, float_option

# How often SQLite calls the progress handler that enforces a learner's query's time limit:
# every this many virtual-machine instructions (well under a millisecond).
_PROGRESS_STEPS = 10_000


def sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL opens, or None for an in-memory database."""
    name = url.database
    if url.query.get("uri") in ("true", "1") and name and name.startswith("file:"):
        # sqlite:///file:PATH?mode=ro&uri=true: an SQLite URI filename.
        parts = urllib.parse.urlsplit(name)
        if "memory" in urllib.parse.parse_qs(parts.query).get("mode", []) or not parts.path:
            return None
        return Path(urllib.parse.unquote(parts.path))
    if not name or name == ":memory:":
        return None
    return Path(name)


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


class SQLiteVariants:
    """Variants as files NAME.db in the cache directory."""

    def reserve(self, learner: Database, names: Sequence[str]) -> None:
        pass  # files need no one's permission

    def open(self, learner_url: URL, name: str, current: Callable[[Connection], bool],
             fill: Fill, opened: contextlib.ExitStack) -> Connection:
        """A connection to the variant's file, built first unless it is current."""
        path = cache_directory() / f"{name}.db"
        if not (path.exists() and self._current(path, current)):
            self._build(path, fill)
        return opened.enter_context(open_database(self._url(path))).connection

    def _current(self, path: Path, current: Callable[[Connection], bool]) -> bool:
        with open_database(self._url(path)) as db, db.transaction() as connection:
            return current(connection)

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

    def names(self, learner_url: URL, prefix: str) -> list[str]:
        return sorted(path.stem for path in cache_directory().glob(f"{prefix}*.db"))

    def drop(self, learner_url: URL, name: str) -> str:
        path = cache_directory() / f"{name}.db"
        path.unlink(missing_ok=True)
        return str(path)

    def _url(self, path: Path) -> URL:
        return URL.create("sqlite+pysqlite", database=str(path))


class SQLiteBackend(Backend):
    name = "sqlite"
    title = "SQLite"
    schemes = {"sqlite": "sqlite+pysqlite"}
    driver_errors = (sqlite3.Error,)
    variants = SQLiteVariants()

    def check_url(self, url: URL) -> None:
        # No database name is an in-memory database; options are sqlite3.connect() arguments.
        float_option(url, "timeout", 0, 3600)
        bool_option(url, "check_same_thread")
        bool_option(url, "uri")

    def create_engine(self, url: URL) -> Engine:
        engine = create_engine(url)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA foreign_keys=ON")

        return engine

    def missing_database(self, url: URL) -> str | None:
        path = sqlite_file(url)
        if path is not None and not path.exists():
            return f"{path} does not exist; run `seeder init-db` first"
        return None

    def remove_new_database(self, url: URL) -> None:
        path = sqlite_file(url)
        if path is not None:
            for suffix in ("", "-journal", "-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)

    def begin(self, connection: Connection, *, write: bool) -> None:
        # BEGIN IMMEDIATE takes the write lock up front: a second writer is turned away before
        # it does any work. A caller's transaction that is already open is used as it is.
        if not connection.connection.driver_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    def error(self, error: Exception, display: str, engine: Engine | None = None
              ) -> SeederError:
        reason = self.reason(error)
        if "database is locked" in reason:
            return Busy(f"cannot use {display}: {reason} (a populate or another writer is "
                        "writing to it; try again when it is done)")
        if "database or disk is full" in reason:
            return DatabaseError(
                f"cannot use {display}: {reason}; free some space (leave any -journal file "
                "beside the database where it is: SQLite restores the file from it the next "
                "time the database is opened)")
        return super().error(error, display)

    def lock(self, connection: Connection, display: str, *, wait: bool) -> None:
        pass  # begin(write=True) took SQLite's write lock with BEGIN IMMEDIATE

    def interrupter(self, connection: Connection) -> Callable[[], None]:
        return connection.connection.driver_connection.interrupt

    def loader(self, connection: Connection) -> SQLiteLoader:
        return SQLiteLoader(connection)

    @contextlib.contextmanager
    def read_only_rows(self, connection: Connection, query: str, deadline: Deadline | None
                       ) -> Iterator[Rows]:
        # sqlite3 refuses a second statement; PRAGMA query_only refuses writes.
        dbapi_connection = connection.connection.driver_connection
        (was_query_only,) = dbapi_connection.execute("PRAGMA query_only").fetchone()
        dbapi_connection.execute("PRAGMA query_only = ON")
        if deadline is not None:
            # A true return value interrupts the statement ("interrupted").
            dbapi_connection.set_progress_handler(deadline.over, _PROGRESS_STEPS)
        try:
            cursor = dbapi_connection.execute(query)
            try:
                yield cursor.description, iter(cursor)
            finally:
                cursor.close()
        finally:
            dbapi_connection.set_progress_handler(None, 0)
            if not was_query_only:
                dbapi_connection.execute("PRAGMA query_only = OFF")

    def timed_out(self, error: Exception) -> bool:
        return isinstance(error, sqlite3.OperationalError)  # the progress handler's "interrupted"


class SQLiteLoader:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._indexes = [index for table in DATA_TABLES for index in table.indexes]
        self._inserts: dict[str, str] = {}

    @contextlib.contextmanager
    def settings(self) -> Iterator[None]:
        # foreign_keys can only change outside a transaction; inside a caller's transaction
        # the load runs with the caller's setting. (A page cache larger than the default was
        # measured to make the load slower and the index builds hungrier.)
        dbapi_connection = self._connection.connection.driver_connection
        if dbapi_connection.in_transaction:
            yield
            return
        enforced = dbapi_connection.execute("PRAGMA foreign_keys").fetchone()[0]
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            yield
        finally:
            dbapi_connection.execute(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")

    def start(self) -> None:
        for table in reversed(DATA_TABLES):
            self._connection.execute(table.delete())
        for index in self._indexes:
            self._connection.execute(DropIndex(index, if_exists=True))

    def encode(self, batch: Batch) -> list[tuple]:
        return python_rows(batch)

    def write(self, batch: Batch, encoded: list[tuple]) -> None:
        statement = self._inserts.get(batch.table)
        if statement is None:
            quote = self._connection.dialect.identifier_preparer.quote
            statement = "INSERT INTO {} ({}) VALUES ({})".format(
                quote(batch.table),
                ", ".join(map(quote, batch.columns)),
                ", ".join("?" * len(batch.columns)),
            )
            self._inserts[batch.table] = statement
        self._connection.connection.driver_connection.executemany(statement, encoded)

    def finish(self, progress: Progress) -> None:
        for done, index in enumerate(self._indexes):
            progress(INDEXING, done, len(self._indexes))
            self._connection.execute(CreateIndex(index))
        progress(INDEXING, len(self._indexes), len(self._indexes))
        broken = self._connection.exec_driver_sql("PRAGMA foreign_key_check").first()
        if broken is not None:
            raise SeederError(f"generated data breaks a foreign key of table {broken[0]}; "
                              "this is a seeder bug: please report it with the seed and size")
        for done, table in enumerate(DATA_TABLES):
            progress(ANALYZING, done, len(DATA_TABLES))
            self._connection.exec_driver_sql(f'ANALYZE "{table.name}"')
        progress(ANALYZING, len(DATA_TABLES), len(DATA_TABLES))


backend = SQLiteBackend()
