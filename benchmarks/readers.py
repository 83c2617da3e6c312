"""What a reader sees while `seeder populate --replace` runs: which dataset, and how long each
query waits.

    python benchmarks/readers.py [--customers 1000000] [--old-customers 100000] [--seed 42]
                                 [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
                                 [--mysql-admin-url mysql://root@127.0.0.1:3306/mysql]

A database is filled with --old-customers, then `seeder populate --replace --customers N` runs in
a child process while this process asks `SELECT count(*) FROM customers` every 0.1 s over one
connection (autocommit, so each query sees the latest committed data). It prints how many
queries saw the old and the new dataset, how many failed and why, and the latency of the
queries (median, the slowest, and when during the populate the slowest ran). PostgreSQL,
MariaDB, then SQLite (with its default 5 s busy timeout, as `sqlite3.connect` has).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pymysql
from measure import seeder_command
from sqlalchemy.engine import make_url

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
MYSQL_ADMIN_URL = "mysql://root@127.0.0.1:3306/mysql"
SEEDER = seeder_command()
PAUSE_SECONDS = 0.1


def run(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True)


def watch(query, populate: subprocess.Popen) -> list[tuple[float, float, str]]:
    """(seconds since start, latency, what the query saw) until the populate ends."""
    seen, started = [], time.perf_counter()
    while populate.poll() is None:
        asked = time.perf_counter()
        try:
            outcome = str(query())
        except (psycopg.Error, pymysql.Error, sqlite3.Error) as error:
            outcome = f"error: {str(error).strip().splitlines()[0]}"
        seen.append((asked - started, time.perf_counter() - asked, outcome))
        time.sleep(PAUSE_SECONDS)
    return seen


def report(backend: str, seen: list[tuple[float, float, str]], wall: float, old: int,
           new: int) -> None:
    latencies = [latency for _, latency, _ in seen]
    slowest = max(seen, key=lambda entry: entry[1])
    outcomes: dict[str, int] = {}
    for _, _, outcome in seen:
        label = {str(old): "old dataset", str(new): "new dataset"}.get(outcome, outcome)
        outcomes[label] = outcomes.get(label, 0) + 1
    print(f"\n{backend}: populate --replace of {new:,} customers over {old:,} took {wall:.1f} s;"
          f" {len(seen)} reader queries")
    for label, count in outcomes.items():
        print(f"  {count:5d} saw {label}")
    print(f"  latency: median {statistics.median(latencies) * 1000:.0f} ms, slowest "
          f"{slowest[1] * 1000:.0f} ms at {slowest[0]:.1f} s into the populate; queries over "
          f"1 s: {sum(latency > 1 for latency in latencies)}")


def populate(url: str, customers: int, seed: int, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([*SEEDER, "--database-url", url, "populate", "--replace",
                             "--customers", str(customers), "--seed", str(seed)],
                            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def postgresql(admin_url: str, customers: int, old: int, seed: int, work: Path) -> None:
    name = f"seeder_bench_readers_{os.getpid()}"
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        run([*SEEDER, "--database-url", url, "init-db"])
        run([*SEEDER, "--database-url", url, "populate", "--customers", str(old), "--seed",
             str(seed)])
        with psycopg.connect(url, autocommit=True) as reader:
            started = time.perf_counter()
            child = populate(url, customers, seed + 1, work)
            seen = watch(lambda: reader.execute("SELECT count(*) FROM customers").fetchone()[0],
                         child)
            wall = time.perf_counter() - started
        if child.returncode != 0:
            raise RuntimeError(child.stderr.read().decode())
        report("PostgreSQL", seen, wall, old, customers)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def mariadb(admin_url: str, customers: int, old: int, seed: int, work: Path) -> None:
    name = f"seeder_bench_readers_{os.getpid()}"
    server = make_url(admin_url)
    url = server.set(database=name).render_as_string(hide_password=False)

    def connect(database: str | None) -> pymysql.Connection:
        return pymysql.connect(host=server.host, port=server.port or 3306,
                               user=server.username, password=server.password or "",
                               database=database, autocommit=True)

    with connect(None) as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
    try:
        run([*SEEDER, "--database-url", url, "init-db"])
        run([*SEEDER, "--database-url", url, "populate", "--customers", str(old), "--seed",
             str(seed)])
        with connect(name) as reader, reader.cursor() as cursor:
            def count() -> int:
                cursor.execute("SELECT count(*) FROM customers")
                return cursor.fetchone()[0]

            started = time.perf_counter()
            child = populate(url, customers, seed + 1, work)
            seen = watch(count, child)
            wall = time.perf_counter() - started
        if child.returncode != 0:
            raise RuntimeError(child.stderr.read().decode())
        report("MariaDB", seen, wall, old, customers)
    finally:
        with connect(None) as admin, admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def sqlite(customers: int, old: int, seed: int, work: Path) -> None:
    path = work / "readers.db"
    url = f"sqlite:///{path}"
    run([*SEEDER, "--database-url", url, "init-db"])
    run([*SEEDER, "--database-url", url, "populate", "--customers", str(old), "--seed",
         str(seed)])
    reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    started = time.perf_counter()
    child = populate(url, customers, seed + 1, work)
    seen = watch(lambda: reader.execute("SELECT count(*) FROM customers").fetchone()[0], child)
    wall = time.perf_counter() - started
    reader.close()
    if child.returncode != 0:
        raise RuntimeError(child.stderr.read().decode())
    report("SQLite", seen, wall, old, customers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--old-customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--mysql-admin-url", default=MYSQL_ADMIN_URL)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average at start "
          f"{os.getloadavg()[0]:.2f}; a reader query every {PAUSE_SECONDS} s")
    with tempfile.TemporaryDirectory(prefix="seeder_bench_") as temp:
        postgresql(args.admin_url, args.customers, args.old_customers, args.seed, Path(temp))
        mariadb(args.mysql_admin_url, args.customers, args.old_customers, args.seed, Path(temp))
        sqlite(args.customers, args.old_customers, args.seed, Path(temp))


if __name__ == "__main__":
    main()
