"""PostgreSQL (psycopg 3): binary COPY into staging tables, keys and indexes built there, then
one short swap that puts the new tables in place of the old.

Loading into tables whose keys and indexes exist is 3-4 times slower than building them
afterwards (pg_restore's way). Building them on the live tables would hold ACCESS EXCLUSIVE
locks for the whole run and lock every reader out; instead the load goes into bare tables of a
private schema created inside the populate's transaction, so readers keep seeing the old
dataset until the end. The swap then locks the live tables (waiting a bounded time, and naming
the session that holds them when it cannot), drops them, moves the new ones into their schema,
and recreates the views that depend on them. It is all one transaction: a failure anywhere
leaves the old dataset and no staging schema behind.

Rows travel in PostgreSQL's binary COPY format, laid out by NumPy whole columns at a time, so
the server parses no text.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import psycopg
from psycopg import sql
from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    Engine,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Uuid,
    create_engine,
    func,
    select,
    text,
)
from sqlalchemy.engine import URL, Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import (
    AddConstraint,
    CreateIndex,
    CreateTable,
    DropConstraint,
    SetColumnComment,
    SetTableComment,
)

from seeder import bytestrings
from seeder.backends import Backend, Deadline, Rows
from seeder.backends.server_variants import ServerVariants
from seeder.batch import Batch
from seeder.database import Database
from seeder.errors import Busy, InvalidArgument, SeederError, VariantError
from seeder.models import DATA_TABLES
from seeder.progress import ANALYZING, INDEXING, SWAPPING, Progress
from seeder.urls import int_option

# Fail fast when a host does not answer, rather than hanging on TCP retries; and notice a
# server that has gone away mid-run (a network partition) within about a minute: TCP
# keepalives for an idle connection, tcp_user_timeout for data the server never acknowledges.
CONNECT_ARGUMENTS = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 30,
                     "keepalives_interval": 10, "keepalives_count": 3,
                     "tcp_user_timeout": 60_000}
# The longest any statement of seeder waits for a lock before it says who holds it.
LOCK_TIMEOUT_SECONDS = 10
# The swap waits in short attempts, so that readers queued behind it get through in between.
SWAP_ATTEMPT_SECONDS = 2
SWAP_WAIT_SECONDS = 60
# Index builds are sort-bound; more memory than the 64 MB default makes them much faster.
MAINTENANCE_WORK_MEM = "512MB"
# Any fixed number: the key of the advisory lock that one populate (or schema change) holds.
POPULATE_LOCK_KEY = 0x5EED_E4
STAGING_SCHEMA_PREFIX = "seeder_load_"
# Rows per FETCH of a learner's query's server-side cursor.
FETCH_SIZE = 2_000
# Held in a variant database while one check finds out whether it is current and fills it; any
# fixed number other than POPULATE_LOCK_KEY.
VARIANT_BUILD_LOCK_KEY = 0x5EED_E5


class PostgresVariants(ServerVariants):
    """Variant databases owned by the learner's role."""

    NAMES_SQL = ("SELECT datname FROM pg_database WHERE datname LIKE :prefix "
                 "AND datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
                 "ORDER BY datname")

    def existing(self, connection: Connection, names: Sequence[str]) -> set[str]:
        return set(connection.scalars(
            text("SELECT datname FROM pg_database WHERE datname = ANY(:names)"),
            {"names": list(names)}))

    def create_statement(self, connection: Connection) -> str:
        return "CREATE DATABASE {name}"

    def refusal(self, server: Connection, error: DBAPIError, names: Sequence[str]
                ) -> VariantError | None:
        if not isinstance(error.orig, psycopg.errors.InsufficientPrivilege):
            return None
        user = server.scalar(text("SELECT current_user"))
        return VariantError(
            f"a check compares your result on hidden variant databases on the same server, and "
            f"{user} may not create them ({error.orig.diag.message_primary}); ask an "
            f"administrator to grant it (ALTER ROLE {user} CREATEDB), or to create the "
            f"databases {' and '.join(names)} owned by {user}")

    def exists_already(self, error: DBAPIError) -> bool:
        return isinstance(error.orig, psycopg.errors.DuplicateDatabase
                          | psycopg.errors.UniqueViolation)

    @contextlib.contextmanager
    def building(self, connection: Connection, name: str) -> Iterator[None]:
        connection.execute(select(func.pg_advisory_lock(VARIANT_BUILD_LOCK_KEY)))
        try:
            yield
        finally:
            connection.rollback()
            connection.execute(select(func.pg_advisory_unlock(VARIANT_BUILD_LOCK_KEY)))
            connection.commit()


class PostgresBackend(Backend):
    name = "postgresql"
    title = "PostgreSQL"
    schemes = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
    driver_errors = (psycopg.Error,)
    variants = PostgresVariants()

    def check_url(self, url: URL) -> None:
        super().check_url(url)
        int_option(url, "port", 1, 65535)  # libpq also takes the port as an option

    def create_engine(self, url: URL) -> Engine:
        return create_engine(url, connect_args=CONNECT_ARGUMENTS)

    def begin(self, connection: Connection, *, write: bool) -> None:
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_SECONDS}s'")

    def error(self, error: Exception, display: str, engine: Engine | None = None
              ) -> SeederError:
        original = error.orig if isinstance(error, DBAPIError) else error
        if isinstance(original, psycopg.errors.LockNotAvailable):
            holders = _lock_holders(engine) if engine is not None else ""
            return Busy(f"cannot use {display}: waited {LOCK_TIMEOUT_SECONDS} s for a lock on a "
                        f"seeder table{holders}; try again when it is done")
        return super().error(error, display)

    def lock(self, connection: Connection, display: str, *, wait: bool) -> None:
        busy = Busy(f"another seeder populate or schema change is running on {display}; "
                    "try again when it is done")
        if not wait:
            if not connection.scalar(select(func.pg_try_advisory_xact_lock(POPULATE_LOCK_KEY))):
                raise busy
            return
        savepoint = connection.begin_nested()
        try:
            connection.execute(select(func.pg_advisory_xact_lock(POPULATE_LOCK_KEY)))
        except DBAPIError as error:
            savepoint.rollback()
            if isinstance(error.orig, psycopg.errors.LockNotAvailable):
                raise busy from None
            raise
        savepoint.commit()

    def interrupter(self, connection: Connection) -> Callable[[], None]:
        driver = connection.connection.driver_connection
        return driver.cancel

    def loader(self, connection: Connection) -> PostgresLoader:
        return PostgresLoader(connection)

    def parallel_load(self, database: Database) -> PostgresParallelLoad:
        return PostgresParallelLoad(database)

    def staging_loader(self, connection: Connection, staging: str) -> PostgresLoader:
        return PostgresLoader(connection, staging)

    @contextlib.contextmanager
    def read_only_rows(self, connection: Connection, query: str, deadline: Deadline | None
                       ) -> Iterator[Rows]:
        # A server-side cursor (DECLARE ... CURSOR FOR) over the extended protocol takes one
        # statement, and only a SELECT or VALUES without data-modifying WITH; its rows are
        # streamed a FETCH at a time.
        dbapi_connection = connection.connection.driver_connection
        # The first statement of the transaction: nothing after it can write.
        dbapi_connection.execute("SET TRANSACTION READ ONLY")
        if deadline is not None:
            # Each FETCH is a statement of its own: the caller bounds the whole.
            milliseconds = max(1, round(deadline.seconds * 1000))
            dbapi_connection.execute(f"SET LOCAL statement_timeout = {milliseconds}")
        with dbapi_connection.cursor(name="seeder_check") as cursor:
            cursor.itersize = FETCH_SIZE
            # No parameters: the text is sent as it is, so % needs no escaping.
            cursor.execute(query)
            yield cursor.description, iter(cursor)

    def timed_out(self, error: Exception) -> bool:
        return isinstance(error, psycopg.errors.QueryCanceled)  # statement_timeout

    def query_message(self, error: Exception) -> str:
        if isinstance(error, psycopg.Error) and error.diag.message_primary:
            return error.diag.message_primary
        return super().query_message(error)


class PostgresParallelLoad:
    """A populate over several connections: the staging schema is committed empty, workers
    fill its tables in their own transactions, the keys are built there, and one short
    transaction swaps the tables in. A session lock named after the schema marks it as in use;
    a later populate drops staging schemas nobody holds (their process was killed)."""

    def __init__(self, database: Database) -> None:
        if not database.owns_transaction:
            raise InvalidArgument("a load over several connections needs connections of its "
                                  "own: pass a URL or an Engine, not a Connection")
        self._database = database
        self._loader = PostgresLoader(database.connection)
        self.staging = self._loader.staging

    def __enter__(self) -> PostgresParallelLoad:
        with self._database.transaction() as connection:  # session locks outlive it
            if not connection.scalar(select(func.pg_try_advisory_lock(POPULATE_LOCK_KEY))):
                raise Busy(f"another seeder populate or schema change is running on "
                           f"{self._database.display}; try again when it is done")
            connection.execute(_TRY_STAGING_LOCK, {"name": self.staging})
        return self

    def __exit__(self, *exc_info: object) -> None:
        # After a swap the schema is gone; otherwise whatever was loaded goes. A connection
        # that is gone took its locks with it, and the next populate drops the schema.
        with contextlib.suppress(SeederError), self._database.transaction() as connection:
            self._loader.drop_staging()
            connection.execute(_STAGING_UNLOCK, {"name": self.staging})
            connection.execute(select(func.pg_advisory_unlock(POPULATE_LOCK_KEY)))

    def prepare(self) -> None:
        self._loader.start()

    def build(self, progress: Progress) -> None:
        self._loader.build(progress)

    def swap(self, progress: Progress) -> None:
        self._loader.swap(progress)


class PostgresLoader:
    """Loads into the staging tables of one schema. With `staging=None` the loader makes the
    schema itself inside the transaction (start); given a name, it fills that schema's tables,
    which another connection made (a worker of a parallel load)."""

    def __init__(self, connection: Connection, staging: str | None = None) -> None:
        self._connection = connection
        self._fresh = staging is None
        self.staging = staging or f"{STAGING_SCHEMA_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
        metadata = MetaData()
        self._tables = [table.to_metadata(metadata, schema=self.staging)
                        for table in DATA_TABLES]
        self._by_name = {table.name: table for table in self._tables}

    @contextlib.contextmanager
    def settings(self) -> Iterator[None]:
        yield  # settings are SET LOCAL, undone by the transaction

    def start(self) -> None:
        execute = self._connection.execute
        self._drop_abandoned_staging()
        self._run(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.staging)))
        for table in self._tables:
            execute(CreateTable(table, include_foreign_key_constraints=[]))
            execute(DropConstraint(table.primary_key))  # built after the load, like the rest
            # CREATE TABLE carries no comments; the descriptions go with the table.
            if table.comment is not None:
                execute(SetTableComment(table))
            for column in table.columns:
                if column.comment is not None:
                    execute(SetColumnComment(column))

    def _drop_abandoned_staging(self) -> None:
        """Drop the staging schemas of parallel loads whose process died (kill -9): their
        owner no longer holds the session lock named after the schema."""
        for name in self._connection.scalars(text(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE :prefix"),
                {"prefix": STAGING_SCHEMA_PREFIX + "%"}).all():
            if self._connection.scalar(_TRY_STAGING_LOCK, {"name": name}):
                self._run(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
                self._connection.execute(_STAGING_UNLOCK, {"name": name})

    def encode(self, batch: Batch) -> bytes:
        return copy_binary(batch, self._by_name[batch.table])

    def write(self, batch: Batch, encoded: bytes) -> None:
        # FREEZE (allowed when the table was created in this transaction) writes the rows as
        # already visible to everyone, so the first readers do not rewrite every page to set
        # hint bits, and the visibility map is set for index-only scans at once.
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary{})").format(
            sql.Identifier(self.staging, batch.table),
            sql.SQL(", ").join(map(sql.Identifier, batch.columns)),
            sql.SQL(", FREEZE" if self._fresh else ""),
        )
        cursor = self._connection.connection.driver_connection.cursor()
        with cursor.copy(statement) as copy:
            copy.write(encoded)

    def finish(self, progress: Progress) -> None:
        self.build(progress)
        self.swap(progress)

    def build(self, progress: Progress) -> None:
        """Keys, indexes and foreign keys on the staging tables; sequences; ANALYZE."""
        execute = self._connection.execute
        execute(text(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'"))
        steps = [*(AddConstraint(table.primary_key) for table in self._tables),
                 *(CreateIndex(index) for table in self._tables for index in table.indexes),
                 *(AddConstraint(fk) for table in self._tables
                   for fk in table.foreign_key_constraints)]
        for done, step in enumerate(steps):
            progress(INDEXING, done, len(steps))
            execute(step)
        progress(INDEXING, len(steps), len(steps))
        for table in self._tables:
            # The identity continues after the largest id written, for rows applications add.
            self._run(sql.SQL(
                "SELECT setval(pg_get_serial_sequence({name}, 'id'), coalesce(max(id), 0) + 1, "
                "false) FROM {table}").format(
                    name=sql.Literal(self._sql(sql.Identifier(self.staging, table.name))),
                    table=sql.Identifier(self.staging, table.name)))
        for done, table in enumerate(self._tables):
            progress(ANALYZING, done, len(self._tables))
            self._run(sql.SQL("ANALYZE {}").format(sql.Identifier(self.staging, table.name)))
        progress(ANALYZING, len(self._tables), len(self._tables))

    def swap(self, progress: Progress) -> None:
        progress(SWAPPING, 0, 1)
        self._swap()
        progress(SWAPPING, 1, 1)

    def drop_staging(self) -> None:
        self._run(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            sql.Identifier(self.staging)))

    def _swap(self) -> None:
        """Put the staging tables in place of the live ones, with the views over them."""
        target = self._connection.scalar(text("SELECT current_schema()"))
        live = [sql.Identifier(target, table.name) for table in DATA_TABLES]
        self._lock(live)
        oids = [self._connection.scalar(text("SELECT to_regclass(:name)::oid"),
                                        {"name": self._sql(name)}) for name in live]
        views = self._connection.execute(_DEPENDENT_VIEWS, {"tables": oids}).all()
        for view in reversed(views):
            self._run(sql.SQL("DROP VIEW {}").format(sql.Identifier(view.schema, view.name)))
        for name in reversed(live):
            self._run(sql.SQL("DROP TABLE {}").format(name))
        for table in self._tables:
            self._run(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
                sql.Identifier(self.staging, table.name), sql.Identifier(target)))
        for view in views:
            name = sql.Identifier(view.schema, view.name)
            self._run(sql.SQL("CREATE VIEW {} AS {}").format(name, sql.SQL(view.definition)))
            if view.comment is not None:
                self._run(sql.SQL("COMMENT ON VIEW {} IS {}").format(
                    name, sql.Literal(view.comment)))
            for column, comment in (view.column_comments or {}).items():
                self._run(sql.SQL("COMMENT ON COLUMN {} IS {}").format(
                    sql.Identifier(view.schema, view.name, column), sql.Literal(comment)))
        self._run(sql.SQL("DROP SCHEMA {}").format(sql.Identifier(self.staging)))

    def _sql(self, statement: sql.Composable) -> str:
        return statement.as_string(self._connection.connection.driver_connection)

    def _run(self, statement: sql.Composable) -> None:
        self._connection.exec_driver_sql(self._sql(statement))

    def _lock(self, live: list[sql.Identifier]) -> None:
        """ACCESS EXCLUSIVE on the live tables, in short attempts; Busy naming the holders."""
        deadline = time.monotonic() + SWAP_WAIT_SECONDS
        lock = sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.SQL(", ").join(live))
        while True:
            attempt = self._connection.begin_nested()
            try:
                self._run(sql.SQL("SET LOCAL lock_timeout = {}").format(
                    sql.Literal(f"{SWAP_ATTEMPT_SECONDS}s")))
                self._run(lock)
            except DBAPIError as error:
                attempt.rollback()
                if not isinstance(error.orig, psycopg.errors.LockNotAvailable):
                    raise
                if time.monotonic() >= deadline:
                    raise Busy(self._holders_message(live)) from None
                continue
            attempt.commit()
            return

    def _holders_message(self, live: list[sql.Identifier]) -> str:
        sessions = _sessions(self._connection.execute(
            _LOCK_HOLDERS, {"tables": [self._sql(name) for name in live]}).all()
        ) or "a session that has since ended"
        return (f"the new dataset is ready but could not be swapped in: waited "
                f"{SWAP_WAIT_SECONDS} s for the locks on the live tables, held by {sessions}; "
                "end that transaction (or SELECT pg_terminate_backend(PID)) and rerun; "
                "nothing was written")


def _lock_holders(engine: Engine) -> str:
    """Who holds locks on seeder's tables, looked up over a fresh connection, as a phrase:
    " held by session 123 (...)", and whether a populate is running; "" if it cannot tell."""
    tables = [table.name for table in DATA_TABLES]
    try:
        with engine.connect() as connection:
            holders = connection.execute(_LOCK_HOLDERS, {"tables": tables}).all()
            populating = connection.scalar(_POPULATE_RUNNING)
    except DBAPIError:
        return ""
    sessions = _sessions(holders)
    return (f" held by {sessions}" if sessions else "") + (
        " (a populate is running)" if populating else "")


def _sessions(holders: Sequence[Row]) -> str:
    """Rows of _LOCK_HOLDERS as "session 123 (user, application, state, holding MODE on
    table); ..."."""
    return "; ".join(
        f"session {row.pid} ({row.usename}, {row.application_name or 'no application name'}, "
        f"{row.state}, holding {row.mode} on {row.relname})" for row in holders)


# Views that depend on the given tables, directly or through other views, outermost last.
_DEPENDENT_VIEWS = text("""
WITH RECURSIVE dependent (oid, depth) AS (
    SELECT DISTINCT r.ev_class, 1
    FROM pg_depend AS d JOIN pg_rewrite AS r ON r.oid = d.objid
    WHERE d.refobjid = ANY(:tables) AND r.ev_class <> d.refobjid
    UNION
    SELECT r.ev_class, dependent.depth + 1
    FROM dependent
    JOIN pg_depend AS d ON d.refobjid = dependent.oid
    JOIN pg_rewrite AS r ON r.oid = d.objid
    WHERE r.ev_class <> d.refobjid
)
SELECT c.relname AS name, n.nspname AS schema, pg_get_viewdef(c.oid) AS definition,
       obj_description(c.oid, 'pg_class') AS comment,
       (SELECT json_object_agg(a.attname, col_description(c.oid, a.attnum))
        FROM pg_attribute AS a
        WHERE a.attrelid = c.oid AND a.attnum > 0
          AND col_description(c.oid, a.attnum) IS NOT NULL) AS column_comments
FROM (SELECT oid, max(depth) AS depth FROM dependent GROUP BY oid) AS v
JOIN pg_class AS c ON c.oid = v.oid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
ORDER BY v.depth, c.relname
""")

# Whether a populate (or a schema change) holds seeder's lock on this database.
_POPULATE_RUNNING = text(f"""
SELECT EXISTS (SELECT 1 FROM pg_locks
               WHERE locktype = 'advisory' AND granted AND database = (
                   SELECT oid FROM pg_database WHERE datname = current_database())
                 AND objid = {POPULATE_LOCK_KEY} AND objsubid = 1)
""")

# A parallel load holds this session lock, named after its staging schema, while it runs.
_TRY_STAGING_LOCK = text(f"SELECT pg_try_advisory_lock({POPULATE_LOCK_KEY}, hashtext(:name))")
_STAGING_UNLOCK = text(f"SELECT pg_advisory_unlock({POPULATE_LOCK_KEY}, hashtext(:name))")

# Sessions holding locks on the given tables.
_LOCK_HOLDERS = text("""
SELECT DISTINCT l.pid, a.usename, a.application_name, a.state, l.mode, c.relname
FROM pg_locks AS l
JOIN pg_class AS c ON c.oid = l.relation
JOIN pg_stat_activity AS a ON a.pid = l.pid
WHERE l.granted AND l.pid <> pg_backend_pid()
  AND l.relation = ANY(CAST(:tables AS regclass[]))
ORDER BY l.pid
""")


# Binary COPY: a signature, flags and header-extension length before the rows, -1 after.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
_COPY_TRAILER = b"\xff\xff"
_POSTGRES_EPOCH = np.datetime64("2000-01-01", "D")


def _binary_field(column: np.ndarray, sql_type) -> list[np.ndarray]:
    """A column as binary COPY fields: a 4-byte big-endian length, then the value's bytes."""
    if isinstance(sql_type, String):
        length = np.strings.str_len(column).astype(">i4")
        return [_be_bytes(length), column]
    if isinstance(sql_type, Uuid):
        value = bytestrings.as_matrix(column)
    elif isinstance(sql_type, Date):
        value = _be_bytes((column - _POSTGRES_EPOCH).astype(">i4"))
    elif isinstance(sql_type, BigInteger):
        value = _be_bytes(column.astype(">i8"))
    elif isinstance(sql_type, SmallInteger):
        value = _be_bytes(column.astype(">i2"))
    elif isinstance(sql_type, Integer):
        value = _be_bytes(column.astype(">i4"))
    else:
        raise TypeError(f"no binary COPY encoding for {sql_type!r}")
    width = np.zeros((len(column), 4), dtype=np.uint8)
    width[:, 3] = value.shape[1]
    return [width, value]


def _be_bytes(values: np.ndarray) -> np.ndarray:
    return values.view(np.uint8).reshape(len(values), values.dtype.itemsize)


def copy_binary(batch: Batch, table: Table) -> bytes:
    """The batch in PostgreSQL's binary COPY format, for the table's column types.

    The server takes binary fields as they are, without parsing text, and NumPy lays them
    out whole columns at a time.
    """
    parts: list[np.ndarray | bytes] = [len(batch.columns).to_bytes(2, "big")]
    for name, column in batch.columns.items():
        parts += _binary_field(column, table.columns[name].type)
    return _COPY_HEADER + bytestrings.join(parts) + _COPY_TRAILER


backend = PostgresBackend()
