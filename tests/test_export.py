"""`seeder export`: one CSV file per table that loads as it is into SQLite and PostgreSQL, and the
same bytes for the same seed, scenario and size, pinned by golden digests (of every encoding:
CSV, binary COPY, row tuples; and of a non-default locale).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pymysql
import pytest
from click.testing import CliRunner
from golden import encodings
from psycopg import sql
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from seeder import commands
from seeder.cli import cli
from seeder.generator import GENERATOR_VERSION
from seeder.models import DATA_TABLES

TABLES = [table.name for table in DATA_TABLES]  # foreign-key order
CUSTOMERS, SEED = 3_000, 7
GOLDEN_DIR = Path(__file__).parent / "golden"
# More customers than one generator block, so block seeds and id offsets are pinned too.
GOLDEN_SEED, GOLDEN_CUSTOMERS = 20240101, 25_000
SQLITE3 = shutil.which("sqlite3") or "/usr/bin/sqlite3"

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INTEGER = re.compile(r"^(0|[1-9][0-9]*)$")


def export(out: Path, *args: str) -> None:
    result = CliRunner().invoke(
        cli, ["export", "--customers", str(CUSTOMERS), "--seed", str(SEED), "--out", str(out),
              *args])
    assert result.exit_code == 0, (result.output, result.exception)


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def digests(directory: Path) -> dict[str, str]:
    return {path.stem: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.glob("*.csv"))}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export")
    export(out)
    return out


# --- the files ---------------------------------------------------------------------------------


def test_one_csv_per_table_with_the_model_columns_as_header(exported: Path) -> None:
    assert sorted(path.name for path in exported.iterdir()) == sorted(f"{t}.csv" for t in TABLES)
    for table in DATA_TABLES:
        rows = read_csv(exported / f"{table.name}.csv")
        assert rows[0] == [column.name for column in table.columns], table.name
        assert len(rows) > 1, table.name
        assert all(len(row) == len(rows[0]) for row in rows[1:]), table.name
    assert len(read_csv(exported / "customers.csv")) == CUSTOMERS + 1


def test_values_are_iso_dates_canonical_uuids_and_plain_integers(exported: Path) -> None:
    for table in DATA_TABLES:
        rows = read_csv(exported / f"{table.name}.csv")
        header, body = rows[0], rows[1:]
        for index, name in enumerate(header):
            values = [row[index] for row in body]
            kind = type(table.columns[name].type).__name__
            if name == "uuid":
                assert all(len(v) == 36 and UUID.match(v) for v in values), (table.name, name)
            elif kind == "Date":
                assert all(ISO_DATE.match(v) for v in values), (table.name, name)
                for value in values:
                    dt.date.fromisoformat(value)
            elif kind in ("BigInteger", "Integer", "SmallInteger"):
                assert all(INTEGER.match(v) for v in values), (table.name, name)
            else:
                assert all(values), (table.name, name)


def test_the_same_command_writes_the_same_bytes(exported: Path, tmp_path: Path) -> None:
    export(tmp_path / "again")
    for table in TABLES:
        assert (tmp_path / "again" / f"{table}.csv").read_bytes() == (
            exported / f"{table}.csv").read_bytes(), table


def test_another_seed_writes_other_data(exported: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export", "--customers", str(CUSTOMERS), "--seed", "8",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    other, first = digests(tmp_path), digests(exported)
    assert other["services"] == first["services"]
    for table in ("customers", "cars", "transactions", "referral_links"):
        assert other[table] != first[table], table


def test_output_does_not_depend_on_the_process(tmp_path: Path) -> None:
    """Hash randomisation, time zone and locale of the process change nothing (a Faker locale
    other than the default is used, so its name pools are involved too)."""
    scenario = tmp_path / "scenario.toml"
    scenario.write_text('locale = "de_DE"\n')
    environments = [{"PYTHONHASHSEED": "1", "TZ": "UTC", "LC_ALL": "C"},
                    {"PYTHONHASHSEED": "4242", "TZ": "Pacific/Kiritimati", "LC_ALL": "C.UTF-8"}]
    results = []
    for number, extra in enumerate(environments):
        out = tmp_path / f"run{number}"
        process = subprocess.run(
            [sys.executable, "-m", "seeder", "export", "--customers", "2000", "--seed", "11",
             "--scenario", str(scenario), "--out", str(out)],
            env={**os.environ, **extra}, capture_output=True, text=True, timeout=120)
        assert process.returncode == 0, process.stderr
        results.append(digests(out))
    assert results[0] == results[1]


# --- golden digests ----------------------------------------------------------------------------


def test_golden_digests(tmp_path: Path) -> None:
    """The export of 25,000 customers, seed 20240101, default scenario, is pinned by SHA-256.

    If this fails, the generated data changed for an unchanged seed and scenario. If that is
    intended, bump seeder.generator.GENERATOR_VERSION and write the new golden file from the
    repository root with:

        python -c "import hashlib, json, pathlib, tempfile; from seeder import commands, generator; out = pathlib.Path(tempfile.mkdtemp()); commands.export(out, customers=25000, seed=20240101); pathlib.Path(f'tests/golden/digests_v{generator.GENERATOR_VERSION}.json').write_text(json.dumps({f.stem: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(out.glob('*.csv'))}, indent=2) + '\\n')"

    (and keep the older digests_v*.json files: they document earlier versions).
    """  # noqa: E501
    golden = GOLDEN_DIR / f"digests_v{GENERATOR_VERSION}.json"
    howto = ("bump seeder.generator.GENERATOR_VERSION if it was not bumped, then regenerate "
             f"{golden.relative_to(GOLDEN_DIR.parent.parent)} with the command in the "
             "docstring of tests/test_export.py::test_golden_digests")
    assert golden.exists(), f"no golden digests for generator version {GENERATOR_VERSION}: {howto}"
    commands.export(tmp_path, customers=GOLDEN_CUSTOMERS, seed=GOLDEN_SEED)
    expected = json.loads(golden.read_text())
    actual = digests(tmp_path)
    changed = sorted(table for table in set(expected) | set(actual)
                     if expected.get(table) != actual.get(table))
    assert not changed, (
        f"the generated data changed (tables {', '.join(changed)}) for seed {GOLDEN_SEED}, "
        f"{GOLDEN_CUSTOMERS} customers and the default scenario, at GENERATOR_VERSION "
        f"{GENERATOR_VERSION!r}. Same version + seed must give the same rows. "
        f"If the change is intended: {howto}.")


def test_golden_digests_of_every_encoding_and_a_locale() -> None:
    """Binary COPY and row tuples are pinned like CSV, and so is a locale other than en_US
    (its names come from the locale snapshot): regenerate with tests/golden/encodings.py."""
    expected = json.loads(encodings.GOLDEN.read_text())
    actual = encodings.encoding_digests()
    assert set(actual) == {"csv", "copy_binary", "rows", f"csv_{encodings.LOCALE}"}
    changed = [f"{kind}: {table}" for kind in actual for table in actual[kind]
               if expected.get(kind, {}).get(table) != actual[kind][table]]
    assert not changed, f"encodings changed for the same seed and scenario: {changed}"


# --- loading the files as they are -------------------------------------------------------------


def _load_with_sqlite3_shell(database: str, directory: Path) -> None:
    if not os.access(SQLITE3, os.X_OK):
        pytest.skip(f"no sqlite3 shell at {SQLITE3}")
    script = "PRAGMA foreign_keys=ON;\n.bail on\n" + "".join(
        f'.import --csv --skip 1 "{directory / table}.csv" {table}\n' for table in TABLES)
    process = subprocess.run([SQLITE3, database], input=script, capture_output=True, text=True,
                             timeout=120)
    assert process.returncode == 0 and not process.stderr.strip(), process.stderr
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        # The shell stored numbers as numbers (INTEGER affinity), not as text.
        for table in DATA_TABLES:
            for column in table.columns:
                if type(column.type).__name__ in ("BigInteger", "Integer", "SmallInteger"):
                    kinds = connection.execute(
                        f'SELECT DISTINCT typeof("{column.name}") FROM "{table.name}"').fetchall()
                    assert kinds in ([("integer",)], []), (table.name, column.name, kinds)


def _load_with_copy(url: str, directory: Path) -> None:
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        for table in TABLES:
            statement = sql.SQL("COPY {} FROM STDIN (FORMAT csv, HEADER true)").format(
                sql.Identifier(table))
            with cursor.copy(statement) as copy:
                copy.write((directory / f"{table}.csv").read_bytes())


def _load_with_load_data(url: str, directory: Path) -> None:
    parsed = make_url(url)
    with pymysql.connect(host=parsed.host, port=parsed.port or 3306, user=parsed.username,
                         password=parsed.password or "", database=parsed.database,
                         local_infile=True, autocommit=True) as connection, \
            connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(
                f"LOAD DATA LOCAL INFILE '{directory / table}.csv' INTO TABLE {table} "
                "CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' "
                "ESCAPED BY '' LINES TERMINATED BY '\\n' IGNORE 1 LINES")
            # LOCAL turns rejected rows into warnings.
            assert cursor.warning_count == 0, (table, cursor.execute("SHOW WARNINGS"),
                                               cursor.fetchall())


def _as_text(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def test_files_load_as_they_are(exported: Path, database_url: str, backend: str,
                                migrated_engine: Engine) -> None:
    """sqlite3's `.import --csv --skip 1`, PostgreSQL's `COPY ... (FORMAT csv, HEADER true)` and
    MySQL's `LOAD DATA ... OPTIONALLY ENCLOSED BY '"' ESCAPED BY '' IGNORE 1 LINES` take the
    files unchanged, in foreign-key order, with every constraint of the schema on."""
    if backend == "sqlite":
        _load_with_sqlite3_shell(make_url(database_url).database, exported)
    elif backend == "mysql":
        _load_with_load_data(database_url, exported)
    else:
        _load_with_copy(database_url, exported)

    with migrated_engine.connect() as connection:
        for table in DATA_TABLES:
            rows = read_csv(exported / f"{table.name}.csv")[1:]
            count = connection.scalar(select(func.count()).select_from(table))
            assert count == len(rows), table.name
            # Every foreign key resolves.
            for key in table.foreign_keys:
                target = key.column.table.alias()
                dangling = connection.scalar(
                    select(func.count()).select_from(
                        table.outerjoin(target, key.parent == target.c[key.column.name]))
                    .where(target.c[key.column.name].is_(None)))
                assert dangling == 0, f"{key.parent} -> {key.column}"
            # The values read back as written: canonical UUIDs, ISO dates, the same numbers.
            stored = connection.execute(select(table).order_by(table.c.id)).all()
            assert [[_as_text(value) for value in row] for row in stored] == rows, table.name
        customers = connection.scalar(select(func.count()).select_from(DATA_TABLES[0]))
        assert connection.exec_driver_sql("SELECT count(*) FROM customer_list").scalar() == (
            customers)


def test_csv_round_trips_through_a_reader(exported: Path) -> None:
    """Quoting is right: each file's bytes are exactly what a CSV writer makes of its rows."""
    for table in TABLES:
        raw = (exported / f"{table}.csv").read_bytes()
        buffer = io.StringIO(newline="")
        csv.writer(buffer, lineterminator="\n").writerows(read_csv(exported / f"{table}.csv"))
        assert buffer.getvalue().encode() == raw, table
