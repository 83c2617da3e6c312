"""PostgreSQL: COPY into bare tables, then keys, indexes and foreign keys, as pg_restore does.

Loading into tables whose keys and indexes exist is 3-4 times slower than building them
afterwards; PostgreSQL's DDL is transactional, so this stays all-or-nothing.
"""

from __future__ import annotations

import contextlib

from psycopg import sql
from sqlalchemy import Connection, Table, text
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

from seeder.batch import Batch
from seeder.formats import copy_binary
from seeder.models import DATA_TABLES

# Index builds are sort-bound; more memory than the 64 MB default makes them much faster.
MAINTENANCE_WORK_MEM = "512MB"


class PostgresWriter:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._tables = {table.name: table for table in DATA_TABLES}
        self._foreign_keys = [fk for table in DATA_TABLES for fk in table.foreign_key_constraints]
        self._primary_keys = [table.primary_key for table in DATA_TABLES]
        self._indexes = [index for table in DATA_TABLES for index in table.indexes]

    def load_settings(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # settings are SET LOCAL, undone by the transaction

    def clear(self, tables: list[Table]) -> None:
        names = ", ".join(self._connection.dialect.identifier_preparer.format_table(t)
                          for t in tables)
        self._connection.exec_driver_sql(f"TRUNCATE {names}")

    def start(self) -> None:
        execute = self._connection.execute
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

    def finish(self) -> None:
        execute = self._connection.execute
        for constraint in self._primary_keys:
            execute(AddConstraint(constraint))
        for index in self._indexes:
            execute(CreateIndex(index))
        for constraint in self._foreign_keys:
            execute(AddConstraint(constraint))
