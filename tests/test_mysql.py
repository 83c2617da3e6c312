"""MySQL/MariaDB: what only this backend does. Shadow tables swapped in with one RENAME TABLE,
so a killed connection or a failure leaves the old dataset and readers keep reading it; the
named lock; foreign key names that alternate; a missing driver named with its extra.

The behaviour all backends share (all-or-nothing on errors, Ctrl-C and SIGTERM, two populates at
once, the same rows for the same seed) is tested on MariaDB with the others, through the
parametrized fixtures of conftest.py.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pymysql
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from support import (
    invoke,
    mysql_connection,
    ok,
    one_line_error,
    one_line_error_of,
    reaped,
    scoped_engine,
    seeder_process,
)

import seeder
from seeder.backends import mysql


def _scalar(url: str, query: str) -> object:
    with mysql_connection(url) as connection, connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchone()[0]


def _shadow_tables(url: str) -> list[str]:
    with mysql_connection(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables "
                       "WHERE table_schema = DATABASE() AND (table_name LIKE 'seeder\\_new\\_%' "
                       "OR table_name LIKE 'seeder\\_old\\_%') ORDER BY table_name")
        return [row[0] for row in cursor.fetchall()]


def _loading_session(url: str) -> int | None:
    """The id of the session that is loading shadow tables, once it is."""
    with mysql_connection(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id FROM information_schema.processlist WHERE db = DATABASE() "
                       "AND info LIKE 'LOAD DATA%'")
        row = cursor.fetchone()
        return row[0] if row else None


@pytest.fixture
def seeded(mysql_database_url: str) -> str:
    ok(invoke(mysql_database_url, "init-db"))
    ok(invoke(mysql_database_url, "populate", "--customers", "2000", "--seed", "1"))
    return mysql_database_url


def _start_a_long_populate(url: str, tmp_path: Path):
    return seeder_process("--database-url", url, "populate", "--replace", "--customers",
                          "300000", "--seed", "2", "--batch-size", "1000", cwd=tmp_path)


def _wait_for_loading(url: str, process) -> int:
    deadline = time.monotonic() + 60
    while (session := _loading_session(url)) is None:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "populate never started loading"
        time.sleep(0.05)
    return session


def test_a_killed_connection_leaves_the_old_dataset(seeded: str, tmp_path: Path) -> None:
    before = _scalar(seeded, "SELECT count(*) FROM transactions")
    with reaped(_start_a_long_populate(seeded, tmp_path)) as process:
        session = _wait_for_loading(seeded, process)
        with mysql_connection(seeded) as admin, admin.cursor() as cursor:
            cursor.execute(f"KILL {session}")
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    error = one_line_error_of(stderr)
    assert error == (f"seeder: error: cannot use {seeded}: Lost connection to MySQL server "
                     "during query; nothing was written")
    assert _scalar(seeded, "SELECT count(*) FROM transactions") == before
    assert _shadow_tables(seeded) == []  # dropped over a new connection


def test_a_populate_killed_midway_leaves_the_old_dataset_and_the_next_cleans_up(
        seeded: str, tmp_path: Path) -> None:
    before = _scalar(seeded, "SELECT count(*) FROM transactions")
    with reaped(_start_a_long_populate(seeded, tmp_path)) as process:
        _wait_for_loading(seeded, process)
        process.kill()  # kill -9: no chance to clean up
        process.wait()
    assert _scalar(seeded, "SELECT count(*) FROM transactions") == before
    assert len(_shadow_tables(seeded)) == 5
    ok(invoke(seeded, "populate", "--replace", "--customers", "500", "--seed", "3"))
    assert _shadow_tables(seeded) == []
    assert _scalar(seeded, "SELECT count(*) FROM customers") == 500


def test_readers_see_the_old_dataset_until_the_swap(seeded: str, tmp_path: Path) -> None:
    seen: list[int] = []
    errors: list[Exception] = []
    done = threading.Event()

    def read() -> None:
        with mysql_connection(seeded) as connection, connection.cursor() as cursor:
            while not done.is_set():
                try:
                    cursor.execute("SELECT count(*) FROM customers")
                    seen.append(cursor.fetchone()[0])
                except pymysql.Error as error:
                    errors.append(error)
                time.sleep(0.02)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        ok(invoke(seeded, "populate", "--replace", "--customers", "30000", "--seed", "2"))
    finally:
        done.set()
        reader.join()
    assert errors == []
    assert set(seen) <= {2000, 30000}, sorted(set(seen))
    # Old until the swap, new after: never back.
    first_new = seen.index(30000) if 30000 in seen else len(seen)
    assert seen[:first_new].count(2000) == first_new > 0
    assert 2000 not in seen[first_new:]


def test_a_second_populate_is_refused_while_one_holds_the_lock(seeded: str) -> None:
    with mysql_connection(seeded) as other, other.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, 0)", (f"seeder:{make_url(seeded).database}",))
        assert cursor.fetchone()[0] == 1
        error = one_line_error(invoke(seeded, "populate", "--replace", "--customers", "100",
                                      "--seed", "5"))
    assert error == (f"seeder: error: another seeder populate or schema change is running on "
                     f"{seeded}; try again when it is done")
    assert _scalar(seeded, "SELECT count(*) FROM customers") == 2000


def test_the_lock_is_released_for_the_next_user_of_a_pooled_connection(seeded: str) -> None:
    with scoped_engine(seeded) as engine:
        for seed in (6, 7):  # the second would find the first's lock on the pooled session
            seeder.populate(engine, customers=300, seed=seed, replace=True)
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT IS_USED_LOCK(:name)"), {
                "name": f"seeder:{make_url(seeded).database}"}) is None


def test_foreign_key_names_alternate_and_the_schema_stays_as_migrated(seeded: str) -> None:
    query = ("SELECT group_concat(constraint_name ORDER BY constraint_name) FROM "
             "information_schema.referential_constraints WHERE constraint_schema = DATABASE() "
             "AND table_name = 'cars'")
    first = _scalar(seeded, query)
    ok(invoke(seeded, "populate", "--replace", "--customers", "300", "--seed", "8"))
    second = _scalar(seeded, query)
    assert {first, second} == {"fk_cars_customer_id_customers",
                               "fk_cars_customer_id_customers_2"}
    with scoped_engine(seeded) as engine:
        with engine.connect() as connection:
            assert seeder.schema.damage(connection) == []


def test_a_callers_connection_is_refused_for_writes(seeded: str) -> None:
    with scoped_engine(seeded) as engine:
        with engine.connect() as connection, pytest.raises(seeder.InvalidArgument) as caught:
            seeder.populate(connection, customers=100, seed=1, replace=True)
    assert str(caught.value) == (
        "MySQL/MariaDB commits schema changes at once, so seeder cannot leave its writes to "
        "your transaction: pass a URL or an Engine, not a Connection")


@pytest.mark.parametrize("scheme", ["mysql", "mariadb"])
def test_a_missing_driver_names_the_extra(scheme: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mysql, "pymysql", None)
    error = one_line_error(invoke(f"{scheme}://root@127.0.0.1/shop", "init-db"))
    assert error == (f"seeder: error: {scheme}:// URLs need the PyMySQL driver, which is not "
                     "installed; pip install 'seeder[mysql]'")


def test_uuids_and_ids_continue_for_rows_the_application_adds(seeded: str) -> None:
    with mysql_connection(seeded) as connection, connection.cursor() as cursor:
        cursor.execute("INSERT INTO customers (first_name, last_name, email, phone, "
                       "registered_on) VALUES ('Ada', 'Lovelace', 'ada@example.com', "
                       "'555-0100', '2024-01-02')")
        cursor.execute("SELECT id, uuid FROM customers WHERE email = 'ada@example.com'")
        new_id, new_uuid = cursor.fetchone()
    assert new_id == 2001
    assert len(new_uuid) == 36 and new_uuid.count("-") == 4


@pytest.mark.parametrize("locale", ["ja_JP", "el_GR", "ar_SA"])
def test_names_in_every_script_come_back_as_on_sqlite(locale: str, mysql_database_url: str,
                                                     tmp_path: Path) -> None:
    """utf8mb4 end to end: what LOAD DATA sends is what SQLite stores, character for
    character, and what the server compares and sorts by (the unique email index)."""
    scenario = seeder.Scenario(locale=locale)
    sqlite_url = f"sqlite:///{tmp_path}/names.db"
    rows = {}
    for url in (sqlite_url, mysql_database_url):
        seeder.init_db(url)
        seeder.populate(url, customers=800, seed=9, scenario=scenario)
        with scoped_engine(url) as engine:
            with engine.connect() as connection:
                rows[url] = connection.execute(text(
                    "SELECT id, first_name, last_name, email, phone FROM customers "
                    "ORDER BY id")).all()
    assert any(ord(character) > 0x7F for row in rows[sqlite_url] for character in row[1])
    assert rows[mysql_database_url] == rows[sqlite_url]


def test_analyze_table_runs_on_the_new_tables_before_the_swap(mysql_database_url: str) -> None:
    """InnoDB also refreshes statistics in the background, so their presence after a populate
    does not show that the populate ran ANALYZE TABLE: the statements it sent do."""
    statements: list[str] = []
    with scoped_engine(mysql_database_url) as engine:
        event.listen(engine, "before_cursor_execute",
                     lambda conn, cursor, statement, *args: statements.append(statement))
        seeder.init_db(engine)
        seeder.populate(engine, customers=300, seed=1)
    analyze = next(i for i, s in enumerate(statements) if s.startswith("ANALYZE TABLE"))
    swap = next(i for i, s in enumerate(statements) if s.startswith("RENAME TABLE"))
    assert analyze < swap
    analysed = set(re.findall(r"seeder_new_[0-9a-f]+_(\w+)", statements[analyze]))
    assert analysed == {"customers", "cars", "services", "transactions", "referral_links"}
