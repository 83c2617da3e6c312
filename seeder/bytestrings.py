"""Vectorised building of byte-string columns (NumPy `S` arrays) without per-row Python.

Emails, VINs, UUIDs, CSV lines and COPY data are all assembled here from whole columns.
An `S` array holds each value left-aligned and padded with NUL bytes, which NumPy strips
when the value is read back.
"""

from __future__ import annotations

import numpy as np

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DASHES = (8, 13, 18, 23)
_UUID_HEX_POSITIONS = [i for i in range(36) if i not in _DASHES]


def as_matrix(column: np.ndarray) -> np.ndarray:
    """The bytes of an `S` column as an (n, itemsize) uint8 matrix, without copying."""
    return column.view(np.uint8).reshape(len(column), column.dtype.itemsize)


def from_matrix(matrix: np.ndarray) -> np.ndarray:
    """An (n, width) uint8 matrix as an `S{width}` column."""
    matrix = np.ascontiguousarray(matrix)
    return matrix.view(f"S{matrix.shape[1]}").ravel()


def concat(parts: list[np.ndarray | bytes]) -> np.ndarray:
    """Row-wise concatenation of `S` columns and constant byte strings, like str + str per row."""
    n = next(len(part) for part in parts if isinstance(part, np.ndarray))
    lengths = [
        np.full(n, len(part)) if isinstance(part, bytes) else np.strings.str_len(part)
        for part in parts
    ]
    width = sum(len(part) if isinstance(part, bytes) else part.dtype.itemsize for part in parts)
    out = np.zeros((n, width), dtype=np.uint8)
    position = np.zeros(n, dtype=np.int64)
    for part, length in zip(parts, lengths, strict=True):
        if isinstance(part, bytes):
            if part:
                columns = position[:, None] + np.arange(len(part))
                out[np.arange(n)[:, None], columns] = np.frombuffer(part, dtype=np.uint8)
        else:
            source = as_matrix(part)
            rows, offsets = np.nonzero(np.arange(source.shape[1]) < length[:, None])
            out[rows, position[rows] + offsets] = source[rows, offsets]
        position += length
    return from_matrix(out[:, : max(int(position.max(initial=0)), 1)])


def decimal(values: np.ndarray) -> np.ndarray:
    """Non-negative integers as decimal text."""
    values = np.asarray(values, dtype=np.int64)
    top = int(values.max(initial=0))
    width = len(str(top))
    digits = np.ones(len(values), dtype=np.int64)
    for power in range(1, width):
        digits += values >= 10**power
    # Digit j (from the left) of a number with d digits is (v // 10**(d-1-j)) % 10.
    exponents = digits[:, None] - 1 - np.arange(width)
    powers = 10 ** np.clip(exponents, 0, None)
    matrix = (values[:, None] // powers % 10 + ord("0")).astype(np.uint8)
    matrix[exponents < 0] = 0
    return from_matrix(matrix)


def uuid_text(raw: np.ndarray) -> np.ndarray:
    """(n, 16) random bytes as canonical version-4 UUID text (36 characters)."""
    raw = raw.copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    out = np.full((len(raw), 36), ord("-"), dtype=np.uint8)
    hexdigits = np.empty((len(raw), 32), dtype=np.uint8)
    hexdigits[:, 0::2] = _HEX[raw >> 4]
    hexdigits[:, 1::2] = _HEX[raw & 0x0F]
    out[:, _UUID_HEX_POSITIONS] = hexdigits
    return from_matrix(out)


def encode(texts: list[str] | tuple[str, ...]) -> np.ndarray:
    """Python strings as a UTF-8 `S` column (for small pools, built once)."""
    return np.array([text.encode() for text in texts], dtype=bytes)


def decode(column: np.ndarray) -> list[str]:
    """An `S` column of UTF-8 as Python strings."""
    return np.strings.decode(column, "utf-8").tolist()


def csv_field(column: np.ndarray) -> np.ndarray:
    """Quote the values that CSV requires quoted (commas, quotes, line breaks)."""
    special = np.zeros(len(column), dtype=bool)
    for character in (b",", b'"', b"\n", b"\r"):
        special |= np.strings.find(column, character) >= 0
    if not special.any():
        return column
    quoted = np.strings.replace(column, b'"', b'""')
    quoted = np.strings.add(np.strings.add(b'"', quoted), b'"')
    return np.where(special, quoted, column.astype(quoted.dtype))
