"""Backends: everything that differs between databases, one module per backend.

The rest of seeder holds no `if dialect == ...`: it asks the backend of a URL or a connection.
A backend module defines a subclass of `Backend` and exposes one instance named `backend`;
`BACKENDS` below maps each SQLAlchemy dialect name to its module. Adding a backend is one new
module, one line in BACKENDS, and its tests.

The interface (what each backend provides):

- `name`, `title`, `schemes`: the dialect name, the product's name for messages, and the URL
  schemes users write for it with the SQLAlchemy driver each one means (`postgresql://` ->
  `postgresql+psycopg`).
- `transactional_ddl`: whether schema changes wait for the transaction's commit; without it
  seeder writes only in transactions of its own, never in a caller's.
- `driver_url(url)`: the URL with seeder's driver, its options checked by `check_url(url)`
  (DatabaseURLError).
- `create_engine(url)`: an engine with seeder's connect arguments (timeouts) and per-connection
  setup; `missing_database(url)` says when the database does not exist and must not be
  created implicitly (a SQLite file), and `remove_new_database(url)` removes what a failed
  first use (init-db on a full disk) created.
- `begin(connection, write=...)`: turns SQLAlchemy's transaction into a real one on the server
  (SQLite's BEGIN / BEGIN IMMEDIATE) and sets session limits (lock timeouts); `end(connection)`
  runs after that transaction's commit or rollback (releasing what outlives transactions).
- `error(error, display)`: a driver or SQLAlchemy error as the SeederError the user sees,
  one line with the driver's own reason (`reason(error)`); `driver_errors`: the exception
  types the driver raises from calls seeder makes on it directly (COPY, executemany).
- `lock(connection, display, wait=...)`: the lock that lets one populate or schema change
  run at a time; a populate does not wait for it, schema changes wait a bounded time.
- `interrupter(connection)`: a function, callable from any thread, that cancels the statement
  the connection is running.
- `loader(connection)`: a `Loader` for one populate: load settings, setting keys and indexes
  aside, encoding and writing batches, rebuilding, integrity checks and ANALYZE.
- `parallel_load(database)` (optional): a `ParallelLoad` for a populate over several
  connections, whose workers write through `staging_loader(connection, staging)`; backends
  without one refuse `workers` > 1.

For the SQL exercises (seeder.exercises), which check a learner's query:

- `read_only_rows(connection, query, deadline)`: a context manager that runs one learner's
  query, inside the caller's transaction (which the caller rolls back), so that it can neither
  write nor run a second statement, and yields its column description and an iterator over
  its rows (streamed, not held); `deadline` (when not None) is its time limit, enforced by the
  database where it can be; `timed_out(error)` says whether a driver error is the database
  stopping the query for that limit, and `query_message(error)` is a failing query's error as
  the learner sees it, in the database's own words, one line.
- `variants`: a `VariantStore`, where the hidden variant datasets of a learner's database are
  kept (files, or databases on the learner's server), built and reused.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from seeder.batch import Batch
from seeder.errors import DatabaseError, DatabaseURLError, InvalidArgument, SeederError
from seeder.progress import Progress
from seeder.urls import display_url

if TYPE_CHECKING:
    from seeder.database import Database

# dialect name -> the module that serves it.
BACKENDS = {
    "sqlite": "seeder.backends.sqlite",
    "postgresql": "seeder.backends.postgresql",
    "mysql": "seeder.backends.mysql",
}

class Loader(Protocol):
    """Bulk-loads one dataset inside the caller's transaction, all or nothing."""

    def settings(self) -> AbstractContextManager[None]:
        """Connection settings for the load; entered before the transaction begins."""

    def start(self) -> None:
        """Empty the data tables and set their keys and indexes aside for a bulk load."""

    def encode(self, batch: Batch) -> Any:
        """The batch in the form write() sends; pure, so it can run in another thread."""

    def write(self, batch: Batch, encoded: Any) -> None:
        """Append the batch's rows, as encode() returned them, to its table."""

    def finish(self, progress: Progress) -> None:
        """Rebuild what start() set aside, check integrity, ANALYZE; the schema ends as
        migrated."""


class ParallelLoad(Protocol):
    """A populate over several connections. Entered: the populate lock is held for the whole
    run; left: the staging area is gone, swapped in or dropped."""

    staging: str  # what workers pass to Backend.staging_loader

    def __enter__(self) -> ParallelLoad: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def prepare(self) -> None:
        """Create the empty staging area; committed by the caller for the workers to see."""

    def build(self, progress: Progress) -> None:
        """Keys, indexes and statistics on the loaded staging area."""

    def swap(self, progress: Progress) -> None:
        """Put the staging area in place of the live tables, in the caller's transaction."""


class Deadline(Protocol):
    """The time limit of one learner's query."""

    seconds: float  # the whole limit, for a database's own per-statement timeout

    def over(self) -> bool:
        """Whether the time is up (cheap: called often while a query runs)."""


# What read_only_rows yields: the DB-API cursor description, and the rows.
Rows = tuple[Sequence[Sequence[Any]], Iterator[Sequence[Any]]]
# Makes a variant: the current schema, then its dataset (replacing any), at the URL given.
Fill = Callable[[URL], None]


class VariantStore(Protocol):
    """Where one backend keeps hidden variant datasets, by name (seeder.exercises.variants
    chooses the names and what they hold)."""

    def reserve(self, learner: Database, names: Sequence[str]) -> None:
        """Make room for the named variants of the learner's database, such as creating
        the databases; a VariantError says what the learner lacks to do so."""

    def open(self, learner_url: URL, name: str, current: Callable[[Connection], bool],
             fill: Fill, opened: contextlib.ExitStack) -> Connection:
        """A connection to the variant, outside a transaction and closed by `opened`; filled
        first unless `current` (run in a transaction that is then ended) says it holds the
        expected dataset. Two checks at once do not both fill it."""

    def names(self, learner_url: URL, prefix: str) -> list[str]:
        """The variants present (those that the learner's user owns), sorted."""

    def drop(self, learner_url: URL, name: str) -> str:
        """Remove one variant; what was removed, as users see it (a name or a path)."""


class Backend:
    """One database product: see the module docstring for what each member does."""

    name: ClassVar[str]
    title: ClassVar[str]
    transactional_ddl: ClassVar[bool] = True
    # URL scheme users write -> SQLAlchemy driver name seeder uses for it.
    schemes: ClassVar[dict[str, str]]
    driver_errors: ClassVar[tuple[type[Exception], ...]]

    def driver_url(self, url: URL) -> URL:
        scheme, _, driver = url.drivername.partition("+")
        ours = self.schemes[scheme]
        if driver and driver != ours.partition("+")[2] and url.drivername != ours:
            raise DatabaseURLError(f"unsupported driver {driver!r} in {scheme}://; write "
                                   f"{scheme}:// (seeder uses {ours})")
        self.check_url(url)
        return url.set(drivername=ours)

    def check_url(self, url: URL) -> None:
        """Refuse what the driver would misread: by default, a URL without a database name
        (a server would silently pick a default database)."""
        if not url.database:
            example = display_url(url.set(database="DATABASE"))
            raise DatabaseURLError(
                f"the database URL {display_url(url)} names no database; add it, as in {example}")

    def create_engine(self, url: URL) -> Engine:
        raise NotImplementedError

    def missing_database(self, url: URL) -> str | None:
        """A message when the database does not exist and must not be created, else None."""
        return None

    def remove_new_database(self, url: URL) -> None:
        """Remove what connecting to a missing database created, after a failed first use."""

    def begin(self, connection: Connection, *, write: bool) -> None:
        """Make the transaction SQLAlchemy began a real one, with seeder's session limits."""

    def end(self, connection: Connection) -> None:
        """After the transaction's commit or rollback: release what the session still holds."""

    def error(self, error: Exception, display: str, engine: Engine | None = None
              ) -> SeederError:
        """The error as users see it: which database, and the driver's reason in one line.
        `engine` (when the error came on one of its connections) lets a backend look up more,
        such as who holds a lock it waited for."""
        return DatabaseError(f"cannot use {display}: {self.reason(error)}")

    def reason(self, error: Exception) -> str:
        """The driver's message, first line only (it names the cause, never the password)."""
        original = error.orig if isinstance(error, DBAPIError) else error
        lines = str(original or error).strip().splitlines()
        return lines[0] if lines else type(original or error).__name__

    def lock(self, connection: Connection, display: str, *, wait: bool) -> None:
        """Busy unless this transaction now holds the populate and schema lock."""
        raise NotImplementedError

    def interrupter(self, connection: Connection) -> Callable[[], None]:
        raise NotImplementedError

    def loader(self, connection: Connection) -> Loader:
        raise NotImplementedError

    def parallel_load(self, database: Database) -> ParallelLoad:
        raise InvalidArgument(f"loading over several connections is for PostgreSQL; load "
                              f"{self.title} databases with one worker")

    def staging_loader(self, connection: Connection, staging: str) -> Loader:
        raise NotImplementedError

    variants: ClassVar[VariantStore]

    def read_only_rows(self, connection: Connection, query: str, deadline: Deadline | None
                       ) -> AbstractContextManager[Rows]:
        raise NotImplementedError

    def timed_out(self, error: Exception) -> bool:
        raise NotImplementedError

    def query_message(self, error: Exception) -> str:
        """By default the driver's message, first line only."""
        return self.reason(error)


def backend_named(dialect: str) -> Backend:
    """The backend of a SQLAlchemy dialect name; a clear error for one seeder does not serve."""
    module = BACKENDS.get(dialect)
    if module is None:
        raise DatabaseURLError(
            f"seeder does not support {dialect} databases; use one of: {', '.join(BACKENDS)}")
    return importlib.import_module(module).backend


def backend_for_url(url: URL) -> Backend:
    """The backend whose URL schemes include the URL's (`postgres://` is PostgreSQL's)."""
    scheme = url.drivername.partition("+")[0]
    for dialect in BACKENDS:
        backend = backend_named(dialect)
        if scheme in backend.schemes:
            return backend
    known = ", ".join(f"{s}://" for d in BACKENDS for s in backend_named(d).schemes)
    raise DatabaseURLError(f"unsupported database URL scheme {scheme!r}; use {known}")
