"""Parquet files of generated batches, written with pyarrow (the `seeder[distributed]` extra).

A table's Arrow schema comes from its SQLAlchemy model: BigInteger -> int64, Integer -> int32,
SmallInteger -> int16, Date -> date32, String -> string, Uuid -> string (the canonical
36-character text, as in the CSV export; Spark cannot read Parquet's UUID logical type, and
pandas turns it into slow Python objects). Every column is non-nullable, as in the models, so
the Parquet columns are REQUIRED. Every file of a table has exactly this schema, so a directory
of them reads as one table.

Importing this module imports pyarrow; seeder.commands imports it only for a Parquet export,
after checking that pyarrow is installed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import BigInteger, Date, Integer, SmallInteger, String, Table, Uuid

from seeder import bytestrings
from seeder.batch import Batch
from seeder.models import DATA_TABLES

_UUID_TEXT_WIDTH = 36
# Checked in this order: a subclass before its base (BigInteger and SmallInteger are Integers).
_ARROW_TYPES = [(Uuid, pa.string()), (String, pa.string()), (Date, pa.date32()),
                (BigInteger, pa.int64()), (SmallInteger, pa.int16()), (Integer, pa.int32())]
# Columns drawn from short lists get dictionary pages; on unique values (ids, UUIDs, emails,
# VINs, phones) a dictionary costs time and saves nothing.
_DICTIONARY_COLUMNS = {"first_name", "last_name", "make", "model", "category", "name"}
# zstd at level 1: a third of the CSV's bytes, and less CPU than snappy with dictionaries on
# every column (pyarrow's default); DuckDB, pandas and Spark all read it.
_COMPRESSION, _COMPRESSION_LEVEL = "zstd", 1


def _arrow_type(table: Table, column: str) -> pa.DataType:
    sql_type = table.columns[column].type
    for sql_class, arrow_type in _ARROW_TYPES:
        if isinstance(sql_type, sql_class):
            return arrow_type
    raise TypeError(f"no Arrow type for {table.name}.{column} ({sql_type!r})")


SCHEMAS: dict[str, pa.Schema] = {
    table.name: pa.schema([pa.field(column.name, _arrow_type(table, column.name),
                                    nullable=False) for column in table.columns])
    for table in DATA_TABLES
}


def _arrow_array(column: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
    if column.dtype.kind == "S":
        # As binary, Arrow drops NumPy's NUL padding (pa.array(column, type=pa.string()) would
        # keep it); the cast to string checks that the bytes are UTF-8.
        return pa.array(column).cast(pa.string())
    if column.dtype.kind == "V":
        text = np.ascontiguousarray(bytestrings.uuid_text(column))
        offsets = np.arange(0, _UUID_TEXT_WIDTH * (len(column) + 1), _UUID_TEXT_WIDTH,
                            dtype=np.int32)
        return pa.StringArray.from_buffers(len(column), pa.py_buffer(offsets),
                                           pa.py_buffer(text))
    # Narrowing int64 to int32 or int16 is checked (ArrowInvalid on overflow); datetime64[D]
    # becomes date32 as it is.
    return pa.array(column, type=arrow_type)


def record_batch(batch: Batch) -> pa.RecordBatch:
    """The batch as an Arrow record batch of its table's schema."""
    schema = SCHEMAS[batch.table]
    return pa.RecordBatch.from_arrays(
        [_arrow_array(batch.columns[field.name], field.type) for field in schema],
        schema=schema)


def write_file(path: Path, table: str, batches: Iterable[Batch]) -> int:
    """Write the batches of `table` as one Parquet file at `path`, one row group per batch
    (a file with no batches holds the schema and no rows); return the number of rows.

    The file is opened without creating its directory: a task that outlives a cancelled export
    cannot bring its removed staging directory back.
    """
    schema = SCHEMAS[table]
    rows = 0
    with open(path, "wb") as file, pq.ParquetWriter(
            file, schema, compression=_COMPRESSION, compression_level=_COMPRESSION_LEVEL,
            use_dictionary=[name for name in schema.names if name in _DICTIONARY_COLUMNS]
    ) as writer:
        for batch in batches:
            writer.write_batch(record_batch(batch))
            rows += len(batch)
    return rows
