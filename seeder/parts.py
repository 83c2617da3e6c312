"""An export's files, written in parts, by one process or by many Dask tasks.

The rows of a dataset (or of one shard of it) come in parts:

- a block part: the customers, cars and transactions of one block of the generator
  (BLOCK_CUSTOMERS customers), named `block-NNNNNN` after the block's number (from 0);
- the shard part: what a shard holds beyond its blocks: the services (shard 1's), the free
  transactions created as rewards for its customers and the referral links whose referred
  customer it holds; named `shard-K-of-N` (`shard-1-of-1` for a whole dataset). A shard that
  holds no block also writes its (empty) customers and cars there.

What an export directory holds, per table:

- CSV: `TABLE.csv`, a header line and then the rows of every part, blocks first, in order.
  One process appends each part's rows to the files as they come; on Dask each part is written
  as a headerless piece, `pieces/TABLE/NAME.csv`, and one task per table joins the pieces in
  that order, so the bytes are the same.
- Parquet: a directory `TABLE/` with one file per part, `TABLE/NAME.parquet`, every one with
  the table's schema (an empty part writes a file without rows, so that every table has a file
  to read). Within transactions the names sort in id order: blocks, then the created rewards.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from seeder.batch import Batch
from seeder.formats import csv_header, csv_lines
from seeder.generator import (
    Catalog,
    DatasetPlan,
    Shard,
    block_rows,
    every_block_rewards,
    plan,
    reward_rows,
    services_batch,
    shard_customers,
)
from seeder.models import DATA_TABLES
from seeder.progress import WRITING, Progress

FORMATS = ("csv", "parquet")
TABLES = tuple(table.name for table in DATA_TABLES)
BLOCK_TABLES = ("customers", "cars", "transactions")
SHARD_TABLES = ("services", "transactions", "referral_links")
PIECES = "pieces"
_HEADERS = {table.name: csv_header(table) for table in DATA_TABLES}

# Writes one part: its name, the tables it has files for, and its batches (in runs of one
# table each); returns the rows written per table.
PartWriter = Callable[[str, Sequence[str], Iterable[Batch]], dict[str, int]]


def block_name(block: int) -> str:
    return f"block-{block:06d}"


def shard_name(shard: Shard) -> str:
    width = len(str(shard.count))
    return f"shard-{shard.index:0{width}d}-of-{shard.count}"


def outputs(format: str) -> list[str]:
    """What an export of `format` puts into its directory: a file or a directory per table."""
    return [f"{table}.csv" if format == "csv" else table for table in TABLES]


def prepare(directory: Path, format: str, pieces: bool) -> None:
    """Make the directories the parts are written into (the writers make none, so that a task
    that outlives a cancelled export cannot bring a removed directory back)."""
    if format == "parquet":
        for table in TABLES:
            (directory / table).mkdir()
    elif pieces:
        for table in TABLES:
            (directory / PIECES / table).mkdir(parents=True)


def parquet_parts(directory: Path) -> PartWriter:
    """A PartWriter of `directory/TABLE/NAME.parquet` files."""
    from seeder import parquet

    def write(name: str, tables: Sequence[str], batches: Iterable[Batch]) -> dict[str, int]:
        rows: dict[str, int] = {}
        # Each table's batches come in one run, so a run is a whole file.
        for table, run in itertools.groupby(batches, key=lambda batch: batch.table):
            rows[table] = parquet.write_file(directory / table / f"{name}.parquet", table, run)
        for table in tables:
            if table not in rows:
                rows[table] = parquet.write_file(directory / table / f"{name}.parquet", table,
                                                 [])
        return rows

    return write


def csv_pieces(directory: Path) -> PartWriter:
    """A PartWriter of headerless `directory/pieces/TABLE/NAME.csv` files, for join_csv."""

    def write(name: str, tables: Sequence[str], batches: Iterable[Batch]) -> dict[str, int]:
        rows = dict.fromkeys(tables, 0)
        with contextlib.ExitStack() as stack:
            files = {table: stack.enter_context(
                open(directory / PIECES / table / f"{name}.csv", "wb")) for table in tables}
            for batch in batches:
                files[batch.table].write(csv_lines(batch))
                rows[batch.table] += len(batch)
        return rows

    return write


def join_csv(directory: Path, table: str, names: Sequence[str]) -> None:
    """Write `directory/TABLE.csv`: the header, then the pieces of the named parts in order."""
    with open(directory / f"{table}.csv", "wb") as joined:
        joined.write(_HEADERS[table])
        for name in names:
            piece = directory / PIECES / table / f"{name}.csv"
            with open(piece, "rb") as part:
                shutil.copyfileobj(part, joined, 1 << 24)
            piece.unlink()


@contextlib.contextmanager
def csv_files(directory: Path) -> Iterator[PartWriter]:
    """A PartWriter that appends every part's rows to `directory/TABLE.csv`, one file per table
    with its header, open until the end."""
    with contextlib.ExitStack() as stack:
        files = {table: stack.enter_context(open(directory / f"{table}.csv", "wb"))
                 for table in TABLES}
        for table, file in files.items():
            file.write(_HEADERS[table])

        def write(name: str, tables: Sequence[str], batches: Iterable[Batch]) -> dict[str, int]:
            rows = dict.fromkeys(tables, 0)
            for batch in batches:
                files[batch.table].write(csv_lines(batch))
                rows[batch.table] += len(batch)
            return rows

        yield write


def write_block(catalog: Catalog, seed: int, dataset: DatasetPlan, block: int,
                write: PartWriter) -> tuple[dict[str, int], np.ndarray]:
    """Write a block part; return its rows per table and its BlockRows.reward_ids."""
    rows = block_rows(catalog, seed, dataset, block)
    return write(block_name(block), BLOCK_TABLES, rows.batches), rows.reward_ids


def write_shard_part(catalog: Catalog, seed: int, dataset: DatasetPlan, shard: Shard,
                     found: Sequence[np.ndarray], write: PartWriter) -> dict[str, int]:
    """Write the shard part; `found` is every block's BlockRows.reward_ids, in block order."""
    services = [services_batch(catalog)] if shard.index == 1 else []
    batches = itertools.chain(services, reward_rows(catalog, seed, dataset, found,
                                                    shard_customers(dataset, shard)))
    tables = SHARD_TABLES if shard.blocks(dataset.blocks) else TABLES
    return write(shard_name(shard), tables, batches)


def add_rows(total: dict[str, int], rows: dict[str, int]) -> None:
    for table, count in rows.items():
        total[table] += count


def write_here(directory: Path, format: str, catalog: Catalog, seed: int, customers: int,
               shard: Shard, checkpoint: Callable[[], None], report: Progress) -> dict[str, int]:
    """The whole export (or one shard's) in this process, into `directory`; rows per table.

    Progress: planning (blocks), then the shard's customers written. `checkpoint` runs between
    blocks.
    """
    dataset = plan(catalog, seed, customers, checkpoint, report)
    own = shard.blocks(dataset.blocks)
    total_rows = dict.fromkeys(TABLES, 0)
    found: dict[int, np.ndarray] = {}
    prepare(directory, format, pieces=False)
    with contextlib.ExitStack() as stack:
        write = (stack.enter_context(csv_files(directory)) if format == "csv"
                 else parquet_parts(directory))
        written, in_shard = 0, len(shard_customers(dataset, shard))
        report(WRITING, written, in_shard)
        for block in own:
            checkpoint()
            rows, found[block] = write_block(catalog, seed, dataset, block, write)
            add_rows(total_rows, rows)
            written += rows["customers"]
            report(WRITING, written, in_shard)
        # A shard needs the reward ids of the other blocks too: drawn without building rows.
        every = every_block_rewards(catalog, seed, dataset, found, checkpoint)
        checkpoint()
        add_rows(total_rows, write_shard_part(catalog, seed, dataset, shard, every, write))
    return total_rows
