"""SQLite: prepared executemany into tables without secondary indexes, then the indexes.

Foreign keys are switched off for the load (SQLite can only do that outside a transaction)
and checked as a whole with PRAGMA foreign_key_check before the transaction commits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Connection, Table
from sqlalchemy.schema import CreateIndex, DropIndex

from seeder.batch import Batch
from seeder.errors import SeederError
from seeder.formats import python_rows
from seeder.models import DATA_TABLES


class SQLiteWriter:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._indexes = [index for table in DATA_TABLES for index in table.indexes]
        self._inserts: dict[str, str] = {}

    @contextlib.contextmanager
    def load_settings(self) -> Iterator[None]:
        # foreign_keys can only change outside a transaction. (A page cache larger than the
        # default was measured to make the load slower and the index builds hungrier.)
        dbapi_connection = self._connection.connection.driver_connection
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            yield
        finally:
            dbapi_connection.execute("PRAGMA foreign_keys=ON")

    def clear(self, tables: list[Table]) -> None:
        for table in reversed(tables):
            self._connection.execute(table.delete())

    def start(self) -> None:
        for index in self._indexes:
            self._connection.execute(DropIndex(index))

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

    def finish(self) -> None:
        for index in self._indexes:
            self._connection.execute(CreateIndex(index))
        broken = self._connection.exec_driver_sql("PRAGMA foreign_key_check").first()
        if broken is not None:
            raise SeederError(f"generated data breaks a foreign key of table {broken[0]}; "
                               "this is a seeder bug: please report it with the seed and size")

