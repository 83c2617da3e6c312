"""Benchmark seeder's generator alone and `seeder export`, per size, each in its own process.

    python benchmarks/generate.py [--sizes 100000,1000000] [--seed 42]

Every measurement runs in a fresh child process; its wall time is taken around the process,
and its CPU time and peak RSS come from os.wait4() on that child alone (not the cumulative
RUSAGE_CHILDREN); Linux carries peak RSS across exec, so it is never below this process's
own RSS, which is kept small (stdlib only) and printed as the floor. "gen s" / "gen CPU s"
are the generator loop alone, timed inside the child (without interpreter start-up and
imports). MiB = 2**20 bytes; MB written = 10**6 bytes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from measure import measure, run, seeder_command, table

GENERATE_ONLY = """
import sys, time
from seeder.generator import generate
customers, seed = int(sys.argv[1]), int(sys.argv[2])
wall, cpu = time.perf_counter(), time.process_time()
rows = 0
for batch in generate(customers=customers, seed=seed):
    rows += len(batch)
print(rows, time.perf_counter() - wall, time.process_time() - cpu)
"""


def count_lines(path: Path) -> int:
    """Line breaks in a file, read in chunks so that this process stays small (see measure)."""
    lines = 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000",
                        help="comma-separated customer counts (default: 100000,1000000)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    seeder = seeder_command()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, seed {args.seed}, "
          f"load average at start {os.getloadavg()[0]:.2f}")
    print(f"peak RSS floor (this process, carried across exec into each child): "
          f"{measure(['true'])['rss']:.1f} MiB")
    generation, export = {}, {}
    for size in sizes:
        child = measure([sys.executable, "-c", GENERATE_ONLY, str(size), str(args.seed)])
        rows, gen_wall, gen_cpu = child["stdout"].split()
        child.update(rows=int(rows), gen_wall=float(gen_wall), gen_cpu=float(gen_cpu))
        generation[size] = child

        with tempfile.TemporaryDirectory(prefix="seeder_bench_") as directory:
            child = measure([*seeder, "export", "--customers", str(size), "--seed",
                             str(args.seed), "--out", directory])
            files = list(Path(directory).glob("*.csv"))
            child["mb"] = sum(file.stat().st_size for file in files) / 1e6
            # Data rows of the 5 files (the export writes no line breaks inside values).
            child["rows"] = sum(count_lines(file) - 1 for file in files)
            export[size] = child

    headers = ["measurement", "customers", "rows", "wall s", "CPU s", "rows/s", "peak RSS MiB",
               "gen s", "gen CPU s", "MB written"]
    rows = []
    for name, results in (("generate()", generation), ("seeder export", export)):
        for size in sizes:
            r = results[size]
            rows.append([name, f"{size:,}", f"{r['rows']:,}", f"{r['wall']:.2f}",
                         f"{r['cpu']:.2f}", f"{r['rows'] / r['wall']:,.0f}", f"{r['rss']:.1f}",
                         f"{r['gen_wall']:.2f}" if "gen_wall" in r else "-",
                         f"{r['gen_cpu']:.2f}" if "gen_cpu" in r else "-",
                         f"{r['mb']:.1f}" if "mb" in r else "-"])
    print()
    print(table(headers, rows))

    print()
    if len(sizes) >= 2:
        small, large = min(sizes), max(sizes)
        for name, results in (("generate()", generation), ("seeder export", export)):
            ratio = results[large]["rss"] / results[small]["rss"]
            verdict = "ok" if ratio <= 1.2 else "MISSED"
            print(f"peak RSS {large:,}/{small:,} {name:<14} {ratio:5.2f}  "
                  f"(goal <= 1.2: {verdict})")
    largest = max(sizes)
    r = generation[largest]
    verdict = "ok" if r["cpu"] < 10 else "MISSED"
    print(f"generation CPU at {largest:,} customers: {r['cpu']:.2f} s for the whole process, "
          f"{r['gen_cpu']:.2f} s in the generate() loop  (goal < 10 s: {verdict})")


if __name__ == "__main__":
    run(main)
