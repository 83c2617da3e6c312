"""Scaling out `seeder export`: shards, Dask (a LocalCluster, and a separately started
`dask scheduler` + `dask worker`) and Parquet.

The cluster tests share one LocalCluster of 2 worker processes for the session (its start
costs a second or two) and reach it through `scheduler=`, as they would reach any cluster;
one test lets export make its own (`workers=2`) through the command line.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import datetime as dt
import errno
import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dask
import duckdb
import pandas as pd
import psutil
import pyarrow.parquet as pq
import pytest
from distributed import Client, LocalCluster
from support import invoke, ok, one_line_error, small_disk

import seeder
from seeder import commands, distributed
from seeder.errors import Cancelled, ExportError, InvalidArgument
from seeder.generator import BLOCK_CUSTOMERS
from seeder.models import DATA_TABLES
from seeder.progress import WRITING

TABLES = [table.name for table in DATA_TABLES]
# Five blocks, the last one partial: seven shards leave two of them without a block.
CUSTOMERS, SEED = 4 * BLOCK_CUSTOMERS + 1_234, 5
UNUSED_URL = "sqlite:///unused.db"
# The scheduler's HTTP server on any free port (else 8787, and a warning when taken).
NO_HTTP_PORT = {"dashboard_address": "127.0.0.1:0"}
# A hang guard for waits on processes and tasks, never a speed requirement.
PATIENCE_SECONDS = 60


def _gone(pids: list[int]) -> list[int]:
    """The pids still alive (zombies count as gone), once they had PATIENCE_SECONDS to end."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    while True:
        alive = [pid for pid in pids if psutil.pid_exists(pid)
                 and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


@pytest.fixture(scope="session")
def cluster() -> Iterator[str]:
    """A LocalCluster of 2 single-threaded worker processes (as export makes them); its
    scheduler's address. No worker process outlives it."""
    config = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
    with dask.config.set(config), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                         dashboard_address=None, scheduler_kwargs=NO_HTTP_PORT,
                         silence_logs=logging.ERROR) as local:
        with Client(local, set_as_default=False) as client:
            pids = list(client.run(os.getpid).values())
        yield local.scheduler_address
    assert _gone(pids) == []


@pytest.fixture(scope="module")
def external_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dask scheduler` and `dask worker` (2 processes) started as commands, from this
    interpreter (the scheduler unpickles the tasks, so it must import the same seeder); the
    scheduler's address. Stopped with SIGTERM to their process groups; nothing is left."""
    directory = tmp_path_factory.mktemp("dask")
    scheduler_file = directory / "scheduler.json"
    log = open(directory / "log", "wb")
    common = {"start_new_session": True, "stdout": log, "stderr": log, "cwd": directory}
    started = [subprocess.Popen(
        [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
         "--no-dashboard", "--scheduler-file", str(scheduler_file)], **common)]
    tree: list[int] = []
    try:
        deadline = time.monotonic() + PATIENCE_SECONDS
        while not (scheduler_file.exists() and scheduler_file.stat().st_size):
            assert started[0].poll() is None and time.monotonic() < deadline, \
                (directory / "log").read_text()
            time.sleep(0.05)
        address = json.loads(scheduler_file.read_text())["address"]
        started.append(subprocess.Popen(
            [sys.executable, "-m", "dask", "worker", address, "--nworkers", "2", "--nthreads",
             "1", "--no-dashboard", "--host", "127.0.0.1", "--local-directory", str(directory),
             "--death-timeout", "30"], **common))
        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=PATIENCE_SECONDS)
        for process in started:
            tree += [process.pid] + [child.pid for child in
                                     psutil.Process(process.pid).children(recursive=True)]
        yield address
    finally:
        for process in reversed(started):  # the workers first
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(PATIENCE_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
    assert _gone(tree) == []


def _data_lines(directory: Path) -> dict[str, list[bytes]]:
    """The rows of each table's CSV file (after checking its header), as lines."""
    lines = {}
    for table in DATA_TABLES:
        header, *rows = (directory / f"{table.name}.csv").read_bytes().splitlines()
        assert header.decode().split(",") == [column.name for column in table.columns]
        lines[table.name] = rows
    return lines


def _digests(lines: dict[str, list[bytes]]) -> dict[str, tuple[int, str]]:
    """Rows and a digest of the sorted rows, per table: equal for the same rows in any order."""
    return {table: (len(rows), hashlib.sha256(b"\n".join(sorted(rows))).hexdigest())
            for table, rows in lines.items()}


def _file_digests(directory: Path) -> dict[str, str]:
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def single_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole dataset as CSV, in this process, as `seeder export` writes it by default."""
    out = tmp_path_factory.mktemp("single") / "data"
    commands.export(out, customers=CUSTOMERS, seed=SEED)
    return out


@pytest.fixture(scope="module")
def parquet_run(tmp_path_factory: pytest.TempPathFactory, cluster: str) -> Path:
    """The whole dataset as Parquet, on the cluster."""
    out = tmp_path_factory.mktemp("parquet") / "data"
    commands.export(out, customers=CUSTOMERS, seed=SEED, format="parquet", scheduler=cluster)
    return out


# --- shards -------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_the_union_of_the_shards_on_dask_is_the_single_run(count: int, cluster: str,
                                                           single_run: Path,
                                                           tmp_path: Path) -> None:
    union: dict[str, list[bytes]] = collections.defaultdict(list)
    for index in range(1, count + 1):
        out = tmp_path / f"shard-{index}"
        summary = commands.export(out, customers=CUSTOMERS, seed=SEED, shard=(index, count),
                                  scheduler=cluster)
        lines = _data_lines(out)
        assert summary.row_counts == {table: len(rows) for table, rows in lines.items()}
        assert index == 1 or not lines["services"], "the price list is shard 1's alone"
        for table, rows in lines.items():
            union[table] += rows
    assert _digests(union) == _digests(_data_lines(single_run))


def test_a_whole_export_is_the_same_bytes_on_dask(cluster: str, single_run: Path,
                                                  tmp_path: Path) -> None:
    """The Dask engine writes each block's piece in a task and joins them: the same files,
    byte for byte, as one process (and so the same golden digests)."""
    commands.export(tmp_path / "data", customers=CUSTOMERS, seed=SEED, scheduler=cluster)
    assert _file_digests(tmp_path / "data") == _file_digests(single_run)


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_a_shard_is_the_same_files_in_one_process_and_on_dask(file_format: str, cluster: str,
                                                              tmp_path: Path) -> None:
    for engine in ("here", "dask"):
        commands.export(tmp_path / engine, customers=CUSTOMERS, seed=SEED, format=file_format,
                        shard=(2, 3), scheduler=cluster if engine == "dask" else None)
    assert _file_digests(tmp_path / "dask") == _file_digests(tmp_path / "here")


def test_the_shard_option_on_the_command_line(tmp_path: Path) -> None:
    ok(invoke(UNUSED_URL, "export", "--customers", str(CUSTOMERS), "--seed", str(SEED),
              "--shard", "3/3", "--out", str(tmp_path / "part")))
    lines = _data_lines(tmp_path / "part")
    assert not lines["services"]
    ids = [int(row.split(b",")[0]) for row in lines["customers"]]
    # Shard K of N holds blocks (K-1)*B//N to K*B//N - 1 of the B = 5: here blocks 3 and 4.
    assert ids == list(range(3 * BLOCK_CUSTOMERS + 1, CUSTOMERS + 1))


@pytest.mark.parametrize("value, message", [
    ("2", "Invalid value for '--shard': '2' is not K/N, like 2/8"),
    ("a/b", "Invalid value for '--shard': 'a/b' is not K/N, like 2/8"),
    ("3/2", "shard must be K/N with 1 <= K <= N, not 3/2"),
    ("0/2", "shard must be K/N with 1 <= K <= N, not 0/2"),
])
def test_a_shard_that_is_not_k_of_n_is_refused(value: str, message: str, tmp_path: Path) -> None:
    result = invoke(UNUSED_URL, "export", "--customers", "10", "--seed", "1", "--shard", value,
                    "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert message in one_line_error(result)
    assert not (tmp_path / "out").exists()


# --- Parquet ------------------------------------------------------------------------------------


def _csv_rows(directory: Path, table: str) -> list[list[str]]:
    with open(directory / f"{table}.csv", newline="", encoding="utf-8") as file:
        return sorted(list(csv.reader(file))[1:], key=lambda row: int(row[0]))


def _as_text(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


@pytest.mark.parametrize("engine", ["here", "dask"])
def test_parquet_and_csv_hold_the_same_rows(engine: str, cluster: str, single_run: Path,
                                           parquet_run: Path, tmp_path: Path) -> None:
    if engine == "here":
        commands.export(tmp_path / "data", customers=CUSTOMERS, seed=SEED, format="parquet")
        assert _file_digests(tmp_path / "data") == _file_digests(parquet_run)
    connection = duckdb.connect()
    for table in TABLES:
        rows = connection.sql(f"SELECT * FROM read_parquet('{parquet_run}/{table}/*.parquet') "
                              "ORDER BY id").fetchall()
        assert [[_as_text(value) for value in row] for row in rows] == \
            _csv_rows(single_run, table), table


_DUCKDB_TYPES = {"BigInteger": "BIGINT", "Integer": "INTEGER", "SmallInteger": "SMALLINT",
                 "Date": "DATE", "String": "VARCHAR", "Uuid": "VARCHAR"}


def test_parquet_columns_have_the_models_types_and_no_nulls(parquet_run: Path) -> None:
    connection = duckdb.connect()
    for table in DATA_TABLES:
        files = sorted((parquet_run / table.name).glob("*.parquet"))
        described = connection.sql(f"DESCRIBE SELECT * FROM read_parquet('{files[0]}')")
        assert [(name, kind) for name, kind, *_ in described.fetchall()] == [
            (column.name, _DUCKDB_TYPES[type(column.type).__name__])
            for column in table.columns], table.name
        for file in files:
            assert all(not field.nullable for field in pq.read_schema(file)), file
    lengths = connection.sql(
        f"SELECT DISTINCT length(uuid) FROM read_parquet('{parquet_run}/*/*.parquet', "
        "union_by_name = true) WHERE uuid IS NOT NULL").fetchall()
    assert lengths == [(36,)]


def test_parquet_files_are_named_after_their_parts(parquet_run: Path) -> None:
    blocks = [f"block-{block:06d}.parquet" for block in range(5)]
    assert {table: sorted(path.name for path in (parquet_run / table).iterdir())
            for table in TABLES} == {
        "customers": blocks,
        "cars": blocks,
        "services": ["shard-1-of-1.parquet"],
        "transactions": [*blocks, "shard-1-of-1.parquet"],
        "referral_links": ["shard-1-of-1.parquet"],
    }
    assert sorted(path.name for path in parquet_run.iterdir()) == sorted(TABLES)


def test_a_shard_without_blocks_writes_an_empty_file_for_every_table(tmp_path: Path) -> None:
    # Shard 4 of 7 holds blocks 3*5//7 = 2 to 4*5//7 - 1 = 1 of the five: none.
    commands.export(tmp_path, customers=CUSTOMERS, seed=SEED, format="parquet", shard=(4, 7))
    connection = duckdb.connect()
    for table in TABLES:
        [name] = [path.name for path in (tmp_path / table).iterdir()]
        assert name == "shard-4-of-7.parquet"
        counted = connection.sql(f"SELECT count(*) FROM read_parquet('{tmp_path / table}/*')")
        assert counted.fetchall() == [(0,)], table


def test_pandas_reads_a_table_directory_as_one_frame(parquet_run: Path,
                                                     single_run: Path) -> None:
    frame = pd.read_parquet(parquet_run / "transactions").sort_values("id")
    assert frame["id"].tolist() == [int(row[0]) for row in _csv_rows(single_run, "transactions")]
    assert str(frame["id"].dtype) == "int64" and str(frame["price"].dtype) == "int32"
    typed = pd.read_parquet(parquet_run / "customers", dtype_backend="pyarrow")
    assert str(typed["registered_on"].dtype) == "date32[day][pyarrow]"
    assert len(typed) == CUSTOMERS


# --- existing clusters and errors ---------------------------------------------------------------


def test_the_scheduler_option_reaches_a_separately_started_cluster(
        external_scheduler: str, parquet_run: Path, tmp_path: Path) -> None:
    with Client(external_scheduler, timeout=30, set_as_default=False) as client:
        executed = sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())
    ok(invoke(UNUSED_URL, "export", "--customers", str(CUSTOMERS), "--seed", str(SEED),
              "--format", "parquet", "--scheduler", external_scheduler,
              "--out", str(tmp_path / "data")))
    assert _file_digests(tmp_path / "data") == _file_digests(parquet_run)
    with Client(external_scheduler, timeout=30, set_as_default=False) as client:
        ran = sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())
    assert ran > executed, "the tasks ran on the cluster's workers"


def test_the_workers_option_makes_its_own_cluster(single_run: Path, tmp_path: Path) -> None:
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    ok(invoke(UNUSED_URL, "export", "--customers", str(CUSTOMERS), "--seed", str(SEED),
              "--workers", "2", "--out", str(tmp_path / "data")))
    assert _file_digests(tmp_path / "data") == _file_digests(single_run)
    after = [child.pid for child in psutil.Process().children(recursive=True)]
    assert _gone([pid for pid in after if pid not in before]) == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_scheduler_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setattr(distributed, "CONNECT_SECONDS", 1)
    address = f"tcp://127.0.0.1:{_free_port()}"
    result = invoke(UNUSED_URL, "export", "--customers", "10", "--seed", "1", "--scheduler",
                    address, "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert one_line_error(result) == (
        f"seeder: error: cannot reach a Dask scheduler at {address} within 1 s; check the "
        "address, or start one with `dask scheduler`")
    assert list(tmp_path.iterdir()) == []


def test_a_scheduler_address_of_another_scheme_is_an_invalid_argument(tmp_path: Path) -> None:
    result = invoke(UNUSED_URL, "export", "--customers", "10", "--seed", "1", "--scheduler",
                    "http://127.0.0.1:8786", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert one_line_error(result).startswith(
        "seeder: error: 'http://127.0.0.1:8786' is not a Dask scheduler address like "
        "tcp://host:8786 (unknown address scheme 'http'")


def test_a_scheduler_without_workers_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setattr(distributed, "WORKER_SECONDS", 0.5)
    with LocalCluster(n_workers=0, dashboard_address=None, scheduler_kwargs=NO_HTTP_PORT,
                      silence_logs=logging.ERROR) as empty:
        with pytest.raises(ExportError) as raised:
            commands.export(tmp_path / "out", customers=10, seed=1,
                            scheduler=empty.scheduler_address)
    assert str(raised.value) == (
        f"the Dask scheduler at {empty.scheduler_address} has no worker after 0.5 s; start "
        f"one with `dask worker {empty.scheduler_address}`")
    assert list(tmp_path.iterdir()) == []


def test_workers_that_do_not_see_the_output_are_refused(tmp_path: Path) -> None:
    """A worker on another machine, as far as files go: in its own mount namespace, with an
    empty tmpfs where this test's directory is."""
    out = tmp_path / "out"
    with LocalCluster(n_workers=0, dashboard_address=None, scheduler_kwargs=NO_HTTP_PORT,
                      silence_logs=logging.ERROR) as scheduler:
        worker = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f"mount -t tmpfs tmpfs {tmp_path} && exec {sys.executable} -m dask worker "
             f"{scheduler.scheduler_address} --nthreads 1 --no-nanny --no-dashboard "
             "--death-timeout 30"],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            with Client(scheduler, set_as_default=False) as client:
                try:
                    client.wait_for_workers(1, timeout=PATIENCE_SECONDS)
                except TimeoutError:
                    reason = f"no worker in a mount namespace: {worker.communicate()[1]!r}"
                    if os.environ.get("CI", "").lower() == "true":
                        pytest.fail(f"CI=true requires this test: {reason}")
                    pytest.skip(reason)
                [name] = client.run(os.getpid)
            with pytest.raises(ExportError) as raised:
                commands.export(out, customers=10, seed=1,
                                scheduler=scheduler.scheduler_address)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(PATIENCE_SECONDS)
    assert str(raised.value) == (
        f"Dask workers that do not see {tmp_path}: {name}; the output must be on a file "
        "system that every worker has at the same path")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("module, arguments, purpose", [
    ("pyarrow", {"format": "parquet"}, "Parquet export"),
    ("distributed", {"workers": 2}, "Export on Dask"),
    ("distributed", {"scheduler": "tcp://127.0.0.1:8786"}, "Export on Dask"),
])
def test_without_the_extra_the_error_says_how_to_install_it(
        module: str, arguments: dict, purpose: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # `import module` raises ImportError
    with pytest.raises(ExportError) as raised:
        commands.export(tmp_path / "out", customers=10, seed=1, **arguments)
    assert str(raised.value) == (f"{purpose} needs {module}, which is not installed; install "
                                 "it with pip install 'seeder[distributed]'")
    assert list(tmp_path.iterdir()) == []


def test_a_csv_export_in_one_process_imports_neither_dask_nor_pyarrow(tmp_path: Path) -> None:
    script = ("import sys; from seeder import commands; "
              f"commands.export({str(tmp_path / 'out')!r}, customers=100, seed=1); "
              "print(sorted(m for m in ('dask', 'distributed', 'pyarrow') if m in sys.modules))")
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             timeout=PATIENCE_SECONDS)
    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == "[]"


@pytest.mark.parametrize("arguments, message", [
    ({"workers": 0}, "workers must be a positive integer, not 0"),
    ({"workers": True}, "workers must be a positive integer, not True"),
    ({"workers": 2, "scheduler": "tcp://127.0.0.1:8786"},
     "give either workers (a new local Dask cluster) or scheduler (an existing one), not both"),
    ({"format": "xlsx"}, "format must be one of csv, parquet, not 'xlsx'"),
    ({"shard": (3, 2)}, "shard must be K/N with 1 <= K <= N, not 3/2"),
])
def test_arguments_that_cannot_work_are_invalid(arguments: dict, message: str,
                                                tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as raised:
        seeder.export(tmp_path / "out", customers=10, seed=1, **arguments)
    assert str(raised.value) == message
    assert list(tmp_path.iterdir()) == []


# --- all or nothing -----------------------------------------------------------------------------


def _executing(scheduler: str) -> int:
    with Client(scheduler, timeout=30, set_as_default=False) as client:
        return sum(client.run(lambda dask_worker: dask_worker.state.executing_count).values())


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_a_cancelled_export_on_dask_leaves_the_earlier_one(file_format: str, cluster: str,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "data"
    commands.export(out, customers=300, seed=1, format=file_format)
    earlier = _file_digests(out)
    cancel = seeder.Cancellation()

    def progress(phase: str, done: int, total: int) -> None:
        if phase == WRITING and done:
            cancel.cancel()

    with pytest.raises(Cancelled) as raised:
        commands.export(out, customers=40 * BLOCK_CUSTOMERS, seed=2, format=file_format,
                        scheduler=cluster, cancel=cancel, progress=progress)
    assert str(raised.value) == (f"interrupted; nothing was written, and the earlier export in "
                                 f"{out}, if any, is untouched")
    # The tasks that were running when the export stopped go on until their next file, which
    # they cannot open: its directory is gone.
    deadline = time.monotonic() + PATIENCE_SECONDS
    while _executing(cluster) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _file_digests(out) == earlier
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_a_full_disk_on_a_worker_leaves_the_earlier_export(file_format: str, cluster: str,
                                                           tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "1m") as disk:
        out = disk / "data"
        commands.export(out, customers=300, seed=1, format=file_format)
        earlier = _file_digests(out)
        with pytest.raises(ExportError) as raised:
            commands.export(out, customers=40_000, seed=2, format=file_format,
                            scheduler=cluster)
        assert str(raised.value) == (
            f"cannot write to {out}: {os.strerror(errno.ENOSPC)}; the earlier export in {out}, "
            "if any, is untouched")
        assert _file_digests(out) == earlier
        assert sorted(path.name for path in disk.iterdir()) == ["data"]


def test_ctrl_c_during_an_export_on_dask_ends_it_and_leaves_the_earlier_one(
        tmp_path: Path) -> None:
    out = tmp_path / "data"
    ok(invoke(UNUSED_URL, "export", "--customers", "300", "--seed", "1", "--out", str(out)))
    earlier = _file_digests(out)
    process = subprocess.Popen(
        [sys.executable, "-m", "seeder", "export", "--customers", "3000000", "--seed", "2",
         "--format", "parquet", "--workers", "2", "--out", str(out)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + PATIENCE_SECONDS
        while not list(tmp_path.glob(".data.*.partial/customers/block-*.parquet")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        children = [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=PATIENCE_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert stderr.strip().splitlines() == [
        f"seeder: error: interrupted; nothing was written, and the earlier export in {out}, if "
        "any, is untouched"]
    assert _file_digests(out) == earlier
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]
    assert _gone(children) == []

