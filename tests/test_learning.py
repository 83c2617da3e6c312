"""`seeder exercises`: list, show, check and clean, through the command line, on both backends.

A learner's database (2,000 customers) is populated once per module and backend; its hidden
variants are built by the first check, into this module's cache directory (SQLite) or on the
test server (PostgreSQL), and dropped at the end. tests/test_exercises.py covers every
exercise; here exercise 10 (revenue per field, unordered) and 24 (monthly revenue, ordered,
one answer per dialect) stand for them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from psycopg import sql
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from support import (
    BACKENDS,
    admin_connection,
    invoke,
    mysql_admin_connection,
    new_database,
    ok,
    one_line_error,
    populated_learners,
    scoped_engine,
)

from seeder.exercises import (
    QueryTimeout,
    cache_directory,
    check,
    drop_variants,
    get_exercise,
    load_exercises,
    run_read_only,
    variant_seeds,
)
from seeder.exercises.variants import variant_name
from seeder.models import DATA_TABLES, SeedRun, Transaction
from seeder.urls import display_url

CUSTOMERS = 2000
LEARNER_SEED = 3
UNORDERED, ORDERED = 10, 24


def endless(start: str = "SELECT 1") -> str:
    """A query that counts the rows of the transactions table joined with itself three times
    (tens of billions) for each row of `start`, which takes hours, in the four columns of
    exercise 10's answer; no row when `start` has none. (Not a recursive CTE: MariaDB stops
    one after 1,000 iterations.)"""
    return (f"SELECT 'endless', count(*), 1, 1.0 FROM ({start}) AS start, transactions AS a, "
            "transactions AS b, transactions AS c HAVING count(*) > 0")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """XDG_CACHE_HOME for the module: SQLite variants are built under it."""
    with pytest.MonkeyPatch.context() as patch:
        directory = tmp_path_factory.mktemp("cache")
        patch.setenv("XDG_CACHE_HOME", str(directory))
        yield directory


@pytest.fixture(scope="module")
def learners(tmp_path_factory: pytest.TempPathFactory,
             cache: Path) -> Iterator[Callable[[str], str]]:
    """backend -> a learner's populated database, made once; its hidden variants are dropped
    at the end."""
    with contextlib.ExitStack() as stack:
        yield populated_learners(stack, tmp_path_factory, customers=CUSTOMERS,
                                 seed=LEARNER_SEED)


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, learners: Callable[[str], str]) -> str:
    """The learner's database, on each backend."""
    return learners(request.param)


@pytest.fixture
def sqlite_url(learners: Callable[[str], str]) -> str:
    return learners("sqlite")


def answer(url: str, number: int) -> str:
    """The reference answer as `show --answer` prints it."""
    return ok(invoke(url, "exercises", "show", str(number), "--answer")).stdout


def bare_answer(url: str, number: int) -> str:
    """The reference answer without its semicolon, to use as a subquery."""
    return answer(url, number).rstrip().removesuffix(";")


def check_stdin(url: str, number: int, query: str, *options: str) -> Result:
    return invoke(url, "exercises", "check", str(number), "-", *options, input=query)


def variant_shown(url: str, number: int) -> str:
    """Hidden variant `number` (1 or 2) of the learner's database as `clean` names it: a
    database name, or a file in the cache directory."""
    name = variant_name(CUSTOMERS, variant_seeds(LEARNER_SEED)[number - 1])
    if make_url(url).get_backend_name() == "sqlite":
        return f"{cache_directory() / name}.db"
    return name


def variant_url(url: str, number: int) -> str:
    """The URL of hidden variant `number` of the learner's database."""
    if make_url(url).get_backend_name() == "sqlite":
        return f"sqlite:///{variant_shown(url, number)}"
    return make_url(url).set(database=variant_shown(url, number)).render_as_string(
        hide_password=False)


def seed_runs(url: str) -> list[tuple]:
    with scoped_engine(url) as engine, engine.connect() as connection:
        return [tuple(row) for row in connection.execute(
            select(SeedRun.seed, SeedRun.customers, SeedRun.finished_at)
            .order_by(SeedRun.id))]


def fingerprint(url: str) -> list[tuple]:
    """Rows and key sums per table: what any change to the data would move."""
    with scoped_engine(url) as engine, engine.connect() as connection:
        return [tuple(connection.execute(
            select(func.count(), func.sum(table.c.id))).one()) for table in
            [*DATA_TABLES, SeedRun.__table__]]


# --- list and show ------------------------------------------------------------------------------


def test_list_shows_every_exercise_with_its_level_and_title() -> None:
    lines = ok(invoke("sqlite:///unused.db", "exercises", "list")).stdout.splitlines()
    exercises = load_exercises()
    assert len(lines) == len(exercises)
    for line, exercise in zip(lines, exercises, strict=True):
        assert re.match(rf"\s*{exercise.id}\s+{exercise.level}\s+{re.escape(exercise.title)}\s",
                        line), line


def test_show_prints_the_question() -> None:
    exercise = get_exercise(ORDERED)
    output = ok(invoke("sqlite:///unused.db", "exercises", "show", str(ORDERED))).stdout
    assert output.startswith(f"Exercise {ORDERED}: {exercise.title}\n")
    assert "Row order matters." in output
    assert exercise.question in output
    assert exercise.answer("sqlite") not in output


@pytest.mark.parametrize(("database_url", "dialect"), [
    ("sqlite:///no/such/file.db", "sqlite"),
    # Nothing listens on port 1: the answer is chosen from the URL, without connecting.
    ("postgresql://nobody@127.0.0.1:1/shop", "postgresql"),
    ("postgres://nobody@127.0.0.1:1/shop", "postgresql"),
    ("mysql://nobody@127.0.0.1:1/shop", "mysql"),
    ("mariadb://nobody@127.0.0.1:1/shop", "mysql"),
])
def test_show_answer_prints_the_answer_for_the_urls_dialect(database_url: str,
                                                            dialect: str) -> None:
    output = ok(invoke(database_url, "exercises", "show", str(ORDERED), "--answer")).stdout
    assert output == get_exercise(ORDERED).answer(dialect) + ";\n"


def test_show_an_unknown_exercise_is_one_line() -> None:
    result = invoke("sqlite:///unused.db", "exercises", "show", "999")
    assert one_line_error(result) == (
        f"seeder: error: there is no exercise 999; exercises are numbered 1 to "
        f"{len(load_exercises())}")
    assert result.exit_code == 2


# --- check --------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [UNORDERED, ORDERED])
def test_the_answer_shown_is_correct(url: str, number: int) -> None:
    result = ok(check_stdin(url, number, answer(url, number)))
    assert result.stdout == "correct\n"


def test_check_reads_a_file(url: str, tmp_path: Path) -> None:
    query = tmp_path / "my query.sql"
    query.write_text("-- mine\n" + answer(url, UNORDERED), encoding="utf-8")
    result = ok(invoke(url, "exercises", "check", str(UNORDERED), str(query)))
    assert result.stdout == "correct\n"


def test_a_result_one_row_short_is_wrong_on_the_learners_database(url: str) -> None:
    query = f"SELECT * FROM ({bare_answer(url, ORDERED)}) AS mine LIMIT 11"
    result = check_stdin(url, ORDERED, query)
    assert result.exit_code == 1
    count, revenue = _december_2023(url)
    assert result.stdout == ("wrong result on your database: the query returns 11 rows, "
                             f"expected 12; first missing row: ('2023-12', {count}, {revenue})\n")


def _december_2023(url: str) -> tuple[int, int]:
    with scoped_engine(url) as engine, engine.connect() as connection:
        return tuple(connection.execute(
            select(func.count(), func.sum(Transaction.price))
            .where(Transaction.transaction_date >= dt.date(2023, 12, 1),
                   Transaction.transaction_date < dt.date(2024, 1, 1))).one())


def test_a_hard_coded_result_is_wrong_on_the_first_hidden_variant(url: str) -> None:
    # As the check sees them: MariaDB's averages with all their decimals, not the 4 a session
    # shows by default.
    with scoped_engine(url) as engine, engine.connect() as connection:
        rows = run_read_only(connection, bare_answer(url, UNORDERED)).rows
    query = "VALUES " + ", ".join(f"('{category}', {count}, {revenue}, {float(average)!r})"
                                  for category, count, revenue, average in rows)
    result = check_stdin(url, UNORDERED, query)
    # Right on the learner's database (the check goes on to the variants only then), wrong on
    # the first variant.
    assert result.exit_code == 1
    assert result.stdout.startswith("wrong result on hidden variant 1: first difference at row 1 "
                                    "(rows sorted, as their order does not matter): expected ")


def test_a_failing_query_prints_the_databases_message(url: str) -> None:
    message = {"sqlite": "no such column: nosuch",
               "postgresql": 'column "nosuch" does not exist',
               "mysql": "Unknown column 'nosuch' in 'SELECT'"}[make_url(url).get_backend_name()]
    result = check_stdin(url, UNORDERED, "SELECT nosuch FROM customers")
    assert one_line_error(result) == f"seeder: error: the query failed on your database: {message}"
    assert result.exit_code == 1


@pytest.mark.parametrize(("query", "word"), [
    ("DELETE FROM customers", "DELETE"),
    ("UPDATE transactions SET price = 0", "UPDATE"),
    ("DROP TABLE referral_links", "DROP"),
])
def test_only_read_only_queries_are_accepted_and_nothing_changes(url: str, query: str,
                                                                  word: str) -> None:
    before = fingerprint(url)
    result = check_stdin(url, UNORDERED, query)
    assert one_line_error(result) == ("seeder: error: only a single SELECT, WITH or VALUES "
                                      f"query can be checked, not '{word}'")
    assert fingerprint(url) == before


def test_checking_never_changes_the_sqlite_file(sqlite_url: str) -> None:
    url = sqlite_url
    path = Path(make_url(url).database)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    for query in [answer(url, UNORDERED), "SELECT 1", "SELECT nosuch", "SELECT 1; DELETE FROM "
                  "customers", "WITH x AS (SELECT 1) DELETE FROM customers"]:
        check_stdin(url, UNORDERED, query)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_a_slow_query_is_stopped_at_the_time_limit(url: str) -> None:
    before = fingerprint(url)
    result = check_stdin(url, UNORDERED, endless(), "--timeout", "0.5")
    assert one_line_error(result) == (
        "seeder: error: the query failed on your database: stopped after 0.5 s, the time "
        "limit for a query; make it faster, or allow more time (--timeout)")
    assert result.exit_code == 1
    assert fingerprint(url) == before


def test_the_time_limit_applies_on_the_hidden_variants_too(url: str) -> None:
    # The reference answer on the learner's database, an endless query on the variants.
    query = (f"SELECT * FROM ({bare_answer(url, UNORDERED)}) AS mine "
             f"WHERE (SELECT seed FROM seed_runs) = {LEARNER_SEED} UNION ALL SELECT * FROM "
             f"({endless(f'SELECT 1 FROM seed_runs WHERE seed <> {LEARNER_SEED}')}) AS other")
    with pytest.raises(QueryTimeout, match=r"^the query failed on hidden variant 1: stopped "
                                           r"after 0\.5 s"):
        check(url, UNORDERED, query, timeout=0.5)


@pytest.mark.parametrize("args", [["check", "10"], ["check", "10", "no/such.sql"],
                                  ["check", "ten", "-"], ["check", "10", "-", "--timeout", "0"]])
def test_bad_arguments_are_one_line_usage_errors(args: list[str]) -> None:
    result = invoke("sqlite:///unused.db", "exercises", *args)
    one_line_error(result)
    assert result.exit_code == 2


def test_a_query_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    query = tmp_path / "query.sql"
    query.write_bytes("SELECT 'é'".encode("latin-1"))
    result = invoke("sqlite:///unused.db", "exercises", "check", "10", str(query))
    assert "not UTF-8 text" in one_line_error(result)
    assert result.exit_code == 2


# --- the hidden variants ------------------------------------------------------------------------


def test_variants_are_built_once_then_reused(url: str) -> None:
    ok(check_stdin(url, UNORDERED, answer(url, UNORDERED)))
    built = [seed_runs(variant_url(url, number)) for number in (1, 2)]
    assert [[run[:2] for run in runs] for runs in built] == [
        [(seed, CUSTOMERS)] for seed in variant_seeds(LEARNER_SEED)]
    ok(check_stdin(url, ORDERED, answer(url, ORDERED)))
    assert [seed_runs(variant_url(url, number)) for number in (1, 2)] == built


def test_sqlite_variants_are_files_in_the_cache_directory(sqlite_url: str, cache: Path) -> None:
    url = sqlite_url
    ok(check_stdin(url, UNORDERED, answer(url, UNORDERED)))
    files = sorted(path.name for path in (cache / "seeder" / "variants").iterdir())
    assert files == sorted(f"seeder_variant_1_{CUSTOMERS}_{seed}.db"
                           for seed in variant_seeds(LEARNER_SEED))


def test_a_variant_that_holds_other_data_is_filled_again(url: str) -> None:
    ok(check_stdin(url, UNORDERED, answer(url, UNORDERED)))
    variant = variant_url(url, 1)
    ok(invoke(variant, "populate", "--replace", "--customers", "50", "--seed", "5"))
    ok(check_stdin(url, UNORDERED, answer(url, UNORDERED)))
    # Filled again: a new file on SQLite, a populate with replace on PostgreSQL.
    assert seed_runs(variant)[-1][:2] == (variant_seeds(LEARNER_SEED)[0], CUSTOMERS)


def test_clean_drops_the_variants_of_this_database(url: str) -> None:
    ok(check_stdin(url, UNORDERED, answer(url, UNORDERED)))
    dropped = ok(invoke(url, "exercises", "clean")).stdout.splitlines()
    assert sorted(dropped) == sorted(f"dropped {variant_shown(url, number)}" for number in (1, 2))
    assert ok(invoke(url, "exercises", "clean")).stdout == "no hidden variants to drop\n"
    for number in (1, 2):
        assert re.search("does not exist|Unknown database",
                         one_line_error(invoke(variant_url(url, number), "info")))


def test_clean_all_drops_every_cached_sqlite_variant(sqlite_url: str, cache: Path,
                                                     tmp_path: Path) -> None:
    # On PostgreSQL: see test_a_learner_without_createdb_is_told_what_to_do.
    url = sqlite_url
    ok(check_stdin(url, UNORDERED, answer(url, UNORDERED)))
    other = cache / "seeder" / "variants" / "seeder_variant_1_7_7.db"
    other.write_bytes(b"")
    unrelated = f"sqlite:///{tmp_path}/other.db"  # a database without populates
    ok(invoke(unrelated, "init-db"))
    assert ok(invoke(unrelated, "exercises", "clean")).stdout == "no hidden variants to drop\n"
    dropped = ok(invoke(unrelated, "exercises", "clean", "--all")).stdout.splitlines()
    assert len(dropped) == 3 and f"dropped {other}" in dropped
    assert list((cache / "seeder" / "variants").iterdir()) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_without_a_populate_on_record_is_told_why(backend: str,
                                                             tmp_path: Path) -> None:
    with new_database(backend, tmp_path) as url:
        ok(invoke(url, "init-db"))
        ok(invoke(url, "populate", "--customers", "300", "--seed", "1"))
        # As if the data came from CSV files:
        with scoped_engine(url) as engine, engine.begin() as connection:
            connection.execute(SeedRun.__table__.delete())
        result = check_stdin(url, UNORDERED, answer(url, UNORDERED))
        assert one_line_error(result) == (
            f"seeder: error: {display_url(make_url(url))} has no populate on record (its "
            "seed_runs table is empty, as when the data was loaded from CSV files), so the "
            "hidden variants to check against cannot be made; fill it with `seeder populate`")


@contextlib.contextmanager
def _role_without_createdb() -> Iterator[str]:
    role = f"seeder_learner_{uuid.uuid4().hex[:8]}"
    with admin_connection() as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB").format(sql.Identifier(role)))
    try:
        yield role
    finally:
        with admin_connection() as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_learner_without_createdb_is_told_what_to_do(tmp_path: Path) -> None:
    # The learner's database is dropped before the role, taking the role's grants with it.
    with _role_without_createdb() as role, new_database("postgresql", tmp_path) as admin_url:
        ok(invoke(admin_url, "init-db"))
        ok(invoke(admin_url, "populate", "--customers", "400", "--seed", "8"))
        with scoped_engine(admin_url) as engine, engine.begin() as connection:
            connection.exec_driver_sql(
                f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
        url = make_url(admin_url).set(username=role).render_as_string(hide_password=False)
        names = [variant_name(400, seed) for seed in variant_seeds(8)]
        before = fingerprint(admin_url)

        result = check_stdin(url, UNORDERED, answer(url, UNORDERED))
        assert one_line_error(result) == (
            f"seeder: error: a check compares your result on hidden variant databases on the "
            f"same server, and {role} may not create them (permission denied to create "
            f"database); ask an administrator to grant it (ALTER ROLE {role} CREATEDB), or to "
            f"create the databases {names[0]} and {names[1]} owned by {role}")

        # What the message offers: an administrator creates them, seeder fills them.
        try:
            with admin_connection() as admin:
                for name in names:
                    admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(role)))
            assert ok(check_stdin(url, UNORDERED, answer(url, UNORDERED))).stdout == "correct\n"
            assert fingerprint(admin_url) == before
            # --all drops every variant the user owns: here exactly these two.
            dropped = ok(invoke(url, "exercises", "clean", "--all")).stdout.splitlines()
            assert dropped == [f"dropped {name}" for name in sorted(names)]
        finally:
            with admin_connection() as admin:
                for name in names:
                    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                                  .format(sql.Identifier(name)))


@contextlib.contextmanager
def _mysql_user_who_may_read(database: str) -> Iterator[str]:
    """A MariaDB account that may read `database` and create nothing, as 'name'@'%'."""
    account = f"'seeder_learner_{uuid.uuid4().hex[:8]}'@'%'"
    with mysql_admin_connection() as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE USER {account}")
        cursor.execute(f"GRANT SELECT ON `{database}`.* TO {account}")
    try:
        yield account
    finally:
        with mysql_admin_connection() as admin, admin.cursor() as cursor:
            cursor.execute(f"DROP USER {account}")


def test_a_mariadb_learner_who_may_not_create_databases_is_told_what_to_do(
        tmp_path: Path) -> None:
    with new_database("mysql", tmp_path) as admin_url:
        ok(invoke(admin_url, "init-db"))
        ok(invoke(admin_url, "populate", "--customers", "400", "--seed", "8"))
        with _mysql_user_who_may_read(make_url(admin_url).database) as account:
            user = account.split("'")[1]
            url = make_url(admin_url).set(username=user).render_as_string(hide_password=False)
            names = [variant_name(400, seed) for seed in variant_seeds(8)]
            before = fingerprint(admin_url)

            result = check_stdin(url, UNORDERED, answer(url, UNORDERED))
            assert one_line_error(result) == (
                f"seeder: error: a check compares your result on hidden variant databases on "
                f"the same server, and {account} may not create them (Access denied for user "
                f"{account} to database '{names[0]}'); ask an administrator to grant it (GRANT "
                f"ALL ON `seeder\\_variant\\_%`.* TO {account}), or to create the databases "
                f"{names[0]} and {names[1]} and grant {account} all privileges on them")

            # What the message offers: an administrator creates them, seeder fills them.
            try:
                with mysql_admin_connection() as admin, admin.cursor() as cursor:
                    for name in names:
                        cursor.execute(f"CREATE DATABASE `{name}`")
                        cursor.execute(f"GRANT ALL ON `{name}`.* TO {account}")
                assert ok(check_stdin(url, UNORDERED, answer(url, UNORDERED))).stdout == (
                    "correct\n")
                assert fingerprint(admin_url) == before
                # --all drops every variant the user can see: here exactly these two.
                dropped = ok(invoke(url, "exercises", "clean", "--all")).stdout.splitlines()
                assert dropped == [f"dropped {name}" for name in sorted(names)]
            finally:
                with mysql_admin_connection() as admin, admin.cursor() as cursor:
                    for name in names:
                        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def test_concurrent_checks_of_a_new_variant_both_succeed(url: str, tmp_path: Path) -> None:
    """Two learners' first checks at once, as two processes. On PostgreSQL the second waits
    for the first to build each variant, then reuses it; on SQLite each may build its own
    file, and the last one renamed into place stays."""
    drop_variants(url)
    query = tmp_path / "query.sql"
    query.write_text(answer(url, UNORDERED), encoding="utf-8")
    command = [sys.executable, "-m", "seeder", "--database-url", url, "exercises", "check",
               str(UNORDERED), str(query)]
    checks = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True) for _ in range(2)]
    outputs = [check.communicate(timeout=300) for check in checks]
    assert outputs == [("correct\n", "")] * 2
    for number in (1, 2):
        assert len(seed_runs(variant_url(url, number))) == 1


def test_variants_have_the_scenario_of_the_last_populate(cache: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "shop.toml"
    scenario.write_text('locale = "de_DE"\nrevisit_rate = [0.5, 0.9]\n[referral]\nshare = 0.5\n'
                        '[makes]\nVolvo = ["XC60", "XC90"]\n', encoding="utf-8")
    url = f"sqlite:///{tmp_path}/shop.db"
    ok(invoke(url, "init-db"))
    ok(invoke(url, "populate", "--customers", "400", "--seed", "4", "--scenario", str(scenario)))
    ok(check_stdin(url, UNORDERED, answer(url, UNORDERED)))
    try:
        scenarios = []
        for database in [url, *(f"sqlite:///{cache_directory() / variant_name(400, seed)}.db"
                                for seed in variant_seeds(4))]:
            with scoped_engine(database) as engine, engine.connect() as connection:
                scenarios.append(connection.scalar(select(SeedRun.scenario)))
        assert scenarios[0]["makes"] == {"Volvo": ["XC60", "XC90"]}
        assert scenarios[1] == scenarios[0] and scenarios[2] == scenarios[0]
    finally:
        drop_variants(url)


def test_no_password_is_printed(learners: Callable[[str], str]) -> None:
    password = "s3cretpw"  # trust authentication accepts any password
    url = make_url(learners("postgresql")).set(password=password).render_as_string(
        hide_password=False)
    results = [
        ok(check_stdin(url, UNORDERED, answer(url, UNORDERED))),
        check_stdin(url, UNORDERED, "SELECT 1"),
        check_stdin(url, UNORDERED, "SELECT nosuch"),
        ok(invoke(url, "exercises", "clean")),
        invoke(make_url(url).set(port=1).render_as_string(hide_password=False),
               "exercises", "check", str(UNORDERED), "-", input="SELECT 1"),
    ]
    assert [result.exit_code for result in results] == [0, 1, 1, 0, 1]
    for result in results:
        assert password not in result.output + result.stderr
