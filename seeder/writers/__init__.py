"""Writers: put generated batches into a database, one module per backend behind one interface.

A writer runs inside the caller's transaction. It may set secondary indexes and constraints
aside while it fills empty tables, and rebuilds them from the models before `finish()`
returns, so the schema ends exactly as migrated. Writers never decide what data to make.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from sqlalchemy import Connection, Table

from seeder.batch import Batch


class Writer(Protocol):
    def load_settings(self) -> AbstractContextManager[None]:
        """Hold load-time connection settings; entered before the transaction begins."""

    def clear(self, tables: list[Table]) -> None:
        """Delete every row of the tables."""

    def start(self) -> None:
        """Prepare the (empty) tables for a bulk load."""

    def encode(self, batch: Batch) -> Any:
        """The batch in the form write() sends; pure, so it can run in another thread."""

    def write(self, batch: Batch, encoded: Any) -> None:
        """Append the batch's rows, as encode() returned them, to its table."""

    def finish(self) -> None:
        """Rebuild what start() set aside and check the data's integrity."""


def writer_for(connection: Connection) -> Writer:
    """The writer for the connection's backend."""
    if connection.dialect.name == "postgresql":
        from seeder.writers.postgresql import PostgresWriter

        return PostgresWriter(connection)
    from seeder.writers.sqlite import SQLiteWriter

    return SQLiteWriter(connection)
