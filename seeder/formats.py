"""The two encodings of a generated batch: CSV bytes (export files, PostgreSQL COPY) and
Python row tuples (SQLite executemany)."""

from __future__ import annotations

import numpy as np

from seeder import bytestrings
from seeder.generator import Batch


def _text(column: np.ndarray) -> np.ndarray:
    if column.dtype.kind == "i":
        return bytestrings.decimal(column)
    if column.dtype.kind == "M":
        return column.astype("S10")  # ISO 8601 dates
    return bytestrings.csv_field(column)


def csv_header(batch: Batch) -> bytes:
    """The CSV header line: the column names in table order."""
    return ",".join(batch.columns).encode() + b"\n"


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
        else:
            columns.append(bytestrings.decode(column))
    return list(zip(*columns, strict=True))
