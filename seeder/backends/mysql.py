"""MySQL and MariaDB (PyMySQL): LOAD DATA LOCAL INFILE into shadow tables, keys and indexes
built there, then one atomic RENAME TABLE that puts them in place of the live tables.

MySQL and MariaDB commit every DDL statement implicitly, so keys and indexes cannot be set
aside and rebuilt inside the populate's transaction as on PostgreSQL and SQLite; and loading
into the live tables with their keys in place, in one InnoDB transaction, was measured 20
times slower. Instead each run creates bare shadow tables (`seeder_new_<run>_<table>`, primary
key only: InnoDB stores rows in key order, and the generator writes them in that order), loads
them with LOAD DATA LOCAL INFILE (the server's bulk path; CSV made by NumPy, one batch per
statement), builds the secondary indexes and foreign keys there, runs ANALYZE TABLE, and swaps
them in with one RENAME TABLE statement, which MySQL and MariaDB carry out atomically: readers
see the whole old dataset until then and the whole new one after. Until that statement
nothing live has changed, so an error, a cancellation or a killed connection leaves the old
dataset; the shadow tables are dropped at once, or by the next populate when the connection
died with them.

The server parses and inserts each LOAD DATA, and sorts each index, on one core while the
client mostly waits for it; so a second connection (a lane) loads and indexes the transactions
and referral links while the first does the customers, cars and services.

The swap is the point of no return: the seed_runs row is written right after it, in its own
transaction.

InnoDB wants foreign key names unique in the whole database, and the old tables hold the
model's names until the swap; the new tables take the other of two names
(`fk_cars_customer_id_customers` and `fk_cars_customer_id_customers_2`), so the names alternate
from one populate to the next. Foreign keys are added without the server checking each row
(foreign_key_checks=0 makes the ALTER a metadata change instead of a table copy); seeder checks
them itself with one anti-join per key first, as SQLite's foreign_key_check does.

One populate or schema change at a time: a named server lock (GET_LOCK) per database, held by
the session until its transaction ends (`end`).
"""

from __future__ import annotations

import contextlib
import functools
import queue
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, bindparam, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateTable

from seeder.backends import Backend, Deadline, Rows
from seeder.backends.server_variants import ServerVariants, quote
from seeder.batch import Batch
from seeder.errors import Busy, DatabaseError, DatabaseURLError, SeederError, VariantError
from seeder.formats import csv_lines
from seeder.models import DATA_TABLES
from seeder.progress import ANALYZING, INDEXING, SWAPPING, Progress

try:
    import pymysql
except ImportError:  # the optional extra seeder[mysql]
    pymysql = None

DRIVER_HINT = "pip install 'seeder[mysql]'"
CONNECT_ARGUMENTS = {"charset": "utf8mb4", "connect_timeout": 5, "local_infile": True}
# The longest any statement of seeder waits for a lock before it says who holds it.
LOCK_TIMEOUT_SECONDS = 10
# The swap waits in short attempts, so that readers queued behind it get through in between.
SWAP_ATTEMPT_SECONDS = 2
SWAP_WAIT_SECONDS = 60
SHADOW_PREFIX = "seeder_new_"
RETIRED_PREFIX = "seeder_old_"
# Loaded and indexed over the second connection; the other tables over the first.
SECOND_LANE = ("transactions", "referral_links")
# Batches waiting for the second connection: bounds the memory they hold.
LANE_QUEUE_BATCHES = 2
# Server error codes seeder tells apart.
LOCK_WAIT_TIMEOUT = 1205
LOST_CONNECTION = 2013
LOCAL_INFILE_REFUSED = (1148, 2068, 3948)
# A statement stopped by MariaDB's max_statement_time, or by MySQL's max_execution_time.
STATEMENT_TIMEOUT = (1969, 3024)
# No right to create a database: no privilege on it (1044), or none for the command (1227).
DATABASE_ACCESS_DENIED = (1044, 1227)
# Rows a learner's query streams per fetch.
FETCH_SIZE = 2_000
# Decimal places that division and AVG add (the server's maximum; the default is 4, which puts
# avg(price) 3e-5 away from SQLite's and PostgreSQL's, beyond the check's 1e-6 tolerance).
DIV_PRECISION_INCREMENT = 30
# How long one GET_LOCK waits for another check building a variant, before asking again.
VARIANT_LOCK_WAIT_SECONDS = 60


class MySQLVariants(ServerVariants):
    """Variant databases in the learner's database's character set and collation (text sorts
    as it does there); all the learner's user can see (MySQL databases have no owner)."""

    NAMES_SQL = ("SELECT schema_name FROM information_schema.schemata "
                 "WHERE schema_name LIKE :prefix ORDER BY schema_name")

    def existing(self, connection: Connection, names: Sequence[str]) -> set[str]:
        return set(connection.scalars(
            text("SELECT schema_name FROM information_schema.schemata "
                 "WHERE schema_name IN :names").bindparams(bindparam("names", expanding=True)),
            {"names": list(names)}))

    def create_statement(self, connection: Connection) -> str:
        charset, collation = connection.execute(
            text("SELECT @@character_set_database, @@collation_database")).one()
        # IF NOT EXISTS: another check may have created it since the existing ones were read.
        return f"CREATE DATABASE IF NOT EXISTS {{name}} CHARACTER SET {charset} COLLATE {collation}"

    def refusal(self, server: Connection, error: DBAPIError, names: Sequence[str]
                ) -> VariantError | None:
        if _code(error) not in DATABASE_ACCESS_DENIED:
            return None
        account = "'{}'@'{}'".format(*server.scalar(text("SELECT CURRENT_USER()")).rsplit("@", 1))
        return VariantError(
            f"a check compares your result on hidden variant databases on the same server, and "
            f"{account} may not create them ({backend.reason(error)}); ask an administrator to "
            f"grant it (GRANT ALL ON `seeder\\_variant\\_%`.* TO {account}), or to create the "
            f"databases {' and '.join(names)} and grant {account} all privileges on them")

    @contextlib.contextmanager
    def building(self, connection: Connection, name: str) -> Iterator[None]:
        # Not populate's lock name (seeder:DATABASE), which the fill takes on another session.
        lock = {"name": f"seeder-variant:{name}"[:64], "seconds": VARIANT_LOCK_WAIT_SECONDS}
        # MariaDB's GET_LOCK has no wait without end: ask again while it times out (0).
        while connection.scalar(text("SELECT GET_LOCK(:name, :seconds)"), lock) == 0:
            pass
        try:
            yield
        finally:
            connection.rollback()
            connection.execute(text("DO RELEASE_LOCK(:name)"), lock)
            connection.commit()


class MySQLBackend(Backend):
    name = "mysql"
    title = "MySQL/MariaDB"
    # Every DDL statement commits: the load cannot stay inside one transaction.
    transactional_ddl = False
    # mariadb:// is SQLAlchemy's name for the same dialect; PyMySQL serves both servers.
    schemes = {"mysql": "mysql+pymysql", "mariadb": "mysql+pymysql"}
    variants = MySQLVariants()

    @property
    def driver_errors(self) -> tuple[type[Exception], ...]:  # type: ignore[override]
        return (pymysql.Error,) if pymysql is not None else ()

    def check_url(self, url: URL) -> None:
        if pymysql is None:
            raise DatabaseURLError(f"{url.drivername.partition('+')[0]}:// URLs need the PyMySQL "
                                   f"driver, which is not installed; {DRIVER_HINT}")
        super().check_url(url)

    def create_engine(self, url: URL) -> Engine:
        return create_engine(url, connect_args=CONNECT_ARGUMENTS)

    def begin(self, connection: Connection, *, write: bool) -> None:
        # Row locks (innodb_) and table definition locks (metadata locks, of DDL) alike.
        connection.exec_driver_sql(f"SET SESSION innodb_lock_wait_timeout = "
                                   f"{LOCK_TIMEOUT_SECONDS}, lock_wait_timeout = "
                                   f"{LOCK_TIMEOUT_SECONDS}")

    def end(self, connection: Connection) -> None:
        # GET_LOCK belongs to the session, not the transaction: a pooled connection would keep it.
        with contextlib.suppress(Exception):
            with connection.connection.driver_connection.cursor() as cursor:
                cursor.execute("DO RELEASE_LOCK(%s)", (_lock_name(connection),))

    def reason(self, error: Exception) -> str:
        original = error.orig if isinstance(error, DBAPIError) else error
        if pymysql is not None and isinstance(original, pymysql.Error) \
                and len(original.args) == 2:
            lines = str(original.args[1]).strip().splitlines()
            if lines:
                return lines[0]
        return super().reason(error)

    def error(self, error: Exception, display: str, engine: Engine | None = None
              ) -> SeederError:
        code = _code(error)
        if code == LOCK_WAIT_TIMEOUT:
            holders = _lock_holders(engine) if engine is not None else ""
            return Busy(f"cannot use {display}: waited {LOCK_TIMEOUT_SECONDS} s for a lock on a "
                        f"seeder table{holders}; try again when it is done")
        if code in LOCAL_INFILE_REFUSED:
            return DatabaseError(
                f"cannot load {display}: {self.reason(error)}; seeder loads with LOAD DATA "
                "LOCAL INFILE, which the server must allow: SET GLOBAL local_infile = ON "
                "(or local_infile=ON in its configuration)")
        return super().error(error, display)

    def lock(self, connection: Connection, display: str, *, wait: bool) -> None:
        seconds = LOCK_TIMEOUT_SECONDS if wait else 0
        if not connection.scalar(text("SELECT GET_LOCK(:name, :seconds)"),
                                 {"name": _lock_name(connection), "seconds": seconds}):
            raise Busy(f"another seeder populate or schema change is running on {display}; "
                       "try again when it is done")

    def interrupter(self, connection: Connection) -> Callable[[], None]:
        driver = connection.connection.driver_connection
        thread_id = driver.thread_id()

        def interrupt() -> None:
            # A loader's second connection works for this one: it stops too.
            _kill_queries(driver, [thread_id, *_LANES.get(thread_id, ())])

        return interrupt

    def loader(self, connection: Connection) -> MySQLLoader:
        return MySQLLoader(connection)

    @contextlib.contextmanager
    def read_only_rows(self, connection: Connection, query: str, deadline: Deadline | None
                       ) -> Iterator[Rows]:
        # PyMySQL sends one statement (no CLIENT.MULTI_STATEMENTS: a second one is a syntax
        # error), in a READ ONLY transaction, which refuses writes to tables.
        dbapi_connection = connection.connection.driver_connection
        settings = {"div_precision_increment": DIV_PRECISION_INCREMENT}
        if deadline is not None:
            # The server's own limit, in its unit: seconds on MariaDB, milliseconds on MySQL.
            if connection.dialect.is_mariadb:
                settings["max_statement_time"] = deadline.seconds
            else:
                settings["max_execution_time"] = max(1, round(deadline.seconds * 1000))
        with dbapi_connection.cursor() as cursor:
            cursor.execute("START TRANSACTION READ ONLY")
            # Session settings (not transactional): read now, restored below.
            cursor.execute("SELECT " + ", ".join(f"@@SESSION.{name}" for name in settings))
            saved = dict(zip(settings, cursor.fetchone(), strict=True))
            self._set_session(cursor, settings)
        try:
            # Unbuffered: rows are streamed from the server, not held.
            with dbapi_connection.cursor(pymysql.cursors.SSCursor) as cursor:
                cursor.execute(query)
                yield cursor.description, _fetched(cursor)
        finally:
            with dbapi_connection.cursor() as cursor:
                self._set_session(cursor, saved)

    def _set_session(self, cursor: Any, settings: dict[str, Any]) -> None:
        cursor.execute("SET " + ", ".join(f"SESSION {name} = %s" for name in settings),
                       tuple(settings.values()))

    def timed_out(self, error: Exception) -> bool:
        return _code(error) in STATEMENT_TIMEOUT


class MySQLLoader:
    """Loads one dataset into this run's shadow tables and swaps them in (see the module)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._quote = functools.partial(quote, connection)
        self._run = secrets.token_hex(4)
        metadata = MetaData()
        self._shadows = {table.name: table.to_metadata(
            metadata, name=f"{SHADOW_PREFIX}{self._run}_{table.name}") for table in DATA_TABLES}
        self._retired = {table.name: f"{RETIRED_PREFIX}{self._run}_{table.name}"
                         for table in DATA_TABLES}
        self._lane: _Lane | None = None

    @contextlib.contextmanager
    def settings(self) -> Iterator[None]:
        try:
            yield
        finally:
            if self._lane is not None:
                self._lane.close()
            # Whatever this run left: its shadow tables after a failure, the old tables after
            # a swap whose cleanup failed. On a dead connection the next populate does it.
            with contextlib.suppress(Exception):
                self._drop([*(shadow.name for shadow in self._shadows.values()),
                            *self._retired.values()])

    def start(self) -> None:
        # The caller holds the populate lock: tables of other runs are left by dead ones.
        self._drop(self._connection.scalars(text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
            "AND (table_name LIKE :shadow OR table_name LIKE :retired)"),
            {"shadow": SHADOW_PREFIX.replace("_", r"\_") + "%",
             "retired": RETIRED_PREFIX.replace("_", r"\_") + "%"}).all())
        for shadow in self._shadows.values():
            self._connection.execute(CreateTable(shadow, include_foreign_key_constraints=[]))
        self._lane = _Lane(self._connection)

    def encode(self, batch: Batch) -> bytes:
        return csv_lines(batch)

    def write(self, batch: Batch, encoded: bytes) -> None:
        if batch.table in SECOND_LANE:
            self._lane.submit(lambda cursor: self._load(cursor, batch, encoded))
        else:
            with self._cursor() as cursor:
                self._load(cursor, batch, encoded)

    def _load(self, cursor: Any, batch: Batch, encoded: bytes) -> None:
        # PyMySQL sends a LOCAL INFILE by opening its path: a temporary file, deleted at once
        # (written and read back within the page cache).
        with tempfile.NamedTemporaryFile(prefix="seeder-batch-", suffix=".csv") as file:
            file.write(encoded)
            file.flush()
            quote = self._quote
            columns = ", ".join(map(quote, batch.columns))
            try:
                cursor.execute(
                    f"LOAD DATA LOCAL INFILE '{pymysql.converters.escape_string(file.name)}' "
                    f"INTO TABLE {quote(self._shadows[batch.table].name)} CHARACTER SET utf8mb4 "
                    "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' "
                    f"LINES TERMINATED BY '\\n' ({columns})")
            except AttributeError:
                # PyMySQL, when the server drops the connection while it sends the file, fails
                # on the closed socket as it reports that (its `_sock` is None).
                if cursor.connection.open:
                    raise
                raise pymysql.err.OperationalError(
                    LOST_CONNECTION, "Lost connection to MySQL server during query") from None
            # With LOCAL the server cannot stop the client midway, so it turns bad rows
            # (a duplicate key, a failed CHECK) into warnings and skips them.
            if cursor.warning_count or cursor.rowcount != len(batch):
                cursor.execute("SHOW WARNINGS LIMIT 1")
                warning = cursor.fetchone()
                raise SeederError(
                    f"generated data does not fit table {batch.table} "
                    f"({warning[2] if warning else f'{cursor.rowcount} of {len(batch)} rows'}"
                    "); this is a seeder bug: please report it with the seed and size")

    def finish(self, progress: Progress) -> None:
        """Indexes, checked foreign keys and statistics on the shadow tables; then the swap."""
        steps = 2 * len(DATA_TABLES) + 1
        done = 0
        self._lane.finish()  # every row loaded and committed
        progress(INDEXING, 0, steps)
        # Indexes, then foreign key checks, each lane on its own tables. Not both at once: a
        # check's read holds the tables it reads until its transaction ends, which an index
        # build on them would wait for. Progress is reported from the caller's thread only.
        for work in (self._add_indexes, self._check_foreign_keys):
            for table in DATA_TABLES:
                if table.name in SECOND_LANE:
                    self._lane.submit(lambda cursor, table=table, work=work: work(cursor, table))
            with self._cursor() as cursor:
                for table in DATA_TABLES:
                    if table.name not in SECOND_LANE:
                        work(cursor, table)
                        done += 1
                        progress(INDEXING, done, steps)
            self._lane.finish()
            done += len(SECOND_LANE)
            progress(INDEXING, done, steps)
        self._add_foreign_keys()
        progress(INDEXING, steps, steps)
        progress(ANALYZING, 0, 1)
        self._connection.exec_driver_sql(
            "ANALYZE TABLE " + ", ".join(
                self._quote(shadow.name) for shadow in self._shadows.values())).all()
        progress(ANALYZING, 1, 1)
        progress(SWAPPING, 0, 1)
        self._swap()
        progress(SWAPPING, 1, 1)

    def _add_indexes(self, cursor: Any, table: Table) -> None:
        if table.indexes:
            shadow = self._quote(self._shadows[table.name].name)
            cursor.execute(f"ALTER TABLE {shadow} " + ", ".join(
                f"ADD {'UNIQUE ' if index.unique else ''}INDEX {self._quote(index.name)} "
                f"({', '.join(self._quote(column.name) for column in index.columns)})"
                for index in sorted(table.indexes, key=lambda index: index.name)))

    def _check_foreign_keys(self, cursor: Any, table: Table) -> None:
        child = self._quote(self._shadows[table.name].name)
        for key in sorted(table.foreign_keys, key=lambda key: key.parent.name):
            parent = self._quote(self._shadows[key.column.table.name].name)
            column, referred = self._quote(key.parent.name), self._quote(key.column.name)
            # An anti-join as LEFT JOIN: measured twice as fast as NOT EXISTS here.
            cursor.execute(f"SELECT 1 FROM {child} AS c LEFT JOIN {parent} AS p "
                           f"ON p.{referred} = c.{column} WHERE p.{referred} IS NULL LIMIT 1")
            if cursor.fetchall():
                raise SeederError(
                    f"generated data breaks the foreign key {table.name}.{key.parent.name}; "
                    "this is a seeder bug: please report it with the seed and size")

    def _add_foreign_keys(self) -> None:
        taken = set(self._connection.scalars(text(
            "SELECT constraint_name FROM information_schema.referential_constraints "
            "WHERE constraint_schema = DATABASE()")))
        with self._session_setting("foreign_key_checks", 0, restore=1):
            for table in DATA_TABLES:
                if not table.foreign_key_constraints:
                    continue
                clauses = []
                for constraint in sorted(table.foreign_key_constraints, key=lambda c: c.name):
                    name = constraint.name if constraint.name not in taken \
                        else f"{constraint.name}_2"
                    parent = self._shadows[constraint.referred_table.name].name
                    clauses.append(
                        f"ADD CONSTRAINT {self._quote(name)} FOREIGN KEY "
                        f"({', '.join(self._quote(c.name) for c in constraint.columns)}) "
                        f"REFERENCES {self._quote(parent)} "
                        f"({', '.join(self._quote(e.column.name) for e in constraint.elements)})")
                self._connection.exec_driver_sql(
                    f"ALTER TABLE {self._quote(self._shadows[table.name].name)} "
                    + ", ".join(clauses))

    def _swap(self) -> None:
        """One RENAME TABLE: live tables out, shadow tables in; then the old ones go."""
        renames = ", ".join(
            [f"{self._quote(table.name)} TO {self._quote(self._retired[table.name])}"
             for table in DATA_TABLES]
            + [f"{self._quote(self._shadows[table.name].name)} TO {self._quote(table.name)}"
               for table in DATA_TABLES])
        deadline = time.monotonic() + SWAP_WAIT_SECONDS
        with self._session_setting("lock_wait_timeout", SWAP_ATTEMPT_SECONDS,
                                   restore=LOCK_TIMEOUT_SECONDS):
            while True:
                try:
                    self._connection.exec_driver_sql(f"RENAME TABLE {renames}")
                    break
                except DBAPIError as error:
                    if _code(error) != LOCK_WAIT_TIMEOUT:
                        raise
                    if time.monotonic() >= deadline:
                        raise Busy(
                            "the new dataset is ready but could not be swapped in: waited "
                            f"{SWAP_WAIT_SECONDS} s for the sessions using the live tables"
                            f"{_lock_holders(self._connection.engine)}; end their "
                            "transactions (or KILL them) and rerun; nothing was written"
                        ) from None
        self._drop(list(self._retired.values()))

    def _drop(self, names: list[str]) -> None:
        if not names:
            return
        with self._session_setting("foreign_key_checks", 0, restore=1):
            self._connection.exec_driver_sql(
                "DROP TABLE IF EXISTS " + ", ".join(map(self._quote, names)))

    @contextlib.contextmanager
    def _session_setting(self, name: str, value: int, *, restore: int) -> Iterator[None]:
        """SET SESSION name = value for the block, then name = restore, even on an error."""
        self._connection.exec_driver_sql(f"SET SESSION {name} = {value}")
        try:
            yield
        finally:
            self._connection.exec_driver_sql(f"SET SESSION {name} = {restore}")

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        with self._connection.connection.driver_connection.cursor() as cursor:
            yield cursor


# A loader's first connection (its server thread id) -> the thread ids of its other ones.
_LANES: dict[int, list[int]] = {}


class _Lane:
    """A second connection and a thread that runs work on it, in order, while the caller's
    thread goes on with the first. The first error stops the lane; the caller gets it at the
    next submit or finish."""

    def __init__(self, first: Connection) -> None:
        self._first = first.connection.driver_connection
        self._connection = first.engine.raw_connection()
        driver = self._connection.driver_connection
        with driver.cursor() as cursor:
            cursor.execute(f"SET SESSION innodb_lock_wait_timeout = {LOCK_TIMEOUT_SECONDS}, "
                           f"lock_wait_timeout = {LOCK_TIMEOUT_SECONDS}")
        self._thread_id = driver.thread_id()
        _LANES.setdefault(self._first.thread_id(), []).append(self._thread_id)
        self._work: queue.Queue[Callable[[Any], None] | None] = queue.Queue(LANE_QUEUE_BATCHES)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="seeder-mysql-lane",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with self._connection.driver_connection.cursor() as cursor:
            while (work := self._work.get()) is not None:
                try:
                    if self._error is None:
                        work(cursor)
                except BaseException as error:  # handed to the caller's thread
                    self._error = error
                finally:
                    self._work.task_done()
        self._work.task_done()

    def submit(self, work: Callable[[Any], None]) -> None:
        self._raise()
        self._work.put(work)

    def finish(self) -> None:
        """Wait for everything submitted, and commit it (loads become visible to the first
        connection, reads let go of their tables); its error, if any."""
        self._work.join()
        self._raise()
        self._connection.driver_connection.commit()

    def close(self) -> None:
        """Stop the work (a running statement too) and give the connection back."""
        if self._thread.is_alive():
            if self._work.unfinished_tasks:
                self._error = self._error or SeederError("stopped")
                with contextlib.suppress(Exception):
                    _kill_queries(self._first, [self._thread_id])
            self._work.put(None)
            self._thread.join()
        _LANES.pop(self._first.thread_id(), None)
        with contextlib.suppress(Exception):
            self._connection.rollback()
        with contextlib.suppress(Exception):
            self._connection.close()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, SeederError("stopped")
            raise error


def _kill_queries(driver: Any, thread_ids: list[int]) -> None:
    """Stop what the sessions run, over a connection of its own (callable from any thread)."""
    killer = pymysql.connect(host=driver.host, port=driver.port, user=driver.user,
                             password=driver.password, connect_timeout=5)
    try:
        with killer.cursor() as cursor:
            for thread_id in thread_ids:
                cursor.execute(f"KILL QUERY {int(thread_id)}")
    finally:
        killer.close()


def _fetched(cursor: Any) -> Iterator[Sequence[Any]]:
    while rows := cursor.fetchmany(FETCH_SIZE):
        yield from rows


def _code(error: Exception) -> int | None:
    """The server's (or PyMySQL's) error number."""
    original = error.orig if isinstance(error, DBAPIError) else error
    if pymysql is not None and isinstance(original, pymysql.Error) and original.args:
        code = original.args[0]
        return code if isinstance(code, int) else None
    return None


def _lock_name(connection: Connection) -> str:
    # Lock names are server-wide (at most 64 characters): one lock per database.
    return f"seeder:{connection.engine.url.database}"[:64]


def _lock_holders(engine: Engine) -> str:
    """Sessions with open transactions, looked up over a fresh connection, as a phrase:
    " held by session 12 (...)", and whether a populate is running; "" if it cannot tell."""
    try:
        with engine.connect() as connection:
            holders = connection.execute(text(
                "SELECT p.id, p.user, p.command, p.time, p.state "
                "FROM information_schema.processlist AS p "
                "JOIN information_schema.innodb_trx AS t ON t.trx_mysql_thread_id = p.id "
                "WHERE p.id <> CONNECTION_ID() ORDER BY p.id")).all()
            populating = connection.scalar(text("SELECT IS_USED_LOCK(:name)"),
                                           {"name": _lock_name(connection)})
    except DBAPIError:
        return ""
    sessions = "; ".join(
        f"session {row.id} ({row.user}, {row.command.lower()} for {row.time} s"
        f"{', ' + row.state if row.state else ''})" for row in holders)
    return (f" held by {sessions}" if sessions else "") + (
        " (a populate is running)" if populating is not None else "")


backend = MySQLBackend()
