"""PostgreSQL (psycopg 3): binary COPY into bare tables, then keys, indexes and foreign keys,
as pg_restore does.

Loading into tables whose keys and indexes exist is 3-4 times slower than building them
afterwards; PostgreSQL's DDL is transactional, so this stays all-or-nothing. Rows travel in
PostgreSQL's binary COPY format, laid out by NumPy whole columns at a time, so the server
parses no text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import psycopg
from psycopg import sql
from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    Engine,
    Integer,
    SmallInteger,
    String,
    Table,
    Uuid,
    create_engine,
    func,
    select,
    text,
)
from sqlalchemy.engine import URL
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

from seeder import bytestrings
from seeder.backends import Backend
from seeder.batch import Batch
from seeder.errors import Busy
from seeder.models import DATA_TABLES
from seeder.progress import ANALYZING, INDEXING, Progress

# Fail fast when a host does not answer, rather than hanging on TCP retries.
CONNECT_TIMEOUT_SECONDS = 5
# Index builds are sort-bound; more memory than the 64 MB default makes them much faster.
MAINTENANCE_WORK_MEM = "512MB"
# Any fixed number: the key of the advisory lock that one populate holds at a time.
POPULATE_LOCK_KEY = 0x5EED_E4


class PostgresBackend(Backend):
    name = "postgresql"
    schemes = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
    driver_errors = (psycopg.Error,)

    def create_engine(self, url: URL) -> Engine:
        return create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})

    def lock_populate(self, connection: Connection, display: str) -> None:
        if not connection.scalar(select(func.pg_try_advisory_xact_lock(POPULATE_LOCK_KEY))):
            raise Busy(f"another seeder populate is writing to {display}; "
                       "try again when it is done")

    def interrupter(self, connection: Connection) -> Callable[[], None]:
        driver = connection.connection.driver_connection
        return driver.cancel

    def loader(self, connection: Connection) -> PostgresLoader:
        return PostgresLoader(connection)


class PostgresLoader:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._tables = {table.name: table for table in DATA_TABLES}
        self._foreign_keys = [fk for table in DATA_TABLES for fk in table.foreign_key_constraints]
        self._primary_keys = [table.primary_key for table in DATA_TABLES]
        self._indexes = [index for table in DATA_TABLES for index in table.indexes]

    @contextlib.contextmanager
    def settings(self) -> Iterator[None]:
        yield  # settings are SET LOCAL, undone by the transaction

    def start(self) -> None:
        execute = self._connection.execute
        names = ", ".join(self._connection.dialect.identifier_preparer.format_table(t)
                          for t in DATA_TABLES)
        self._connection.exec_driver_sql(f"TRUNCATE {names}")
        execute(text(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'"))
        for constraint in self._foreign_keys:
            execute(DropConstraint(constraint))
        for index in self._indexes:
            execute(DropIndex(index))
        for constraint in self._primary_keys:
            execute(DropConstraint(constraint))

    def encode(self, batch: Batch) -> bytes:
        return copy_binary(batch, self._tables[batch.table])

    def write(self, batch: Batch, encoded: bytes) -> None:
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
            sql.Identifier(batch.table), sql.SQL(", ").join(map(sql.Identifier, batch.columns))
        )
        cursor = self._connection.connection.driver_connection.cursor()
        with cursor.copy(statement) as copy:
            copy.write(encoded)

    def finish(self, progress: Progress) -> None:
        steps = [*map(AddConstraint, self._primary_keys), *map(CreateIndex, self._indexes),
                 *map(AddConstraint, self._foreign_keys)]
        for done, step in enumerate(steps):
            progress(INDEXING, done, len(steps))
            self._connection.execute(step)
        progress(INDEXING, len(steps), len(steps))
        for done, table in enumerate(DATA_TABLES):
            progress(ANALYZING, done, len(DATA_TABLES))
            self._connection.exec_driver_sql(f'ANALYZE "{table.name}"')
        progress(ANALYZING, len(DATA_TABLES), len(DATA_TABLES))


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
