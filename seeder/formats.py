"""The text encodings of a generated batch: CSV (export files) and Python row tuples
(executemany). Binary encodings belong to the backend whose wire format they are."""

from __future__ import annotations

import numpy as np
from sqlalchemy import Table

from seeder import bytestrings
from seeder.batch import Batch


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
