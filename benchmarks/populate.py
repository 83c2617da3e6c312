"""Benchmark `seeder populate` against the best plain loader of the same rows.

    python benchmarks/populate.py [--sizes 100000,1000000] [--seed 42]
                                  [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
                                  [--mysql-admin-url mysql://root@127.0.0.1:3306/mysql]
                                  [--skip-postgresql] [--skip-mysql] [--skip-sqlite]

For each size the dataset is exported once to CSV (`seeder export`), then loaded by:

PostgreSQL (a fresh database `seeder_bench_*` per measurement, `seeder init-db`-ed):
  a. `seeder populate`                     (wall of the whole process, peak RSS via wait4)
  b. psql \\copy into the full schema       (one psql process, -1, ON_ERROR_STOP)
  c. psql, pg_restore way                  (same, but drop FKs, indexes and PKs first and
                                            add them back after the \\copy-s; the DDL is
                                            compiled from seeder.models with SQLAlchemy, and
                                            maintenance_work_mem is set as seeder's writer does)
  d. `seeder populate --workers 2`         (the parallel load over two connections; not a plain
                                            loader, so not in min(b, c): compared with a)
MariaDB (a fresh database `seeder_bench_*` per measurement, `seeder init-db`-ed):
  a. `seeder populate`
  b. mariadb LOAD DATA LOCAL INFILE into    (one mariadb process, --local-infile=1, autocommit,
     the full schema                        FOREIGN_KEY_CHECKS and UNIQUE_CHECKS on)
  c. mariadb, mysqldump/restore way         (same, but each table's secondary indexes, those
                                            InnoDB made for foreign keys included, and foreign
                                            keys dropped first (the primary key, InnoDB's
                                            clustered index, stays: the CSVs are in key order),
                                            SET foreign_key_checks=0 as mysqldump's output does,
                                            then one ALTER TABLE per table adds them back and
                                            ANALYZE TABLE; the DDL is compiled from seeder.models
                                            with SQLAlchemy's mysql dialect)
  With LOCAL the server turns errors into warnings (skipped rows): b and c run with
  --show-warnings and fail on any.
SQLite (a fresh `seeder init-db`-ed file per measurement):
  a. `seeder populate`
  b. sqlite3 shell .import into the indexed tables, in one BEGIN ... COMMIT
  c. the same, with the secondary indexes dropped before and created after the imports
  (b, c and seeder's writer all keep SQLite's default page cache and temp store)

Peak RSS is the child's own ru_maxrss from os.wait4(); Linux carries it across exec, so it is
never below this (stdlib-only) process's RSS, printed as the floor.
Row counts (for rows/s) are the data rows of the 5 CSV files; every load is checked to hold
exactly those counts afterwards; MariaDB's restore way also to end with the migrated schema's
indexes and foreign keys, by name (PostgreSQL's prints how many indexes it ended with).
A sync precedes each timed run, and a flush of the server's dirty pages: CHECKPOINT on
PostgreSQL; on MariaDB, which has no such statement, innodb_max_dirty_pages_pct set to 0 until
the buffer pool is clean (at most 30 s), then set back.
MiB = 2**20 bytes.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from measure import measure as measure_child
from measure import seeder_command, table

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
MYSQL_ADMIN_URL = "mysql://root@127.0.0.1:3306/mysql"
DB_PREFIX = "seeder_bench_"
# The order the plain loaders load the tables in: foreign-key order.
LOAD_ORDER = ["services", "customers", "cars", "transactions", "referral_links"]
SMALL_RUN_CUSTOMERS = 5000
SMALL_RUN_REPEATS = 3
# The goals at the largest size: populate / min(b, c), and populate's peak RSS in MiB (the
# issue sets MariaDB none: its peak RSS is only to stay flat across sizes, as all must).
RATIO_GOALS = {"postgresql": 1.3, "mariadb": 1.5, "sqlite": 2.0}
RSS_GOALS = {"postgresql": 300, "sqlite": 300}
# The longest the MariaDB flush before a timed run waits for a clean buffer pool (other
# sessions may keep dirtying it).
MYSQL_FLUSH_SECONDS = 30
# What `mariadb --show-warnings` prints after a statement that left warnings (or notes).
MYSQL_WARNING = re.compile(r"^(Warning|Note|Error) \(Code \d+\):", re.MULTILINE)


SEEDER = seeder_command()
# A load also counts as failed if its client reports an error on stderr but exits 0.
measure = functools.partial(measure_child, error_marker="Error")


def run(command: list[str], stdin: str | None = None) -> str:
    """Run an untimed helper command; its stdout."""
    result = subprocess.run(command, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"command failed ({result.returncode}): {' '.join(command)}\n"
                           f"{result.stdout}\n{result.stderr}")
    return result.stdout


def csv_row_counts(directory: Path) -> dict[str, int]:
    """Data rows (header excluded) of each exported table."""
    counts = {}
    for name in LOAD_ORDER:
        with open(directory / f"{name}.csv", newline="") as file:
            counts[name] = sum(1 for _ in csv.reader(file)) - 1
    return counts


# Compiled in a child process so that this process stays small: Linux carries a process's
# peak RSS across exec, so every measured child's ru_maxrss is at least this process's RSS.
DDL_FROM_MODELS = """
import json
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex
from seeder.models import DATA_TABLES
from seeder.backends.postgresql import MAINTENANCE_WORK_MEM

def sql(element, dialect):
    return str(element.compile(dialect=dialect)).strip() + ";"

# MySQL and MariaDB: the statements SQLAlchemy compiles, made clauses of one ALTER TABLE per
# table, so each table is altered once.
def clause(element, table):
    text = sql(element, my).removesuffix(";")
    name = my.identifier_preparer.format_table(table)
    if text.startswith("ALTER TABLE "):  # foreign keys: ALTER TABLE t ADD|DROP ...
        return text.removeprefix(f"ALTER TABLE {name} ")
    if text.startswith("DROP INDEX "):  # DROP INDEX i ON t
        return text.removesuffix(f" ON {name}")
    return "ADD " + text.removeprefix("CREATE ").replace(f" ON {name} ", " ", 1)

def alter(table, clauses):
    return f"ALTER TABLE {my.identifier_preparer.format_table(table)} {', '.join(clauses)};"

def server_made_indexes(table):
    # InnoDB gives a foreign key whose columns lead no index one of its own, named after the
    # key: the migrated schema has them, and adding the key back makes them again.
    led = {next(iter(index.columns)).name for index in [*table.indexes, table.primary_key]}
    return [fk for fk in table.foreign_key_constraints if fk.column_keys[0] not in led]

def by_name(items):
    return sorted(items, key=lambda item: item.name)

def mysql_drops():
    for table in DATA_TABLES:
        drops = [clause(DropConstraint(fk), table)
                 for fk in by_name(table.foreign_key_constraints)]
        drops += [clause(DropIndex(index), table) for index in by_name(table.indexes)]
        drops += [f"DROP INDEX {my.identifier_preparer.quote(fk.name)}"
                  for fk in by_name(server_made_indexes(table))]
        yield table, drops

def mysql_adds():
    for table in DATA_TABLES:
        yield table, ([clause(CreateIndex(index), table) for index in by_name(table.indexes)]
                      + [clause(AddConstraint(fk), table)
                         for fk in by_name(table.foreign_key_constraints)])

pg, lite, my = postgresql.dialect(), sqlite.dialect(), mysql.dialect()
# The set seeder's PostgreSQL writer sets aside, in its order.
foreign_keys = [fk for table in DATA_TABLES for fk in table.foreign_key_constraints]
indexes = [index for table in DATA_TABLES for index in table.indexes]
primary_keys = [table.primary_key for table in DATA_TABLES]
print(json.dumps({
    "columns": {table.name: [column.name for column in table.columns] for table in DATA_TABLES},
    "pg_before": [sql(DropConstraint(fk), pg) for fk in foreign_keys]
                 + [sql(DropIndex(index), pg) for index in indexes]
                 + [sql(DropConstraint(pk), pg) for pk in primary_keys],
    "pg_after": [sql(AddConstraint(pk), pg) for pk in primary_keys]
                + [sql(CreateIndex(index), pg) for index in indexes]
                + [sql(AddConstraint(fk), pg) for fk in foreign_keys],
    "sqlite_drop": [sql(DropIndex(index), lite) for index in indexes],
    "sqlite_create": [sql(CreateIndex(index), lite) for index in indexes],
    # What seeder's PostgreSQL writer sets for a load.
    "pg_maintenance_work_mem": MAINTENANCE_WORK_MEM,
    "mysql_before": [alter(table, drops) for table, drops in mysql_drops()],
    "mysql_after": [alter(table, adds) for table, adds in mysql_adds()],
}))
"""
DDL: dict = {}


def load_ddl() -> None:
    DDL.update(json.loads(run([sys.executable, "-c", DDL_FROM_MODELS])))


def columns_of(name: str) -> list[str]:
    return DDL["columns"][name]


def quiet_flush_postgres(admin_url: str) -> None:
    """Untimed: write out what earlier runs left dirty, so it is not billed to the next run."""
    os.sync()
    run(["psql", "-X", "-q", "-d", admin_url, "-c", "CHECKPOINT"])


# ---------------------------------------------------------------- PostgreSQL


class ServerDatabases:
    """The databases a benchmark created on a server; dropped at the end even on error."""

    created: list[str]

    def drop(self, name: str) -> None:
        raise NotImplementedError

    def drop_all(self) -> None:
        for name in self.created:
            try:
                self.drop(name)
            except RuntimeError as error:
                print(f"warning: could not drop {name}: {error}", file=sys.stderr)


class PostgresDatabases(ServerDatabases):
    """Fresh databases named seeder_bench_*, all dropped at the end even on error."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []
        self.serial = 0

    def fresh(self, label: str) -> str:
        """A new, `seeder init-db`-ed database; its URL."""
        self.serial += 1
        name = f"{DB_PREFIX}{os.getpid()}_{self.serial}_{label}"
        self.drop(name)
        run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.admin_url,
             "-c", f'CREATE DATABASE "{name}"'])
        self.created.append(name)
        url = self.admin_url.rsplit("/", 1)[0] + "/" + name
        run([*SEEDER, "--database-url", url, "init-db"])
        return url

    def drop(self, name: str) -> None:
        run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.admin_url,
             "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])

    def drop_url(self, url: str) -> None:
        self.drop(url.rsplit("/", 1)[1])


def pg_copy_lines(directory: Path) -> list[str]:
    return [f"\\copy {name} ({', '.join(columns_of(name))}) from "
            f"'{directory / (name + '.csv')}' csv header" for name in LOAD_ORDER]


def pg_counts(url: str) -> dict[str, int]:
    query = " union all ".join(f"select '{name}', count(*) from {name}" for name in LOAD_ORDER)
    out = run(["psql", "-X", "-At", "-F", ",", "-d", url, "-c", query])
    return {name: int(count) for name, count in (line.split(",") for line in out.split())}


def pg_psql(url: str, script: Path) -> dict:
    return measure(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                    "-d", url, "-f", str(script)])


def bench_postgres(databases: PostgresDatabases, directory: Path, work: Path, size: int,
                   seed: int, counts: dict[str, int]) -> dict[str, dict]:
    results = {}
    expected = counts

    url = databases.fresh("populate")
    quiet_flush_postgres(databases.admin_url)
    results["a"] = measure([*SEEDER, "--database-url", url, "populate", "--customers", str(size),
                            "--seed", str(seed)])
    check(pg_counts(url), expected, "PostgreSQL populate")
    databases.drop_url(url)

    url = databases.fresh("populate_workers")
    quiet_flush_postgres(databases.admin_url)
    results["d"] = measure([*SEEDER, "--database-url", url, "populate", "--customers", str(size),
                            "--seed", str(seed), "--workers", "2"])
    check(pg_counts(url), expected, "PostgreSQL populate --workers 2")
    databases.drop_url(url)

    script = work / "pg_copy.sql"
    script.write_text("\n".join(pg_copy_lines(directory)) + "\n")
    url = databases.fresh("copy")
    quiet_flush_postgres(databases.admin_url)
    results["b"] = pg_psql(url, script)
    check(pg_counts(url), expected, "PostgreSQL \\copy")
    databases.drop_url(url)

    before, after = DDL["pg_before"], DDL["pg_after"]
    work_mem = DDL["pg_maintenance_work_mem"]
    script = work / "pg_restore_way.sql"
    script.write_text("\n".join([f"SET LOCAL maintenance_work_mem = '{work_mem}';",
                                 *before, *pg_copy_lines(directory), *after]) + "\n")
    url = databases.fresh("restore_way")
    quiet_flush_postgres(databases.admin_url)
    results["c"] = pg_psql(url, script)
    check(pg_counts(url), expected, "PostgreSQL pg_restore way")
    # The schema must end as migrated: every index and constraint is back.
    restored = run(["psql", "-X", "-At", "-d", url, "-c",
                    "select count(*) from pg_indexes where schemaname = 'public'"])
    results["c"]["indexes"] = int(restored)
    databases.drop_url(url)
    return results


# ---------------------------------------------------------------- MariaDB


class MySQLServer(ServerDatabases):
    """The server of --mysql-admin-url: `mariadb` client arguments, and fresh databases named
    seeder_bench_*, all dropped at the end even on error."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        parts = urlsplit(admin_url)
        self.client = ["mariadb", "--no-defaults", "-h", parts.hostname or "127.0.0.1",
                       "-P", str(parts.port or 3306), "-u", unquote(parts.username or "root")]
        if parts.password is not None:
            self.client.append(f"--password={unquote(parts.password)}")
        self.created: list[str] = []
        self.serial = 0

    def sql(self, statement: str, database: str = "") -> str:
        """Untimed: one statement; its rows, tab-separated, without column names."""
        return run([*self.client, "--batch", "--skip-column-names", "-e", statement,
                    *([database] if database else [])])

    def fresh(self, label: str) -> str:
        """A new, `seeder init-db`-ed database; its name."""
        self.serial += 1
        name = f"{DB_PREFIX}{os.getpid()}_{self.serial}_{label}"
        self.drop(name)
        self.sql(f"CREATE DATABASE `{name}`")
        self.created.append(name)
        run([*SEEDER, "--database-url", self.url(name), "init-db"])
        return name

    def url(self, name: str) -> str:
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    def drop(self, name: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS `{name}`")

    def status(self, variable: str) -> int:
        return int(self.sql(f"SHOW GLOBAL STATUS LIKE '{variable}'").split()[1])

    def quiet_flush(self) -> None:
        """Untimed: have InnoDB write out the pages earlier runs left dirty, so that they are
        not billed to the next run (there is no CHECKPOINT statement)."""
        os.sync()
        previous = self.sql("SELECT @@GLOBAL.innodb_max_dirty_pages_pct").strip()
        self.sql("SET GLOBAL innodb_max_dirty_pages_pct = 0")
        try:
            deadline = time.monotonic() + MYSQL_FLUSH_SECONDS
            while self.status("Innodb_buffer_pool_pages_dirty") \
                    and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            self.sql(f"SET GLOBAL innodb_max_dirty_pages_pct = {previous}")
        os.sync()

    def counts(self, name: str) -> dict[str, int]:
        query = " union all ".join(f"select '{table}', count(*) from `{table}`"
                                   for table in LOAD_ORDER)
        out = self.sql(query, name)
        return {table: int(count) for table, count in (line.split() for line in out.splitlines())}

    def keys(self, name: str) -> set[tuple[str, ...]]:
        """The data tables' indexes and foreign keys, by name."""
        tables = ", ".join(f"'{table}'" for table in LOAD_ORDER)
        out = self.sql(
            "select distinct 'index', table_name, index_name from information_schema.statistics "
            f"where table_schema = database() and table_name in ({tables}) union all "
            "select 'foreign key', table_name, constraint_name "
            "from information_schema.referential_constraints "
            f"where constraint_schema = database() and table_name in ({tables})", name)
        return {tuple(line.split("\t")) for line in out.splitlines()}

    def load(self, name: str, script: Path) -> dict:
        """One mariadb process runs the script; fails on any warning, since LOAD DATA LOCAL
        skips the rows it cannot take with a warning instead of an error."""
        result = measure([*self.client, "--local-infile=1", "--show-warnings", "--batch", name],
                         stdin_path=script)
        warnings = [line for line in result["stdout"].splitlines() if MYSQL_WARNING.match(line)]
        if warnings:
            raise RuntimeError(f"mariadb {script.name}: {len(warnings)} warnings, the first: "
                               f"{warnings[0]}")
        return result


def mysql_load_lines(directory: Path) -> list[str]:
    return [f"LOAD DATA LOCAL INFILE '{directory / (name + '.csv')}' INTO TABLE `{name}` "
            "CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' "
            "ESCAPED BY '' LINES TERMINATED BY '\\n' IGNORE 1 LINES "
            f"({', '.join(f'`{column}`' for column in columns_of(name))});"
            for name in LOAD_ORDER]


def bench_mysql(server: MySQLServer, directory: Path, work: Path, size: int, seed: int,
                counts: dict[str, int]) -> dict[str, dict]:
    results = {}
    name = server.fresh("populate")
    server.quiet_flush()
    results["a"] = measure([*SEEDER, "--database-url", server.url(name), "populate",
                            "--customers", str(size), "--seed", str(seed)])
    check(server.counts(name), counts, "MariaDB populate")
    server.drop(name)

    script = work / "mysql_load.sql"
    script.write_text("\n".join(mysql_load_lines(directory)) + "\n")
    name = server.fresh("load")
    server.quiet_flush()
    results["b"] = server.load(name, script)
    check(server.counts(name), counts, "MariaDB LOAD DATA")
    server.drop(name)

    script = work / "mysql_restore_way.sql"
    analyze = "ANALYZE TABLE " + ", ".join(f"`{table}`" for table in LOAD_ORDER) + ";"
    script.write_text("\n".join(["SET foreign_key_checks = 0;", *DDL["mysql_before"],
                                 *mysql_load_lines(directory), *DDL["mysql_after"], analyze])
                      + "\n")
    name = server.fresh("restore_way")
    migrated = server.keys(name)
    server.quiet_flush()
    results["c"] = server.load(name, script)
    check(server.counts(name), counts, "MariaDB mysqldump/restore way")
    # The schema must end as migrated: every index and foreign key is back, by name.
    restored = server.keys(name)
    if restored != migrated:
        raise RuntimeError(f"MariaDB mysqldump/restore way: ended without {migrated - restored}"
                           f", with {restored - migrated}")
    results["c"]["indexes"] = sum(kind == "index" for kind, _, _ in restored)
    results["c"]["foreign_keys"] = len(restored) - results["c"]["indexes"]
    server.drop(name)
    return results


# ---------------------------------------------------------------- SQLite


def sqlite_fresh(work: Path, label: str) -> Path:
    path = work / f"{label}.db"
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    run([*SEEDER, "--database-url", f"sqlite:///{path}", "init-db"])
    return path


def sqlite_counts(path: Path) -> dict[str, int]:
    query = " union all ".join(f"select '{name}', count(*) from {name}" for name in LOAD_ORDER)
    out = run(["sqlite3", "-batch", "-csv", str(path), query + ";"])
    return {name: int(count) for name, count in (line.split(",") for line in out.split())}


def sqlite_import_script(directory: Path, drop_indexes: bool) -> str:
    lines = [".bail on", "BEGIN;"]
    if drop_indexes:
        lines += DDL["sqlite_drop"]
    lines += [f".import --csv --skip 1 {directory / (name + '.csv')} {name}"
              for name in LOAD_ORDER]
    if drop_indexes:
        lines += DDL["sqlite_create"]
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def bench_sqlite(directory: Path, work: Path, size: int, seed: int,
                 counts: dict[str, int]) -> dict[str, dict]:
    results = {}
    path = sqlite_fresh(work, "populate")
    os.sync()
    results["a"] = measure([*SEEDER, "--database-url", f"sqlite:///{path}", "populate",
                            "--customers", str(size), "--seed", str(seed)])
    check(sqlite_counts(path), counts, "SQLite populate")
    path.unlink()

    for key, drop_indexes in (("b", False), ("c", True)):
        script = work / f"sqlite_{key}.sql"
        script.write_text(sqlite_import_script(directory, drop_indexes))
        path = sqlite_fresh(work, f"import_{key}")
        os.sync()
        results[key] = measure(["sqlite3", "-batch", str(path)], stdin_path=script)
        check(sqlite_counts(path), counts, f"SQLite .import ({key})")
        path.unlink()
    return results


def small_populate(work: Path, seed: int) -> list[float]:
    """`seeder populate --customers 5000` on SQLite, process start to exit, each on a fresh file."""
    walls = []
    for _ in range(SMALL_RUN_REPEATS):
        path = sqlite_fresh(work, "small")
        os.sync()
        walls.append(measure([*SEEDER, "--database-url", f"sqlite:///{path}", "populate",
                              "--customers", str(SMALL_RUN_CUSTOMERS), "--seed",
                              str(seed)])["wall"])
        path.unlink()
    return walls


# ---------------------------------------------------------------- report


def check(actual: dict[str, int], expected: dict[str, int], what: str) -> None:
    if actual != expected:
        raise RuntimeError(f"{what}: loaded {actual}, the CSV files hold {expected}")


LABELS = {
    "postgresql": {"a": "a. seeder populate", "b": "b. psql \\copy, full schema",
                   "c": "c. psql, pg_restore way", "d": "d. seeder populate --workers 2"},
    "mariadb": {"a": "a. seeder populate", "b": "b. mariadb LOAD DATA, full schema",
                "c": "c. mariadb, mysqldump/restore way"},
    "sqlite": {"a": "a. seeder populate", "b": "b. sqlite3 .import, indexed",
               "c": "c. sqlite3 .import, indexes after"},
}


def print_backend(backend: str, size: int, rows: int, results: dict[str, dict]) -> dict:
    best_key = min(("b", "c"), key=lambda key: results[key]["wall"])
    ratio = results["a"]["wall"] / results[best_key]["wall"]
    body = []
    for key in sorted(results):
        r = results[key]
        body.append([LABELS[backend][key], f"{r['wall']:.2f}", f"{rows / r['wall']:,.0f}",
                     f"{r['cpu']:.2f}", f"{r['rss']:.1f}",
                     f"{r['wall'] / results[best_key]['wall']:.2f}"])
    print(f"\n{backend}, {size:,} customers, {rows:,} rows")
    print(table(["load", "wall s", "rows/s", "client CPU s", "client peak RSS MiB",
                 f"x best ({best_key})"], body))
    print(f"ratio = populate / min(b, c) = {results['a']['wall']:.2f} / "
          f"{results[best_key]['wall']:.2f} = {ratio:.2f}")
    if "d" in results:
        print(f"populate --workers 2 / populate = {results['d']['wall']:.2f} / "
              f"{results['a']['wall']:.2f} = {results['d']['wall'] / results['a']['wall']:.2f}")
    return {"populate": results["a"]["wall"], "best": results[best_key]["wall"],
            "best_key": best_key, "ratio": ratio, "rss": results["a"]["rss"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000",
                        help="comma-separated customer counts (default: 100000,1000000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--admin-url", default=ADMIN_URL,
                        help=f"PostgreSQL maintenance database (default: {ADMIN_URL})")
    parser.add_argument("--mysql-admin-url", default=MYSQL_ADMIN_URL,
                        help=f"MariaDB server, any database on it (default: {MYSQL_ADMIN_URL})")
    parser.add_argument("--skip-postgresql", action="store_true")
    parser.add_argument("--skip-mysql", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    backends = [b for b, skip in (("postgresql", args.skip_postgresql),
                                  ("mariadb", args.skip_mysql),
                                  ("sqlite", args.skip_sqlite)) if not skip]

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, seed {args.seed}, "
          f"load average at start {os.getloadavg()[0]:.2f}")
    print(f"seeder: {' '.join(SEEDER)}; "
          f"psql: {run(['psql', '--version']).strip()}; "
          f"mariadb: {run(['mariadb', '--version']).strip()}; "
          f"sqlite3: {run(['sqlite3', '--version']).split()[0]}")
    load_ddl()
    floor = measure(["true"])["rss"]
    print(f"peak RSS floor (this process, carried across exec into each child): {floor:.1f} MiB")
    if "postgresql" in backends:
        server = run(["psql", "-X", "-At", "-d", args.admin_url, "-c", "show server_version"])
        print(f"PostgreSQL server {server.strip()}")
    mysql_server = MySQLServer(args.mysql_admin_url)
    if "mariadb" in backends:
        print(f"MariaDB server {mysql_server.sql('SELECT VERSION()').strip()}, "
              "innodb_buffer_pool_size "
              f"{int(mysql_server.sql('SELECT @@innodb_buffer_pool_size')) / 2**20:.0f} MiB")

    summary: dict[tuple[str, int], dict] = {}
    databases = PostgresDatabases(args.admin_url)
    try:
        for size in sizes:
            with tempfile.TemporaryDirectory(prefix="seeder_bench_") as temp:
                directory, work = Path(temp) / "csv", Path(temp)
                exported = measure([*SEEDER, "export", "--customers", str(size), "--seed",
                                    str(args.seed), "--out", str(directory)])
                counts = csv_row_counts(directory)
                rows = sum(counts.values())
                megabytes = sum(f.stat().st_size for f in directory.glob("*.csv")) / 1e6
                print(f"\n=== {size:,} customers: {rows:,} rows ("
                      + ", ".join(f"{name} {count:,}" for name, count in counts.items())
                      + ")")
                print(f"export (not part of the comparison): {exported['wall']:.2f} s wall, "
                      f"{exported['cpu']:.2f} s CPU, {rows / exported['wall']:,.0f} rows/s, "
                      f"peak RSS {exported['rss']:.1f} MiB, {megabytes:.1f} MB of CSV")
                if "postgresql" in backends:
                    results = bench_postgres(databases, directory, work, size, args.seed,
                                             counts)
                    summary["postgresql", size] = print_backend("postgresql", size, rows,
                                                                results)
                    print(f"(pg_restore way ended with {results['c']['indexes']} indexes in "
                          "public, PKs included)")
                if "mariadb" in backends:
                    results = bench_mysql(mysql_server, directory, work, size, args.seed,
                                          counts)
                    summary["mariadb", size] = print_backend("mariadb", size, rows, results)
                    print(f"(mysqldump/restore way ended with the {results['c']['indexes']} "
                          f"indexes, PKs included, and {results['c']['foreign_keys']} foreign "
                          "keys of the migrated schema)")
                if "sqlite" in backends:
                    results = bench_sqlite(directory, work, size, args.seed, counts)
                    summary["sqlite", size] = print_backend("sqlite", size, rows, results)
        small = None
        if "sqlite" in backends:
            with tempfile.TemporaryDirectory(prefix="seeder_bench_") as temp:
                small = small_populate(Path(temp), args.seed)
    finally:
        databases.drop_all()
        mysql_server.drop_all()

    print("\n=== summary")
    body = []
    for (backend, size), s in summary.items():
        body.append([backend, f"{size:,}", f"{s['populate']:.2f}",
                     f"{s['best']:.2f} ({s['best_key']})", f"{s['ratio']:.2f}",
                     f"{s['rss']:.1f}"])
    print(table(["backend", "customers", "populate s", "best plain loader s", "ratio",
                 "populate peak RSS MiB"], body))

    print("\ngoals:")
    largest, smallest = max(sizes), min(sizes)
    for backend, goal in RATIO_GOALS.items():
        if (backend, largest) in summary:
            ratio = summary[backend, largest]["ratio"]
            print(f"  {backend} ratio at {largest:,} <= {goal}: {ratio:.2f} "
                  f"{'ok' if ratio <= goal else 'MISSED'}")
    for backend in backends:
        peak = max(s["rss"] for (b, _), s in summary.items() if b == backend)
        line = f"  {backend} populate peak RSS"
        if backend in RSS_GOALS:
            ceiling = RSS_GOALS[backend]
            line += f" < {ceiling} MiB: {peak:.1f} {'ok' if peak < ceiling else 'MISSED'}"
        else:
            line += f": {peak:.1f} MiB"
        if largest != smallest:
            growth = summary[backend, largest]["rss"] / summary[backend, smallest]["rss"]
            line += f"; {smallest:,} -> {largest:,}: x{growth:.2f} " \
                    f"{'flat' if growth <= 1.2 else 'NOT flat'} (flat taken as <= 1.2)"
        print(line)
    if small is not None:
        best = min(small)
        print(f"  seeder populate --customers {SMALL_RUN_CUSTOMERS:,} on SQLite, end to end, "
              f"best of {SMALL_RUN_REPEATS}: {best:.2f} s ("
              + ", ".join(f"{wall:.2f}" for wall in small)
              + f") < 1 s: {'ok' if best < 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
