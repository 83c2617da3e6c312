"""Targets: the database a caller hands in, as a URL, an Engine or a Connection.

`open_database(target)` gives a `Database`: a connection, the backend that serves it, and how
to name it to users (never with a password). What seeder owns it also closes: an engine made
from a URL is disposed, a connection taken from a caller's engine is closed, and a caller's
connection is left open, in its transaction, uncommitted.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from seeder.backends import Backend, backend_for_url, backend_named
from seeder.errors import CommitOutcomeUnknown, DatabaseError, InvalidArgument
from seeder.urls import display_url, parse_database_url

Target = str | URL | Engine | Connection


@dataclasses.dataclass
class Database:
    """A connection to the target, its backend, and its name as users may see it."""

    connection: Connection
    backend: Backend
    display: str
    # False for a caller's Connection: its transaction is the caller's to commit.
    owns_transaction: bool

    @contextlib.contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """One transaction: committed at the end when seeder owns it, else left to the caller.

        Database errors leave as SeederErrors; a failed COMMIT says whether the outcome is known.
        """
        connection = self.connection
        if write and not self.owns_transaction and not self.backend.transactional_ddl:
            raise InvalidArgument(
                f"{self.backend.title} commits schema changes at once, so seeder cannot leave "
                "its writes to your transaction: pass a URL or an Engine, not a Connection")
        with self.errors():
            if self.owns_transaction:
                connection.begin()
            self.backend.begin(connection, write=write)
        try:
            try:
                with self.errors():
                    yield connection
            except BaseException:
                if self.owns_transaction:
                    with contextlib.suppress(Exception):
                        connection.rollback()
                raise
            if self.owns_transaction:
                self._commit()
        finally:
            self.backend.end(connection)

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """Database and driver errors inside, as the backend's one-line SeederErrors."""
        try:
            yield
        except (DBAPIError, *self.backend.driver_errors) as error:
            raise self.backend.error(error, self.display, self.connection.engine) from None

    def _commit(self) -> None:
        try:
            self.connection.commit()
        except (DBAPIError, *self.backend.driver_errors) as error:
            failure = self.backend.error(error, self.display)
            if isinstance(error, DBAPIError) and error.connection_invalidated:
                raise CommitOutcomeUnknown(
                    f"{failure}; the connection was lost during COMMIT, so whether the data "
                    "was written is unknown: check with `seeder info`") from None
            raise failure from None


def _database_for_connection(connection: Connection, owns: bool) -> Database:
    return Database(connection, backend_named(connection.dialect.name),
                    display_url(connection.engine.url), owns)


@contextlib.contextmanager
def open_database(target: Target, *, must_exist: bool = True) -> Iterator[Database]:
    """The target as a Database; `must_exist` refuses to create a missing SQLite file."""
    if isinstance(target, Connection):
        yield _database_for_connection(target, owns=False)
        return
    if isinstance(target, Engine):
        with _connected(target, display_url(target.url)) as connection:
            yield _database_for_connection(connection, owns=True)
        return
    url = parse_database_url(target) if isinstance(target, str) else target
    backend = backend_for_url(url)
    url = backend.driver_url(url)
    missing = backend.missing_database(url)
    if must_exist and missing:
        raise DatabaseError(missing)
    engine = backend.create_engine(url)
    try:
        with _connected(engine, display_url(url)) as connection:
            yield Database(connection, backend, display_url(url), owns_transaction=True)
    except BaseException:
        engine.dispose()
        if missing:  # what a failed first use created (an empty SQLite file) goes again
            backend.remove_new_database(url)
        raise
    finally:
        engine.dispose()


@contextlib.contextmanager
def _connected(engine: Engine, display: str) -> Iterator[Connection]:
    backend = backend_named(engine.dialect.name)
    try:
        connection = engine.connect()
    except (DBAPIError, *backend.driver_errors) as error:
        raise backend.error(error, display) from None
    with connection:
        yield connection


@contextlib.contextmanager
def autocommit(url: URL) -> Iterator[Connection]:
    """A connection to `url` in autocommit mode (CREATE and DROP DATABASE need one), its
    errors as SeederErrors."""
    with open_database(url) as db, db.errors():
        yield db.connection.execution_options(isolation_level="AUTOCOMMIT")
