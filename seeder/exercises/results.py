"""Query results as comparable values, and the first difference between two of them.

The backends return the same answer in different Python types: SQLite gives dates as ISO text,
booleans as 1/0 and averages as floats, PostgreSQL gives `datetime.date`, `bool`, `Decimal` and
`uuid.UUID`. Every cell is normalised to None, int, float or str so that the same answer compares
equal on either backend; numbers compare within 1e-6.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal

Cell = None | int | float | str
Row = tuple[Cell, ...]

# Numbers (other than two integers, which must be equal) are equal within this distance.
TOLERANCE = 1e-6


@dataclasses.dataclass(frozen=True)
class ResultSet:
    """A query's result: column names, normalised rows, and how many rows it returned.

    `rows` may hold fewer rows than `row_count` when only the first ones were kept.
    """

    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    row_count: int

    @property
    def complete(self) -> bool:
        return len(self.rows) == self.row_count


def normalise_cell(value: object) -> Cell:
    """A database value as None, int, float or str, the same on every backend."""
    if value is None or isinstance(value, str | float):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        integral = value.is_finite() and value == value.to_integral_value()
        return int(value) if integral else float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def normalise_row(row: Iterable[object]) -> Row:
    return tuple(normalise_cell(value) for value in row)


def cells_equal(expected: Cell, actual: Cell) -> bool:
    """Equal values; numbers within TOLERANCE unless both are integers; 1 is not '1'."""
    expected_number = isinstance(expected, int | float)
    actual_number = isinstance(actual, int | float)
    if expected_number and actual_number:
        if isinstance(expected, int) and isinstance(actual, int):
            return expected == actual
        return math.isclose(expected, actual, rel_tol=0.0, abs_tol=TOLERANCE)
    if expected_number or actual_number:
        return False
    return expected == actual


def rows_equal(expected: Row, actual: Row) -> bool:
    return len(expected) == len(actual) and all(map(cells_equal, expected, actual))


def _sort_key(row: Row) -> tuple[tuple[int, float | str], ...]:
    # NULL first, then numbers (rounded to the tolerance, so that 0.30000000000000004 and
    # 0.3 sort alike), then text: a total order over mixed cells.
    key: list[tuple[int, float | str]] = []
    for cell in row:
        if cell is None:
            key.append((0, 0.0))
        elif isinstance(cell, int | float):
            key.append((1, round(cell, 6)))
        else:
            key.append((2, cell))
    return tuple(key)


def format_row(row: Row) -> str:
    """A row as the learner would write it: text quoted, NULL for a missing value."""
    def show(cell: Cell) -> str:
        if cell is None:
            return "NULL"
        if isinstance(cell, str):
            return "'" + cell.replace("'", "''") + "'"
        return repr(cell)

    return "(" + ", ".join(show(cell) for cell in row) + ")"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def compare_results(expected: ResultSet, actual: ResultSet, *, ordered: bool) -> str | None:
    """None when `actual` is the expected answer, else the first difference, in one line.

    Column names are ignored; rows are compared in order when `ordered`, else both sorted.
    """
    if len(actual.columns) != len(expected.columns):
        return (f"the query returns {_plural(len(actual.columns), 'column')}, "
                f"expected {len(expected.columns)}")
    count_differs = actual.row_count != expected.row_count
    counts = (f"the query returns {_plural(actual.row_count, 'row')}, "
              f"expected {expected.row_count:,}")
    if count_differs and not (ordered or actual.complete):
        # Only some rows were kept: sorting them would not show where the full results differ.
        return counts
    expected_rows: Sequence[Row] = expected.rows
    actual_rows: Sequence[Row] = actual.rows
    if not ordered:
        expected_rows = sorted(expected_rows, key=_sort_key)
        actual_rows = sorted(actual_rows, key=_sort_key)
    where = "row {}" if ordered else "row {} (rows sorted, as their order does not matter)"
    for index, (want, got) in enumerate(zip(expected_rows, actual_rows, strict=False), start=1):
        if not rows_equal(want, got):
            difference = (f"first difference at {where.format(index)}: "
                          f"expected {format_row(want)}, got {format_row(got)}")
            return f"{counts}; {difference}" if count_differs else difference
    if not count_differs:
        return None
    if len(actual_rows) < len(expected_rows):
        missing = expected_rows[len(actual_rows)]
        return f"{counts}; first missing row: {format_row(missing)}"
    return f"{counts}; first extra row: {format_row(actual_rows[len(expected_rows)])}"
