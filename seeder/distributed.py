"""The export on Dask distributed: the generator's stages as tasks on a cluster's workers.

The task graph, submitted at once; data moves from worker to worker, and the client fetches
nothing but the row counts:

    plan_chunk(blocks)           -> BlockSummary of each block      a task per chunk of blocks
    plan_reduce(*summaries)      -> DatasetPlan                     the global step, one task
    chunk_plan(dataset, blocks)  -> the DatasetPlan with only the chunk's rewarded customers
    write_chunk(chunk plan)      -> (rows, reward ids) of its blocks, whose part files it writes
    scan_chunk(chunk plan)       -> (no rows, reward ids): blocks of other shards, no files
    write_shard(dataset, *chunk results) -> rows of the whole export (the shard part written)
    join_csv(table)              (CSV only) the table's pieces joined, one task per table

A chunk is a run of consecutive blocks: small enough that every worker gets several, large
enough that the scheduler's cost per task (milliseconds) does not count. Tasks write their
files at absolute paths into the export's staging directory, which the workers must see at
the same path (a local disk for a LocalCluster, a shared file system for a real cluster);
seeder.commands moves it into place when every task is done.

A task never changes its inputs (a worker shares them between tasks), and every task is
submitted with pure=False: tasks with the same arguments still write, in each export.

Memory. A block task holds one block at a time, whatever the size of the dataset. The global
step does not: the summaries it reduces hold 8 bytes per window-active customer and 8 per
customer registered inside the window, and plan_dataset needs about 39 bytes per
window-active customer more while it pairs: about 53 bytes per window-active customer in all
(measured from 1M to 30M customers by benchmarks/scaleout.py), that is 11.7 bytes per customer
with the default scenario, where 22% of the customers are window-active: 11 GiB at a billion
customers, on one worker. The pairing it keeps (2.4 bytes per customer: 2.3 GiB at a billion)
lives on that worker until write_shard, which also gets 8 bytes per rewarded customer (8.8%
of the customers) from the block tasks; a block task gets only its chunk's share.

Importing this module imports dask.distributed; seeder.commands imports it only for an export
on Dask, after checking that it is installed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import pickle
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import dask
import numpy as np
from distributed import Client, Future, KilledWorker, LocalCluster, as_completed
from distributed.client import FutureCancelledError
from distributed.utils import silence_logging_cmgr

from seeder import parts
from seeder.errors import ExportError, InvalidArgument
from seeder.generator import (
    BLOCK_CUSTOMERS,
    BlockSummary,
    Catalog,
    DatasetPlan,
    Pairing,
    Shard,
    block_rewards,
    plan_block,
    plan_dataset,
    revisit_rates,
    summarize,
)
from seeder.progress import PLANNING, WRITING, Progress
from seeder.scenario import Scenario

# The most blocks in one task (100,000 customers, about a second of work), and the fewest
# tasks per worker thread to aim for, so that a slow worker does not hold up the end.
TASK_BLOCKS = 10
TASKS_PER_THREAD = 4
# An existing cluster: how long to try to reach its scheduler, and to wait for a worker.
CONNECT_SECONDS = 10
WORKER_SECONDS = 10
# How often the client looks at tasks done, and at cancellation, while it waits.
POLL_SECONDS = 0.02
# The scheduler serves HTTP (health, metrics) even without a dashboard, by default on port
# 8787, and warns when that is taken (by another cluster): any free port on loopback will do.
_NO_HTTP_PORT = {"dashboard_address": "127.0.0.1:0"}
# Task errors reach the client as exceptions; distributed's own log lines, in this process and
# in the workers (a heartbeat that meets a closing scheduler, tasks cancelled by Ctrl-C), would
# only clutter stderr.
_LOG_LEVEL = logging.CRITICAL
# Settings of the workers of a LocalCluster. The nanny sets MALLOC_TRIM_THRESHOLD_ in the
# workers it starts, which turns off glibc's dynamic mmap threshold: every large NumPy array
# becomes a fresh mmap, and block tasks took 60-80% more CPU; None removes the variable. The
# statistical profiler, which samples the running task's stack every 10 ms for the dashboard
# (there is none), took 7% of a worker's CPU.
_WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                  "distributed.worker.profile.enabled": False}


@contextlib.contextmanager
def connect(workers: int | None, scheduler: str | None) -> Iterator[Client]:
    """A client of a new LocalCluster of `workers` processes (one thread each), closed at the
    end; or of the existing cluster whose scheduler is at `scheduler`, once it has a worker."""
    with silence_logging_cmgr(_LOG_LEVEL):
        if scheduler is None:
            with dask.config.set(_WORKER_CONFIG), \
                    LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                 dashboard_address=None, scheduler_kwargs=_NO_HTTP_PORT,
                                 silence_logs=_LOG_LEVEL) as cluster, \
                    Client(cluster, set_as_default=False) as client:
                yield client
        else:
            with _existing(scheduler) as client:
                yield client


@contextlib.contextmanager
def _existing(scheduler: str) -> Iterator[Client]:
    try:
        client = Client(scheduler, timeout=CONNECT_SECONDS, set_as_default=False)
    except ValueError as error:  # not an address: "unknown address scheme", "invalid port"
        raise InvalidArgument(f"{scheduler!r} is not a Dask scheduler address like "
                              f"tcp://host:8786 ({error})") from None
    except OSError:
        raise ExportError(f"cannot reach a Dask scheduler at {scheduler} within "
                          f"{CONNECT_SECONDS} s; check the address, or start one with "
                          "`dask scheduler`") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=WORKER_SECONDS)
        except TimeoutError:
            raise ExportError(f"the Dask scheduler at {scheduler} has no worker after "
                              f"{WORKER_SECONDS} s; start one with `dask worker {scheduler}`"
                              ) from None
        yield client


def export(client: Client, directory: Path, format: str, *, scenario: Scenario, seed: int,
           customers: int, shard: Shard, checkpoint: Callable[[], None],
           report: Progress) -> dict[str, int]:
    """The export (or one shard's) on the client's cluster, into `directory` (absolute, seen
    by every worker), prepared with parts.prepare; rows per table.

    Progress: planning (blocks), then the shard's customers written. `checkpoint` runs while
    the client waits, every POLL_SECONDS; what it raises stops the export (closing the client
    then drops the tasks that have not started).
    """
    blocks = range((customers + BLOCK_CUSTOMERS - 1) // BLOCK_CUSTOMERS)
    own = shard.blocks(len(blocks))
    threads = sum(client.nthreads().values())
    target = str(directory)
    blind = sorted(worker for worker, sees in client.run(os.path.isdir, target).items()
                   if not sees)
    if blind:
        raise ExportError(f"Dask workers that do not see {directory.parent}: "
                          f"{', '.join(blind)}; the output must be on a file system that every "
                          "worker has at the same path")

    def submit(function: Callable, *args) -> Future:
        return client.submit(function, *args, pure=False)

    def reward_scans(blocks: range) -> list[Future]:
        return [submit(_scan_chunk, scenario, seed, submit(_chunk_plan, dataset, chunk), chunk)
                for chunk in _chunks(blocks, threads)]

    try:
        plans = {submit(_plan_chunk, scenario, seed, customers, chunk): len(chunk)
                 for chunk in _chunks(blocks, threads)}
        dataset = submit(_plan_reduce, scenario, seed, customers, *plans)
        writes = {submit(_write_chunk, scenario, seed, submit(_chunk_plan, dataset, chunk),
                         chunk, target, format): _customers_in(chunk, customers)
                  for chunk in _chunks(own, threads)}
        chunk_results = [*reward_scans(range(own.start)), *writes,
                         *reward_scans(range(own.stop, len(blocks)))]
        total = submit(_write_shard, scenario, seed, dataset, shard, target, format,
                       *chunk_results)
        joins = [submit(_join_csv, target, table, _piece_names(table, own, shard), total)
                 for table in parts.TABLES] if format == "csv" else []
        _watch(client, plans, checkpoint, lambda done: report(PLANNING, done, len(blocks)))
        # A future the client holds keeps its result on a worker; the others live as long as
        # the tasks that need them.
        plans.clear()
        in_shard = sum(writes.values())
        _watch(client, writes, checkpoint, lambda done: report(WRITING, done, in_shard))
        _watch(client, dict.fromkeys([total, *joins], 0), checkpoint, lambda done: None)
        return total.result()
    except (KilledWorker, FutureCancelledError) as error:
        raise ExportError(f"the Dask cluster lost the export's tasks ({error}); see the "
                          "workers' logs (a worker out of memory?)") from None


def _watch(client: Client, futures: dict[Future, int], checkpoint: Callable[[], None],
           report: Callable[[int], None]) -> None:
    """Wait for the futures, reporting the sum of the sizes of those done, and checkpoint
    while waiting; a task's error is raised here at once."""
    done = 0
    report(done)
    # Each future is watched once (not once per look: there may be tens of thousands).
    completed = as_completed(futures, loop=client.loop)
    while not completed.is_empty():
        checkpoint()
        finished = completed.next_batch(block=False)
        if not finished:
            time.sleep(POLL_SECONDS)
        for future in finished:
            if future.status != "finished":
                future.result()  # raises the task's error
            done += futures[future]
        if finished:
            report(done)


def _chunks(blocks: range, threads: int) -> list[range]:
    size = max(1, min(TASK_BLOCKS, len(blocks) // (TASKS_PER_THREAD * threads)))
    return [range(start, min(start + size, blocks.stop))
            for start in range(blocks.start, blocks.stop, size)]


def _customers_in(blocks: range, customers: int) -> int:
    return min(blocks.stop * BLOCK_CUSTOMERS, customers) - blocks.start * BLOCK_CUSTOMERS


def _piece_names(table: str, own: range, shard: Shard) -> list[str]:
    """The parts with a piece of `table`, in file order."""
    names = [parts.block_name(block) for block in own] if table in parts.BLOCK_TABLES else []
    if table in parts.SHARD_TABLES or not own:
        names.append(parts.shard_name(shard))
    return names


# --- tasks (run on the workers) ----------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _catalog_of(scenario: bytes) -> Catalog:
    return Catalog(pickle.loads(scenario))


def _catalog(scenario: Scenario) -> Catalog:
    """The scenario's Catalog, built once per worker process (Faker's pools take 0.1 s)."""
    return _catalog_of(pickle.dumps(scenario))


def _plan_chunk(scenario: Scenario, seed: int, customers: int,
                blocks: range) -> list[BlockSummary]:
    catalog = _catalog(scenario)
    revisit = revisit_rates(catalog, seed)
    summaries = []
    for block in blocks:
        first = block * BLOCK_CUSTOMERS
        block_plan = plan_block(catalog, seed, revisit, block,
                                min(BLOCK_CUSTOMERS, customers - first))
        summaries.append(summarize(catalog, block_plan, first))
    return summaries


def _plan_reduce(scenario: Scenario, seed: int, customers: int,
                 *chunks: list[BlockSummary]) -> DatasetPlan:
    summaries = [summary for chunk in chunks for summary in chunk]
    return plan_dataset(_catalog(scenario), seed, customers, summaries)


def _chunk_plan(dataset: DatasetPlan, blocks: range) -> DatasetPlan:
    """What the chunk's blocks read of the DatasetPlan: all but the pairs, and of the rewarded
    customers only theirs, so that a block task's memory does not grow with the dataset."""
    pairing = dataset.pairing
    first = blocks.start * BLOCK_CUSTOMERS
    lo, hi = np.searchsorted(pairing.rewarded,
                             [first, first + _customers_in(blocks, dataset.customers)])
    no_pairs = np.empty(0, dtype=np.int64)
    return dataclasses.replace(dataset, pairing=Pairing(
        no_pairs, no_pairs, no_pairs, pairing.rewarded[lo:hi].copy(),
        pairing.rewarded_from[lo:hi].copy()))


@dataclasses.dataclass(frozen=True)
class _ChunkResult:
    rows: dict[str, int]
    reward_ids: list[np.ndarray]  # BlockRows.reward_ids of each block, in order


def _part_writer(directory: Path, format: str) -> parts.PartWriter:
    return parts.csv_pieces(directory) if format == "csv" else parts.parquet_parts(directory)


def _write_chunk(scenario: Scenario, seed: int, dataset: DatasetPlan, blocks: range,
                 directory: str, format: str) -> _ChunkResult:
    catalog, write = _catalog(scenario), _part_writer(Path(directory), format)
    rows, found = dict.fromkeys(parts.TABLES, 0), []
    for block in blocks:
        block_rows, reward_ids = parts.write_block(catalog, seed, dataset, block, write)
        parts.add_rows(rows, block_rows)
        found.append(reward_ids)
    return _ChunkResult(rows, found)


def _scan_chunk(scenario: Scenario, seed: int, dataset: DatasetPlan,
                blocks: range) -> _ChunkResult:
    catalog = _catalog(scenario)
    return _ChunkResult({}, [block_rewards(catalog, seed, dataset, block) for block in blocks])


def _write_shard(scenario: Scenario, seed: int, dataset: DatasetPlan, shard: Shard,
                 directory: str, format: str, *chunks: _ChunkResult) -> dict[str, int]:
    found = [reward_ids for chunk in chunks for reward_ids in chunk.reward_ids]
    rows = parts.write_shard_part(_catalog(scenario), seed, dataset, shard, found,
                                  _part_writer(Path(directory), format))
    total = dict.fromkeys(parts.TABLES, 0)
    for counted in [rows, *(chunk.rows for chunk in chunks)]:
        parts.add_rows(total, counted)
    return total


def _join_csv(directory: str, table: str, names: Sequence[str], _after: object) -> None:
    parts.join_csv(Path(directory), table, names)

