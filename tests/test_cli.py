"""The `seeder` command line: entry points, URLs, confirmations, and one-line errors.

Database tests run on SQLite and on PostgreSQL (see conftest.py). No test sends traffic off
this machine: unreachable servers are simulated on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner, Result
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import make_url
from support import POSTGRES_ADMIN_URL, invoke, ok, one_line_error, scoped_engine

from seeder import __version__, schema
from seeder.cli import cli
from seeder.models import DATA_TABLES, Base, SeedRun

ALL_TABLES = [*DATA_TABLES, SeedRun.__table__]
PASSWORD = "s3cretpw"
REFUSED = "127.0.0.1:1"  # nothing listens on port 1: connection refused at once


@pytest.fixture(autouse=True)
def _no_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEEDER_DATABASE_URL", raising=False)


def _run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, prog_name="seeder")


def _counts(url: str) -> dict[str, int]:
    with scoped_engine(url) as engine, engine.connect() as conn:
        return {t.name: conn.scalar(select(func.count()).select_from(t)) for t in ALL_TABLES}


def _assert_empty_schema_at_head(url: str) -> None:
    assert set(_counts(url).values()) == {0}
    with scoped_engine(url) as engine, engine.begin() as conn:
        assert schema.current_revision(conn) == schema.HEAD_REVISION
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        command.check(schema.alembic_config(conn))
        assert set(inspect(conn).get_view_names()) == {"customer_list", "transaction_list"}


def _with_password(url: str) -> str:
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


# --- entry points -----------------------------------------------------------------------------


def test_python_m_seeder_version(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "seeder", "--version"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert __version__ in result.stdout
    assert "seeder" in result.stdout


def test_help_lists_the_commands() -> None:
    result = ok(_run("--help"))
    for name in ("init-db", "populate", "export", "reset-db", "info"):
        assert name in result.output
    assert "--database-url" in result.output


# --- init-db and reset-db ---------------------------------------------------------------------


def test_init_db_is_idempotent(database_url: str) -> None:
    first = ok(invoke(database_url, "init-db"))
    assert "nothing to do" not in first.output
    second = ok(invoke(database_url, "init-db"))
    assert "nothing to do" in second.output
    _assert_empty_schema_at_head(database_url)


def test_reset_db_asks_for_confirmation(database_url: str) -> None:
    ok(invoke(database_url, "init-db"))
    ok(invoke(database_url, "populate", "--customers", "300", "--seed", "1"))
    before = _counts(database_url)
    assert before["customers"] == 300

    declined = invoke(database_url, "reset-db", input="n\n")
    assert declined.exit_code != 0
    assert "Aborted" in declined.output
    assert "Traceback" not in declined.output
    assert _counts(database_url) == before

    ok(invoke(database_url, "reset-db", "--yes"))
    _assert_empty_schema_at_head(database_url)
    # The dataset is gone, so populate works again without --replace.
    ok(invoke(database_url, "populate", "--customers", "300", "--seed", "1"))
    assert _counts(database_url) == before


def test_reset_db_confirmed_interactively(database_url: str) -> None:
    ok(invoke(database_url, "init-db"))
    ok(invoke(database_url, "populate", "--customers", "100", "--seed", "1"))
    result = ok(invoke(database_url, "reset-db", input="y\n"))
    assert "Delete every seeder table" in result.output
    _assert_empty_schema_at_head(database_url)


# --- where the URL comes from -----------------------------------------------------------------


def test_url_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEEDER_DATABASE_URL", f"sqlite:///{tmp_path}/from_env.db")
    ok(_run("init-db"))
    assert (tmp_path / "from_env.db").exists()
    assert not (tmp_path / "seeder.db").exists()
    # --database-url wins over the environment.
    ok(_run("--database-url", f"sqlite:///{tmp_path}/from_option.db", "init-db"))
    assert (tmp_path / "from_option.db").exists()


def test_default_url_is_seeder_db_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = ok(_run("init-db"))
    assert "seeder.db" in result.output
    assert (tmp_path / "seeder.db").is_file()
    ok(_run("populate", "--customers", "50", "--seed", "1"))
    assert _counts(f"sqlite:///{tmp_path}/seeder.db")["customers"] == 50


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgresql_url_as_users_write_it(
    postgres_database_url: str, scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert postgres_database_url.startswith("postgresql://")
    url = postgres_database_url.replace("postgresql://", f"{scheme}://", 1)
    ok(invoke(url, "init-db"))
    ok(invoke(url, "populate", "--customers", "100", "--seed", "1"))
    monkeypatch.setenv("SEEDER_DATABASE_URL", url)
    ok(_run("populate", "--customers", "120", "--seed", "1", "--replace"))
    assert _counts(postgres_database_url)["customers"] == 120


# --- bad input: one line, non-zero exit, no traceback, nothing written ------------------------


@pytest.mark.parametrize("option, value", [
    ("--customers", "0"),
    ("--customers", "-5"),
    ("--customers", "abc"),
    ("--batch-size", "0"),
    ("--seed", "-1"),
])
def test_bad_populate_options(option: str, value: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/test.db"
    ok(invoke(url, "init-db"))
    args = {"--customers": "10", "--seed": "1", option: value}
    result = invoke(url, "populate", *[part for pair in args.items() for part in pair])
    error = one_line_error(result)
    assert option in error
    assert set(_counts(url).values()) == {0}


@pytest.mark.parametrize("url, message", [
    ("mongodb://root@127.0.0.1/shop", "unsupported database URL scheme 'mongodb'; use "
     "sqlite://, postgresql://, postgres://"),
    ("postgresql+asyncpg://postgres@127.0.0.1/shop",
     "unsupported driver 'asyncpg' in postgresql://; write postgresql:// (seeder uses "
     "postgresql+psycopg)"),
    ("not a url", "cannot parse the database URL"),
    ("postgresql://bob:p@ss:w0rd@127.0.0.1/shop",  # '@' and ':' in a password not encoded
     "has an @ other than the one before the host; percent-encode @ as %40"),
    ("postgresql://postgres@127.0.0.1:abc/shop", "has a port that is not a number"),
])
@pytest.mark.parametrize("args", [["init-db"], ["populate", "--customers", "5", "--seed", "1"]])
def test_unsupported_url(url: str, message: str, args: list[str]) -> None:
    error = one_line_error(invoke(url, *args))
    assert message in error
    assert "w0rd" not in error


@pytest.mark.parametrize("args", [["init-db"], ["reset-db", "--yes"], ["info"],
                                  ["populate", "--customers", "5", "--seed", "1"]])
def test_database_from_a_newer_seeder_says_upgrade_seeder(database_url: str,
                                                          args: list[str]) -> None:
    ok(invoke(database_url, "init-db"))
    with scoped_engine(database_url) as engine, engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    error = one_line_error(invoke(database_url, *args))
    assert "9999" in error and "upgrade seeder" in error
    with scoped_engine(database_url) as engine, engine.connect() as conn:
        assert schema.current_revision(conn) == "9999"


COMMANDS = [
    ["init-db"],
    ["populate", "--customers", "5", "--seed", "1"],
    ["populate", "--customers", "5"],  # the seed line comes first; still one error line
    ["reset-db", "--yes"],
    ["info"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args))
def test_connection_refused(args: list[str]) -> None:
    started = time.monotonic()
    error = one_line_error(invoke(f"postgresql://postgres:{PASSWORD}@{REFUSED}/x", *args))
    assert time.monotonic() - started < 10
    assert PASSWORD not in error


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A local port that accepts TCP connections (the kernel does) but never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def test_server_that_never_answers_fails_within_seconds(silent_server: int) -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{silent_server}/x"
    started = time.monotonic()
    result = invoke(url, "init-db")
    assert time.monotonic() - started < 10
    error = one_line_error(result)
    assert "timeout" in error or "timed out" in error
    assert PASSWORD not in result.output


@pytest.mark.parametrize("args", COMMANDS[:2], ids=lambda args: " ".join(args))
def test_unknown_role(args: list[str]) -> None:
    url = make_url(POSTGRES_ADMIN_URL).set(username="nobody_xyz", password=None)
    error = one_line_error(invoke(url.render_as_string(hide_password=False), *args))
    assert 'role "nobody_xyz" does not exist' in error


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args))
def test_missing_postgresql_database(args: list[str]) -> None:
    name = f"seeder_missing_{uuid.uuid4().hex[:12]}"
    url = make_url(POSTGRES_ADMIN_URL).set(database=name)
    error = one_line_error(invoke(url.render_as_string(hide_password=False), *args))
    assert f'database "{name}" does not exist' in error


def _read_only(path: Path) -> str:
    # mode=ro opens the file read-only for every user; chmod would not stop root.
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def test_read_only_sqlite_file_populate(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    ok(invoke(f"sqlite:///{path}", "init-db"))
    for args in (["populate", "--customers", "20", "--seed", "1"],
                 ["populate", "--customers", "20", "--seed", "1", "--replace"]):
        error = one_line_error(invoke(_read_only(path), *args))
        assert "does not exist" not in error  # it does; it is read-only
        assert "readonly" in error or "read-only" in error
    assert set(_counts(f"sqlite:///{path}").values()) == {0}


def test_read_only_sqlite_file_init_and_reset(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    error = one_line_error(invoke(_read_only(empty), "init-db"))
    assert "readonly" in error or "read-only" in error

    initialised = tmp_path / "shop.db"
    ok(invoke(f"sqlite:///{initialised}", "init-db"))
    ok(invoke(f"sqlite:///{initialised}", "populate", "--customers", "20", "--seed", "1"))
    error = one_line_error(invoke(_read_only(initialised), "reset-db", "--yes"))
    assert "readonly" in error or "read-only" in error
    assert _counts(f"sqlite:///{initialised}")["customers"] == 20


# --- passwords --------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    *COMMANDS,
    ["populate", "--customers", "5", "--seed", "1", "--replace"],
], ids=lambda args: " ".join(args))
def test_password_not_printed_on_failure(args: list[str]) -> None:
    result = invoke(f"postgresql://postgres:{PASSWORD}@{REFUSED}/x", *args)
    assert result.exit_code != 0
    assert PASSWORD not in result.output + result.stderr
    assert "***" in result.stderr  # the URL is shown, masked


def test_password_not_printed_on_success(postgres_database_url: str, tmp_path: Path) -> None:
    url = _with_password(postgres_database_url)  # trust auth accepts any password
    results = [
        ok(invoke(url, "init-db")),
        ok(invoke(url, "init-db")),
        ok(invoke(url, "populate", "--customers", "100")),
        invoke(url, "populate", "--customers", "100", "--seed", "2"),  # refused: has data
        ok(invoke(url, "populate", "--customers", "100", "--replace")),
        ok(invoke(url, "populate", "--customers", "100", "--dry-run")),
        ok(invoke(url, "info")),
        ok(invoke(url, "info", "--json")),
        ok(invoke(url, "reset-db", "--yes")),
    ]
    assert results[3].exit_code == 1
    for result in results:
        assert PASSWORD not in result.output + result.stderr


def test_password_not_printed_by_subprocess(tmp_path: Path) -> None:
    """The real entry point, with logging and warnings as a user's terminal shows them."""
    env = {key: value for key, value in os.environ.items() if key != "SEEDER_DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "seeder", "--database-url",
         f"postgresql://postgres:{PASSWORD}@{REFUSED}/x", "populate", "--customers", "5"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert PASSWORD not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("seeder: error:")


# --- info: the figures a learner or a tester looks at first -----------------------------------
# Checked against SQL written independently of seeder.commands.info: over the two views, which
# flatten the tables the way the notebook did, rather than over the tables info reads.

INDEPENDENT_FIGURES = {
    "registrations": "SELECT min(date_registered), max(date_registered) FROM customer_list",
    "transactions": "SELECT min(transaction_date), max(transaction_date), sum(price), "
                    "sum(CASE WHEN price = 0 THEN 1 ELSE 0 END) FROM transaction_list",
    "fields": "SELECT field_of_service, count(*), sum(price) FROM transaction_list "
              "GROUP BY field_of_service",
    "visits": "SELECT visits, count(*) FROM (SELECT customer_id, count(*) AS visits "
              "FROM transaction_list GROUP BY customer_id) AS per_customer GROUP BY visits",
    "average": "SELECT 1.0 * (SELECT count(*) FROM transaction_list) / count(*) "
               "FROM customer_list",
    "referrals": "SELECT sum(CASE WHEN recommended_someone THEN 1 ELSE 0 END), "
                 "sum(CASE WHEN is_recommended THEN 1 ELSE 0 END) FROM customer_list",
    # In generated data the free transactions are exactly the referral rewards.
    "rewards": "SELECT t.field_of_service, count(*), sum(s.min_price + s.max_price) / 2.0 "
               "FROM transaction_list AS t JOIN services AS s "
               "ON s.category = t.field_of_service AND s.name = t.service "
               "WHERE t.price = 0 GROUP BY t.field_of_service",
}


def _independent_figures(url: str) -> dict[str, list[tuple]]:
    with scoped_engine(url) as engine, engine.connect() as connection:
        return {name: [tuple(str(cell) if hasattr(cell, "isoformat") else cell
                             for cell in row)
                       for row in connection.exec_driver_sql(query)]
                for name, query in INDEPENDENT_FIGURES.items()}


def test_info_figures_match_independent_sql(database_url: str) -> None:
    ok(invoke(database_url, "init-db"))
    ok(invoke(database_url, "populate", "--customers", "2500", "--seed", "11"))
    facts = json.loads(ok(invoke(database_url, "info", "--json")).stdout)
    sql = _independent_figures(database_url)

    [(first_registration, last_registration)] = sql["registrations"]
    assert (facts["first_registration"], facts["last_registration"]) == (
        first_registration, last_registration)
    [(first_visit, last_visit, revenue, free)] = sql["transactions"]
    assert (facts["first_transaction"], facts["last_transaction"], facts["revenue"],
            facts["free_services"]) == (first_visit, last_visit, revenue, free)

    fields = facts["revenue_per_field"]
    assert {(f["field"], f["transactions"], f["revenue"]) for f in fields} == set(sql["fields"])
    assert len(fields) == 7
    revenues = [field["revenue"] for field in fields]
    assert revenues == sorted(revenues, reverse=True)

    visits = facts["visits_per_customer"]
    assert [(row["visits"], row["customers"]) for row in visits["distribution"]] == sorted(
        sql["visits"])
    [(average,)] = sql["average"]
    assert visits["average"] == pytest.approx(float(average), abs=1e-9)

    programme = facts["referral_programme"]
    [(referrers, referred)] = sql["referrals"]
    assert (programme["referrers"], programme["referred_customers"]) == (referrers, referred)
    assert referrers > 0
    assert [(r["field"], r["count"], r["list_value"]) for r in programme["rewards"]] == [
        (field, count, float(value)) for field, count, value in sql["rewards"]]
    assert programme["rewards"][0]["field"] == "oil"
    assert programme["rewards"][0]["count"] == 2 * facts["referrals"]


def test_info_keeps_its_earlier_keys(database_url: str) -> None:
    ok(invoke(database_url, "init-db"))
    ok(invoke(database_url, "populate", "--customers", "200", "--seed", "2"))
    facts = json.loads(ok(invoke(database_url, "info", "--json")).stdout)
    assert list(facts)[:9] == ["database", "revision", "row_counts", "last_populate",
                               "first_transaction", "last_transaction", "revenue",
                               "free_services", "referrals"]
    assert facts["last_populate"]["seed"] == 2
    assert facts["row_counts"]["customers"] == 200


def test_info_prints_the_figures_as_tables(database_url: str) -> None:
    ok(invoke(database_url, "init-db"))
    ok(invoke(database_url, "populate", "--customers", "2500", "--seed", "11"))
    facts = json.loads(ok(invoke(database_url, "info", "--json")).stdout)
    lines = ok(invoke(database_url, "info")).stdout.splitlines()

    def line_of(first_words: str) -> str:
        [line] = [line for line in lines if line.strip().startswith(first_words + " ")]
        return line

    assert line_of("registrations").split() == [
        "registrations", facts["first_registration"], "to", facts["last_registration"]]
    for field in facts["revenue_per_field"]:
        words = line_of(field["field"]).split()
        assert words[:3] == [field["field"], f"{field['transactions']:,}",
                             f"{field['revenue']:,}"]
        assert words[3] == f"{100 * field['revenue'] / facts['revenue']:.1f}%"
    assert line_of("all").split()[1:] == [f"{facts['row_counts']['transactions']:,}",
                                          f"{facts['revenue']:,}", "100.0%"]
    visits = facts["visits_per_customer"]
    assert f"visits per customer: {visits['average']:.2f} on average" in lines
    for row in visits["distribution"]:
        assert line_of(str(row["visits"])).split()[1] == f"{row['customers']:,}"
    programme = facts["referral_programme"]
    assert line_of("referrers").split() == ["referrers", f"{programme['referrers']:,}"]
    assert line_of("referred customers").split()[-1] == f"{programme['referred_customers']:,}"
    [reward] = programme["rewards"]
    value = f"{reward['list_value']:,.1f}".removesuffix(".0")
    assert line_of("free services (oil)").split()[3:6] == [f"{reward['count']:,}", "worth",
                                                          value]


def test_info_of_an_empty_database(database_url: str) -> None:
    ok(invoke(database_url, "init-db"))
    facts = json.loads(ok(invoke(database_url, "info", "--json")).stdout)
    assert facts["first_registration"] is None and facts["first_transaction"] is None
    assert facts["revenue_per_field"] == []
    assert facts["visits_per_customer"] == {"average": None, "distribution": []}
    assert facts["referral_programme"] == {"referrers": 0, "referred_customers": 0,
                                           "rewards": []}
    assert "revenue per field" not in ok(invoke(database_url, "info")).stdout


def test_help_lists_the_exercises_commands() -> None:
    result = ok(_run("exercises", "--help"))
    for name in ("list", "show", "check", "clean"):
        assert name in result.output
