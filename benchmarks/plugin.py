"""Benchmark the pytest plugin's cost per test: a fresh copy of a dataset, beside one populate.

    python benchmarks/plugin.py [--customers 20000] [--tests 20] [--seed 42]
                                [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

Per backend, one pytest session runs in a child process: --tests tests, each asking for
`seeder_url` with @pytest.mark.seeder(customers=N, seed=S) and doing nothing else. pytest's own
setup and teardown durations of each test are recorded by a conftest.py:
  - the first test's setup builds the template (init-db and populate) and takes the first copy;
  - every later test's setup is the per-test cost the goal is about: reading the marker and
    a fresh clone (`CREATE DATABASE ... TEMPLATE` on PostgreSQL, a file copy on SQLite);
  - every teardown but the last drops (deletes) that test's database; the last one also ends
    the session (drops the template).
Beside it: one `seeder.populate` of the same dataset into a fresh, `init_db`-ed database, timed
around the call alone in a child process (best of --populate-repeats).

Goal: a fresh clone of a 20,000-customer dataset in < 0.3 s on PostgreSQL and < 0.05 s on
SQLite (median of the clones).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from measure import measure, table

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
GOALS = {"postgresql": 0.3, "sqlite": 0.05}

# Records pytest's own durations of each test's setup and teardown.
RECORDER = """
import json

durations = []

def pytest_runtest_logreport(report):
    if report.when in ("setup", "teardown"):
        durations.append([report.when, report.duration])

def pytest_sessionfinish(session):
    with open("durations.json", "w") as file:
        json.dump(durations, file)
"""

TESTS = """
import pytest

@pytest.mark.seeder(customers={customers}, seed={seed})
@pytest.mark.parametrize("n", range({tests}))
def test_fresh_database(seeder_url, n):
    pass
"""

# argv: URL of a database to make (PostgreSQL: on the admin URL's server), customers, seed.
POPULATE_ONLY = """
import sys, time
import psycopg
import seeder
from sqlalchemy.engine import make_url

admin_url, target, customers, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
name = make_url(target).database
if admin_url:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
try:
    seeder.init_db(target)
    started = time.perf_counter()
    seeder.populate(target, customers=customers, seed=seed)
    print(time.perf_counter() - started)
finally:
    if admin_url:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
"""


def one_populate(backend: str, admin_url: str, work: Path, customers: int, seed: int,
                 repeats: int) -> list[float]:
    """Seconds of `seeder.populate` alone, each into a fresh database."""
    times = []
    for attempt in range(repeats):
        if backend == "postgresql":
            target = admin_url.rsplit("/", 1)[0] + f"/seeder_bench_{os.getpid()}_{attempt}"
            args = [admin_url, target]
        else:
            target = f"sqlite:///{work / f'populate_{attempt}.db'}"
            args = ["", target]
        out = measure([sys.executable, "-c", POPULATE_ONLY, *args, str(customers), str(seed)])
        times.append(float(out["stdout"]))
    return times


def plugin_session(backend: str, admin_url: str, work: Path, customers: int, seed: int,
                   tests: int) -> tuple[list[float], list[float], float]:
    """The setup and teardown seconds of each test of one pytest session, and its wall."""
    session = work / f"session_{backend}"
    session.mkdir()
    (session / "conftest.py").write_text(RECORDER)
    (session / "test_plugin_cost.py").write_text(
        TESTS.format(customers=customers, seed=seed, tests=tests))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--basetemp", str(session / "basetemp"), "--rootdir", str(session), str(session)]
    if backend == "postgresql":
        command += ["--seeder-url", admin_url]
    cwd = os.getcwd()
    os.chdir(session)  # the recorder writes durations.json into the working directory
    try:
        wall = measure(command)["wall"]
    finally:
        os.chdir(cwd)
    durations = json.loads((session / "durations.json").read_text())
    setups = [seconds for when, seconds in durations if when == "setup"]
    teardowns = [seconds for when, seconds in durations if when == "teardown"]
    return setups, teardowns, wall


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--tests", type=int, default=20,
                        help="tests in the pytest session (default: 20; at least 3)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--populate-repeats", type=int, default=3)
    parser.add_argument("--admin-url", default=ADMIN_URL,
                        help=f"PostgreSQL maintenance database (default: {ADMIN_URL})")
    parser.add_argument("--skip-postgresql", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    if args.tests < 3:
        parser.error("--tests must be at least 3 (the first and last tests are not clones alone)")
    backends = [b for b, skip in (("postgresql", args.skip_postgresql),
                                  ("sqlite", args.skip_sqlite)) if not skip]

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average at start {os.getloadavg()[0]:.2f}")
    print(f"{args.customers:,} customers, seed {args.seed}, {args.tests} tests per session")

    rows, verdicts = [], []
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="seeder_bench_plugin_") as temp:
            work = Path(temp)
            populates = one_populate(backend, args.admin_url, work, args.customers, args.seed,
                                     args.populate_repeats)
            setups, teardowns, wall = plugin_session(backend, args.admin_url, work,
                                                     args.customers, args.seed, args.tests)
        clones, drops = setups[1:], teardowns[:-1]
        populate = min(populates)
        rows.append([backend, f"{populate:.2f}", f"{setups[0]:.2f}", spread(clones),
                     spread(drops), f"{teardowns[-1]:.2f}", f"{wall:.1f}"])
        clone, goal = statistics.median(clones), GOALS[backend]
        verdicts.append(f"  {backend}: fresh clone of {args.customers:,} customers < {goal} s: "
                        f"{clone:.3f} {'ok' if clone < goal else 'MISSED'} "
                        f"(one populate of the same dataset: {populate:.2f} s, "
                        f"{populate / clone:.0f}x the clone)")

    print()
    print(table(["backend", f"populate s (best of {args.populate_repeats})",
                 "first setup s (build + clone)", "clone s median (min-max)",
                 "drop s median (min-max)", "last teardown s (+ session end)",
                 "session wall s"], rows))
    print("\ngoals:")
    print("\n".join(verdicts))
    # Clones are disk-bound: on a shared host they follow the load of the server's other users.
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
