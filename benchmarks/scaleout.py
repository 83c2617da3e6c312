"""Benchmark scaling out `seeder export`: Dask workers against one process, Parquet against CSV,
memory per worker, and the memory of the global step (pairing the referrals).

    python benchmarks/scaleout.py [--customers 1000000] [--big 10000000] [--repeat 3]
                                  [--seed 42] [--parts speed,cluster,shards,memory,pairing]
                                  [--formats csv,parquet] [--methods spawn,fork]

speed    `seeder export` of --customers end to end, in --formats: one process, then --workers 1
         and 2 (a LocalCluster made by the command, its processes started by each of --methods,
         set as a user would, with DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD). Best wall
         of --repeat runs; CPU is that run's user+sys of the command and its workers (os.wait4
         counts the children the command reaped). Goals: 2 workers >= 1.7x one; Dask with 1
         worker <= 10% over one process.
cluster  the same Parquet export on an existing cluster (`dask scheduler` + `dask worker
         --no-nanny` processes started here), 1 and 2 workers: the run without the cluster's
         start and stop.
shards   a Parquet export of --customers, whole and as 4 shards, each in one process: what a
         shard costs beyond its quarter.
memory   Parquet exports of --customers and --big on an existing cluster of 2 workers, each
         worker's peak RSS (VmHWM: the peak of its own address space, not carried across exec);
         and one process at both sizes (ru_maxrss from wait4; never below this process's RSS).
pairing  the global step alone, in a child: the block summaries it reduces and the peak memory
         of plan_dataset (tracemalloc, which sees NumPy's arrays), per window-active customer.

The machine may be shared: the load average is printed with every measurement. MiB = 2**20
bytes. The measuring process imports the standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from measure import measure, run, seeder_command, table

PAIRING = """
import json, sys, time, tracemalloc
from seeder.generator import (BLOCK_CUSTOMERS, Catalog, block_sizes, plan_block, plan_dataset,
                              revisit_rates, summarize)
from seeder.scenario import Scenario
customers, seed = int(sys.argv[1]), int(sys.argv[2])
catalog = Catalog(Scenario())
revisit = revisit_rates(catalog, seed)
summaries = [summarize(catalog, plan_block(catalog, seed, revisit, block, count),
                       block * BLOCK_CUSTOMERS)
             for block, count in enumerate(block_sizes(customers))]
arrays = lambda s: (s.active, s.first_visit, s.new, s.registered)
tracemalloc.start()
clock = time.perf_counter()
dataset = plan_dataset(catalog, seed, customers, summaries)
seconds = time.perf_counter() - clock
_, peak = tracemalloc.get_traced_memory()
pairing = dataset.pairing
print(json.dumps({
    "active": sum(len(s.active) for s in summaries),
    "new": sum(len(s.new) for s in summaries),
    "summary_bytes": sum(a.nbytes for s in summaries for a in arrays(s)),
    "peak_bytes": peak,
    "pairing_bytes": sum(a.nbytes for a in (pairing.referrer, pairing.referred, pairing.day,
                                            pairing.rewarded, pairing.rewarded_from)),
    "pairs": len(pairing.referrer), "seconds": seconds,
}))
"""


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def best(command: list[str], repeat: int) -> dict:
    """The run with the least wall time of `repeat`, with the load average before each."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="seeder_scaleout_") as directory:
        for _ in range(repeat):
            before = load()
            result = measure([*command, "--out", str(Path(directory) / "out")],
                             error_marker="Traceback")
            result["load"] = before
            runs.append(result)
    chosen = min(runs, key=lambda run: run["wall"])
    chosen["loads"] = "/".join(run["load"] for run in runs)
    chosen["walls"] = "/".join(f"{run['wall']:.2f}" for run in runs)
    return chosen


@contextlib.contextmanager
def existing_cluster(workers: int) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """`dask scheduler` and `workers` x `dask worker --no-nanny`, on 127.0.0.1."""
    with tempfile.TemporaryDirectory(prefix="seeder_dask_") as directory:
        scheduler_file = Path(directory) / "scheduler.json"
        common = {"start_new_session": True, "stdout": subprocess.DEVNULL,
                  "stderr": subprocess.DEVNULL, "cwd": directory}
        processes = [subprocess.Popen(
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", str(scheduler_file)], **common)]
        try:
            while not (scheduler_file.exists() and scheduler_file.stat().st_size):
                if processes[0].poll() is not None:
                    raise RuntimeError("dask scheduler exited")
                time.sleep(0.05)
            address = json.loads(scheduler_file.read_text())["address"]
            workers_started = [subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", address, "--no-nanny", "--nthreads",
                 "1", "--no-dashboard", "--host", "127.0.0.1", "--local-directory", directory],
                **common) for _ in range(workers)]
            processes += workers_started
            yield address, workers_started
        finally:
            for process in reversed(processes):
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(30)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def speed(seeder: list[str], customers: int, seed: int, repeat: int, formats: list[str],
          methods: list[str]) -> None:
    print(f"\n== speed: `seeder export` of {customers:,} customers, best of {repeat} ==")
    rows, results = [], {}
    for file_format in formats:
        base = [*seeder, "export", "--customers", str(customers), "--seed", str(seed),
                "--format", file_format]
        runs = [("one process", base)]
        for method in methods:
            # Dask's own setting, as a user would give it.
            start = ["env", f"DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD={method}"]
            runs += [(f"--workers {workers} ({method})", [*start, *base, "--workers", workers])
                     for workers in ("1", "2")]
        for name, command in runs:
            result = best(command, repeat)
            results[file_format, name] = result
            rows.append([f"{file_format} {name}", f"{result['wall']:.2f}", result["walls"],
                         f"{result['cpu']:.2f}", f"{customers / result['wall']:,.0f}",
                         result["loads"]])
    print(table(["export", "best wall s", "walls s", "CPU s", "customers/s", "load before"],
                rows))
    print()
    for file_format in formats:
        for method in methods:
            one = results[file_format, f"--workers 1 ({method})"]["wall"]
            two = results[file_format, f"--workers 2 ({method})"]["wall"]
            plain = results[file_format, "one process"]["wall"]
            print(f"{file_format:7} {method:5}: 2 workers / 1 worker {one / two:4.2f}x "
                  f"(goal >= 1.7); 1 worker over one process {100 * (one / plain - 1):+5.0f}% "
                  f"(goal <= +10%); 2 workers / one process {plain / two:4.2f}x")


def on_cluster(seeder: list[str], customers: int, seed: int, repeat: int) -> None:
    print(f"\n== existing cluster: Parquet export of {customers:,} customers with "
          f"--scheduler, best of {repeat} ==")
    rows, walls = [], {}
    for workers in (1, 2):
        with existing_cluster(workers) as (address, _):
            command = [*seeder, "export", "--customers", str(customers), "--seed", str(seed),
                       "--format", "parquet", "--scheduler", address]
            result = best(command, repeat)
        walls[workers] = result["wall"]
        rows.append([f"{workers} worker{'s' if workers > 1 else ''}", f"{result['wall']:.2f}",
                     result["walls"], f"{customers / result['wall']:,.0f}",
                     f"{customers / result['wall'] / workers:,.0f}", result["loads"]])
    print(table(["cluster", "best wall s", "walls s", "customers/s", "per worker",
                 "load before"], rows))
    print(f"2 workers / 1 worker: {walls[1] / walls[2]:.2f}x (goal >= 1.7)")


def shards(seeder: list[str], customers: int, seed: int, count: int) -> None:
    print(f"\n== shards: Parquet export of {customers:,} customers, whole and as {count} "
          "shards, one process each ==")
    rows = []
    with tempfile.TemporaryDirectory(prefix="seeder_scaleout_") as directory:
        command = [*seeder, "export", "--customers", str(customers), "--seed", str(seed),
                   "--format", "parquet"]
        before = load()
        whole = measure([*command, "--out", f"{directory}/whole"])["wall"]
        rows.append(["whole", f"{whole:.2f}", "", before])
        for index in range(1, count + 1):
            before = load()
            wall = measure([*command, "--shard", f"{index}/{count}",
                            "--out", f"{directory}/{index}"])["wall"]
            rows.append([f"shard {index}/{count}", f"{wall:.2f}", f"{wall - whole / count:.2f}",
                         before])
    print(table(["export", "wall s", "over whole/N s", "load before"], rows))
    print("A shard plans every block and draws the reward ids of the blocks of the others "
          "(without their rows): that is its cost over whole/N, the same for every N.")


def memory(seeder: list[str], sizes: list[int], seed: int) -> None:
    print("\n== memory: Parquet exports, peak RSS ==")
    rows = []
    for customers in sizes:
        with tempfile.TemporaryDirectory(prefix="seeder_scaleout_") as directory:
            before = load()
            result = measure([*seeder, "export", "--customers", str(customers), "--seed",
                              str(seed), "--format", "parquet", "--out", f"{directory}/out"])
            rows.append([f"one process, {customers:,}", f"{result['wall']:.2f}",
                         f"{result['rss']:.0f}", before])
        with existing_cluster(2) as (address, workers), \
                tempfile.TemporaryDirectory(prefix="seeder_scaleout_") as directory:
            before = load()
            result = measure([*seeder, "export", "--customers", str(customers), "--seed",
                              str(seed), "--format", "parquet", "--scheduler", address,
                              "--out", f"{directory}/out"])
            peaks = sorted(peak_rss_mib(worker.pid) for worker in workers)
            rows.append([f"2 workers, {customers:,}", f"{result['wall']:.2f}",
                         " / ".join(f"{peak:.0f}" for peak in peaks), before])
    print(f"peak RSS floor of one process (this process, carried across exec): "
          f"{measure(['true'])['rss']:.1f} MiB")
    print(table(["export", "wall s", "peak RSS MiB (per worker)", "load before"], rows))


def pairing(sizes: list[int], seed: int) -> None:
    print("\n== pairing: the global step (plan_dataset) on every block's summary ==")
    rows = []
    for customers in sizes:
        child = measure([sys.executable, "-c", PAIRING, str(customers), str(seed)])
        facts = json.loads(child["stdout"])
        per_active = (facts["summary_bytes"] + facts["peak_bytes"]) / facts["active"]
        rows.append([f"{customers:,}", f"{facts['active']:,}",
                     f"{facts['active'] / customers:.3f}", f"{facts['new']:,}",
                     f"{facts['summary_bytes'] / 2**20:.1f}", f"{facts['peak_bytes'] / 2**20:.1f}",
                     f"{facts['pairing_bytes'] / 2**20:.1f}", f"{per_active:.1f}",
                     f"{facts['seconds']:.2f}"])
        last = (customers, facts, per_active)
    print(table(["customers", "window-active", "per customer", "new in window",
                 "summaries MiB", "reduce peak MiB", "pairing MiB", "bytes/active",
                 "reduce s"], rows))
    customers, facts, per_active = last
    billion = 10**9
    active = facts["active"] / customers * billion
    print(f"at 1,000,000,000 customers (scaled from {customers:,}): {active:,.0f} window-active "
          f"customers, summaries + reduce peak {active * per_active / 2**30:.1f} GiB, pairing "
          f"{facts['pairing_bytes'] / customers * billion / 2**30:.1f} GiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--parts", default="speed,cluster,shards,memory,pairing")
    parser.add_argument("--formats", default="csv,parquet", help="of the speed part")
    parser.add_argument("--methods", default="spawn,fork",
                        help="Dask's start methods for the speed part's workers")
    args = parser.parse_args()
    chosen = args.parts.split(",")
    seeder = seeder_command()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, seed {args.seed}, load "
          f"average at start {load()}")
    if "speed" in chosen:
        speed(seeder, args.customers, args.seed, args.repeat, args.formats.split(","),
              args.methods.split(","))
    if "cluster" in chosen:
        on_cluster(seeder, args.customers, args.seed, args.repeat)
    if "shards" in chosen:
        shards(seeder, args.customers, args.seed, 4)
    if "memory" in chosen:
        memory(seeder, [args.customers, args.big], args.seed)
    if "pairing" in chosen:
        pairing([args.customers, args.big], args.seed)
    print(f"\nload average at the end {load()}")


if __name__ == "__main__":
    run(main)
