"""`Batch`: rows of one table as NumPy columns, the unit that flows from generator to writer."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

import numpy as np


@dataclasses.dataclass(frozen=True)
class Batch:
    """Rows of one table: a NumPy array per column, in the table's column order.

    Integers are int64, dates datetime64[D], text UTF-8 `S` arrays, UUIDs 16-byte `V16`
    values (each encoding writes them as text or raw bytes, as its target wants).
    """

    table: str
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def slice(self, start: int, stop: int) -> Batch:
        """Rows start..stop-1 of this batch."""
        return Batch(self.table, {name: col[start:stop] for name, col in self.columns.items()})


def rebatch(batches: Iterable[Batch], size: int) -> Iterator[Batch]:
    """The same rows in batches of at most `size` rows."""
    for batch in batches:
        for start in range(0, len(batch), size):
            yield batch.slice(start, start + size)
