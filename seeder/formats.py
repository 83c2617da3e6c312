"""The encodings of a generated batch: CSV (export files), PostgreSQL's binary COPY format,
and Python row tuples (SQLite executemany)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import BigInteger, Date, Integer, SmallInteger, String, Table, Uuid

from seeder import bytestrings
from seeder.batch import Batch

# Binary COPY: a signature, flags and header-extension length before the rows, -1 after.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
_COPY_TRAILER = b"\xff\xff"
_POSTGRES_EPOCH = np.datetime64("2000-01-01", "D")


def _text(column: np.ndarray) -> np.ndarray:
    if column.dtype.kind == "i":
        return bytestrings.decimal(column)
    if column.dtype.kind == "M":
        return column.astype("S10")  # ISO 8601 dates
    if column.dtype.kind == "V":
        return bytestrings.uuid_text(column)
    return bytestrings.csv_field(column)


def csv_header(table: Table) -> bytes:
    """The CSV header line: the table's column names, in order."""
    return ",".join(column.name for column in table.columns).encode() + b"\n"


def csv_lines(batch: Batch) -> bytes:
    """The batch's rows as CSV lines (no header), as PostgreSQL's COPY ... CSV reads them."""
    parts: list[np.ndarray | bytes] = []
    for column in batch.columns.values():
        parts += [_text(column), b","]
    parts[-1] = b"\n"
    return bytestrings.join(parts)


def python_rows(batch: Batch) -> list[tuple]:
    """The batch's rows as tuples of int and str, for DB-API executemany."""
    columns = []
    for column in batch.columns.values():
        if column.dtype.kind == "i":
            columns.append(column.tolist())
        elif column.dtype.kind == "M":
            columns.append(column.astype("U10").tolist())
        elif column.dtype.kind == "V":
            columns.append(bytestrings.decode(bytestrings.uuid_text(column)))
        else:
            columns.append(bytestrings.decode(column))
    return list(zip(*columns, strict=True))


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
