"""The SQL exercises: their files, the result comparison, the read-only guard, and the checker.

The database cases populate one learner's database per backend (3,000 customers, seed 1) once
per module, and its two hidden variants are built from it by seeder.exercises.variants, as
`seeder exercises check` builds them (SQLite files in this module's cache directory,
PostgreSQL and MariaDB databases on the test servers; dropped at the end). Every backend's
answer must give SQLite's result on the same populate; on each backend every reference
answer must be accepted, and for every exercise a query returning one row less and a VALUES
query hard-coding the learner's result must be rejected; the second proves that every answer
depends on the seed. tests/test_learning.py runs whole checks through the command line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Connection, select
from support import BACKENDS, invoke, new_database, ok, populated_learners, scoped_engine

from seeder.database import open_database
from seeder.errors import DatabaseError, InvalidArgument, SchemaError
from seeder.exercises import (
    DIALECTS,
    LEVELS,
    Exercise,
    QueryError,
    ResultSet,
    check_answer,
    compare_results,
    get_exercise,
    load_exercises,
    normalise_cell,
    read_only_query,
    render_markdown,
    run_read_only,
    variant_seeds,
)
from seeder.exercises.catalog import _parse
from seeder.exercises.variants import hidden_variants
from seeder.models import SeedRun

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCS = REPO_ROOT / "docs" / "exercises.md"
CUSTOMERS = 3000
LEARNER_SEED = 1
EXERCISES = load_exercises()


def exercise_id(exercise: Exercise) -> str:
    return f"{exercise.id:03d}-{exercise.slug}"


# --- the exercise files -------------------------------------------------------------------------


def test_at_least_forty_exercises_from_easy_to_hard() -> None:
    assert len(EXERCISES) >= 40
    levels = [LEVELS.index(exercise.level) for exercise in EXERCISES]
    assert levels == sorted(levels)
    assert set(levels) == {0, 1, 2}


def test_exercises_cover_the_topics_of_the_course() -> None:
    topics = {topic for exercise in EXERCISES for topic in exercise.topics}
    for needed in ["filtering", "sorting", "joins", "views", "aggregation", "having", "dates",
                   "cohorts", "window functions", "running totals", "ranking", "gaps",
                   "first and last", "null handling", "anti-joins", "referrals", "query plans",
                   "indexes"]:
        assert needed in topics


@pytest.mark.parametrize("exercise", EXERCISES, ids=exercise_id)
def test_exercise_has_an_answer_per_dialect(exercise: Exercise) -> None:
    assert set(exercise.answers) == set(DIALECTS)
    if exercise.portable:
        assert len(set(exercise.answers.values())) == 1
    else:
        # Per-dialect answers only where the dialects truly differ.
        assert len(set(exercise.answers.values())) > 1
    for sql in exercise.answers.values():
        read_only_query(sql)
        if exercise.ordered:
            assert "ORDER BY" in sql.rsplit(")", 1)[-1]


def test_get_exercise_by_number() -> None:
    assert get_exercise(1) is EXERCISES[0]
    with pytest.raises(InvalidArgument, match=f"there is no exercise 0; exercises are numbered "
                                              f"1 to {len(EXERCISES)}"):
        get_exercise(0)
    with pytest.raises(InvalidArgument, match=f"there is no exercise {len(EXERCISES) + 1};"):
        get_exercise(len(EXERCISES) + 1)


def test_an_unknown_dialect_has_no_answer() -> None:
    with pytest.raises(InvalidArgument, match="exercises have answers for SQLite, PostgreSQL and "
                                              "MySQL/MariaDB only, not oracle"):
        EXERCISES[0].answer("oracle")


VALID_FILE = '''
id = 7
title = "T"
level = "easy"
topics = ["joins"]
ordered = false
question = "Q?"
[answer]
sql = "SELECT 1"
'''


def test_a_valid_exercise_file_parses() -> None:
    exercise = _parse("007-some-slug.toml", VALID_FILE)
    assert (exercise.id, exercise.slug, exercise.portable) == (7, "some-slug", True)
    assert exercise.answer("postgresql") == "SELECT 1"


@pytest.mark.parametrize(
    ("file_name", "text", "reason"),
    [
        ("7-x.toml", VALID_FILE, "the name must be NNN-slug.toml"),
        ("008-x.toml", VALID_FILE, "id 7 does not match the file name"),
        ("007-x.toml", 'hint = "h"\n' + VALID_FILE, "keys must be exactly"),
        ("007-x.toml", VALID_FILE.replace('"easy"', '"expert"'), "level must be one of"),
        ("007-x.toml", VALID_FILE.replace("false", '"no"'), "ordered must be true or false"),
        ("007-x.toml", VALID_FILE.replace('"Q?"', '" "'), "must be non-empty text"),
        ("007-x.toml", VALID_FILE.replace("sql =", "sqlite ="),
         "needs either `sql` alone or one key per dialect"),
        ("007-x.toml", VALID_FILE + 'postgresql = "SELECT 2"\n',
         "needs either `sql` alone or one key per dialect"),
        ("007-x.toml", VALID_FILE.replace("ordered", "ordered ="), "Invalid"),
    ],
)
def test_a_malformed_exercise_file_is_refused_naming_it(file_name: str, text: str,
                                                        reason: str) -> None:
    with pytest.raises(ValueError, match=f"exercise file {file_name}: .*{reason}"):
        _parse(file_name, text)


def test_docs_are_generated_from_the_exercises() -> None:
    assert DOCS.read_text(encoding="utf-8") == render_markdown(EXERCISES), (
        "docs/exercises.md is out of date: run `python -m seeder.exercises docs/exercises.md`"
    )


def test_docs_show_the_dialects_side_by_side_only_where_they_differ() -> None:
    markdown = render_markdown(EXERCISES)
    split = sum(not exercise.portable for exercise in EXERCISES)
    assert 0 < split < len(EXERCISES)
    assert markdown.count(
        "<tr><th>SQLite</th><th>PostgreSQL</th><th>MySQL/MariaDB</th></tr>") == split
    assert markdown.count("<details><summary>Answer</summary>") == len(EXERCISES)
    for exercise in EXERCISES:
        assert f'<a id="exercise-{exercise.id}"></a>' in markdown
        assert f"](#exercise-{exercise.id})" in markdown


def test_python_m_seeder_exercises_writes_the_docs(tmp_path: Path) -> None:
    target = tmp_path / "exercises.md"
    subprocess.run([sys.executable, "-m", "seeder.exercises", str(target)], check=True)
    assert target.read_text(encoding="utf-8") == render_markdown(EXERCISES)


@pytest.mark.slow
def test_the_wheel_ships_every_exercise_file(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".ci", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".venv",
        "venv", "*.db"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path), str(source)], check=True)
    [wheel] = tmp_path.glob("seeder-*.whl")
    shipped = {Path(name).name for name in zipfile.ZipFile(wheel).namelist()
               if name.startswith("seeder/exercises/data/")}
    expected = {path.name for path in (REPO_ROOT / "seeder/exercises/data").glob("*.toml")}
    assert shipped == expected


# --- comparing results --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        (None, None),
        (True, 1),
        (False, 0),
        (7, 7),
        (2.5, 2.5),
        (Decimal("3.000"), 3),
        (Decimal("2.50"), 2.5),
        ("2023-01-02", "2023-01-02"),
        (dt.date(2023, 1, 2), "2023-01-02"),
        (dt.datetime(2023, 1, 2, 3, 4, 5), "2023-01-02 03:04:05"),
        (uuid.UUID("806725b3-2147-4b64-b585-c1a50f774fa7"),
         "806725b3-2147-4b64-b585-c1a50f774fa7"),
        (memoryview(b"\x01\xff"), "01ff"),
    ],
)
def test_cells_are_normalised_alike_on_both_backends(value: object, normal: object) -> None:
    result = normalise_cell(value)
    assert result == normal and type(result) is type(normal)


def result(*rows: tuple, columns: int | None = None, row_count: int | None = None) -> ResultSet:
    width = columns if columns is not None else len(rows[0])
    return ResultSet(tuple(f"c{i}" for i in range(width)), tuple(rows),
                     len(rows) if row_count is None else row_count)


def test_equal_results_match_whatever_the_column_names() -> None:
    expected = result(("a", 1, 0.5), ("b", 2, None))
    actual = ResultSet(("x", "y", "z"), (("a", 1, 0.5 + 1e-9), ("b", 2, None)), 2)
    assert compare_results(expected, actual, ordered=True) is None


def test_unordered_results_are_sorted_before_comparing() -> None:
    expected = result(("a", 1), ("b", 2), (None, 3))
    actual = result(("b", 2), (None, 3), ("a", 1))
    assert compare_results(expected, actual, ordered=False) is None
    assert compare_results(expected, actual, ordered=True) == (
        "first difference at row 1: expected ('a', 1), got ('b', 2)"
    )


def test_numbers_differ_beyond_the_tolerance_and_integers_must_be_equal() -> None:
    assert compare_results(result((1.0,)), result((1.000002,)), ordered=True) == (
        "first difference at row 1: expected (1.0), got (1.000002)"
    )
    assert compare_results(result((10**12,)), result((10**12 + 1,)), ordered=True) is not None
    assert compare_results(result((3,)), result((3.0000001,)), ordered=True) is None


def test_a_number_is_not_its_text() -> None:
    assert compare_results(result((1,)), result(("1",)), ordered=True) == (
        "first difference at row 1: expected (1), got ('1')"
    )


def test_a_missing_row_is_reported_with_the_row_count() -> None:
    expected = result(("a", 1), ("b", 2), ("c", 3))
    assert compare_results(expected, result(("a", 1), ("c", 3)), ordered=False) == (
        "the query returns 2 rows, expected 3; first difference at row 2 (rows sorted, as "
        "their order does not matter): expected ('b', 2), got ('c', 3)"
    )
    assert compare_results(expected, result(("a", 1), ("b", 2)), ordered=True) == (
        "the query returns 2 rows, expected 3; first missing row: ('c', 3)"
    )


def test_an_extra_row_is_reported() -> None:
    expected = result(("a", 1))
    assert compare_results(expected, result(("a", 1), ("it's", None)), ordered=True) == (
        "the query returns 2 rows, expected 1; first extra row: ('it''s', NULL)"
    )


def test_a_different_number_of_columns_is_reported_first() -> None:
    assert compare_results(result((1, 2)), result((1,), (2,)), ordered=False) == (
        "the query returns 1 column, expected 2"
    )


def test_rows_not_kept_are_counted_without_a_misleading_first_row() -> None:
    expected = result(("a",), ("b",))
    actual = result(("z",), ("y",), ("x",), row_count=1_000_000)
    assert compare_results(expected, actual, ordered=False) == (
        "the query returns 1,000,000 rows, expected 2"
    )


# --- the read-only guard, without a database ----------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1",
        "select 1;",
        "  -- a comment; with a semicolon\n/* and a\nblock */ WITH x AS (SELECT 1) SELECT * FROM x",
        "VALUES (1, 'a')  ;;\n",
        "(SELECT 1) UNION (SELECT 2)",
    ],
)
def test_queries_are_accepted(query: str) -> None:
    assert not read_only_query(query).endswith((";", " ", "\n"))


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "the query is empty"),
        (" ;\n-- nothing\n", "the query is empty"),
        ("DELETE FROM customers", "only a single SELECT, WITH or VALUES query can be checked, "
                                  "not 'DELETE'"),
        ("-- SELECT\nPRAGMA query_only = OFF", "not 'PRAGMA'"),
        ("EXPLAIN SELECT 1", "not 'EXPLAIN'"),
        ("selected", "not 'selected'"),
    ],
)
def test_other_statements_are_refused(query: str, reason: str) -> None:
    with pytest.raises(QueryError, match=reason):
        read_only_query(query)


# --- on real databases ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def learner_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """backend -> the URL of a learner's database with CUSTOMERS customers from LEARNER_SEED,
    created once per module. Hidden variants go to a cache directory of this module (SQLite)
    or to the test servers (PostgreSQL, MariaDB), and are dropped at the end."""
    with contextlib.ExitStack() as stack:
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield populated_learners(stack, tmp_path_factory, customers=CUSTOMERS,
                                 seed=LEARNER_SEED)


@pytest.fixture(scope="module")
def datasets_on(
    learner_urls: Callable[[str], str]
) -> Iterator[Callable[[str], list[tuple[str, Connection]]]]:
    """backend -> the learner's database and its two hidden variants, as (label, connection),
    the variants built (or found) by the variant builder that `check` uses."""
    datasets: dict[str, list[tuple[str, Connection]]] = {}
    with contextlib.ExitStack() as stack:
        def get(backend: str) -> list[tuple[str, Connection]]:
            if backend not in datasets:
                learner = stack.enter_context(open_database(learner_urls(backend)))
                datasets[backend] = [("your database", learner.connection),
                                     *hidden_variants(learner, stack)]
            return datasets[backend]

        yield get


@pytest.fixture(scope="module", params=BACKENDS)
def datasets(request: pytest.FixtureRequest,
             datasets_on: Callable[[str], list[tuple[str, Connection]]]
             ) -> list[tuple[str, Connection]]:
    """The learner's database and its two hidden variants, on each backend."""
    return datasets_on(request.param)


@pytest.fixture
def learner(datasets: list[tuple[str, Connection]]) -> Connection:
    return datasets[0][1]


def test_the_hidden_variants_are_populates_of_the_same_size_from_derived_seeds(
    datasets: list[tuple[str, Connection]]
) -> None:
    runs = []
    for _, connection in datasets:
        runs.append(tuple(connection.execute(select(SeedRun.seed, SeedRun.customers)).one()))
        connection.rollback()
    assert runs == [(LEARNER_SEED, CUSTOMERS),
                    *((seed, CUSTOMERS) for seed in variant_seeds(LEARNER_SEED))]
    assert len({seed for seed, _ in runs}) == 3


@pytest.mark.parametrize("exercise", EXERCISES, ids=exercise_id)
def test_reference_answers_return_rows_and_agree_across_backends(
    exercise: Exercise, datasets_on: Callable[[str], list[tuple[str, Connection]]]
) -> None:
    # The same populate (size and seed) on every backend: each backend's answer must give
    # SQLite's result, as the check compares it (the same normalisation and tolerance).
    results = {backend: run_read_only(datasets_on(backend)[0][1], exercise.answer(backend))
               for backend in BACKENDS}
    for answer in results.values():
        assert answer.row_count >= 1
        # Distinct names, so the answer can be used as a subquery and read in the docs.
        assert len(set(answer.columns)) == len(answer.columns)
    for backend in BACKENDS:
        assert compare_results(results["sqlite"], results[backend],
                               ordered=exercise.ordered) is None, backend


@pytest.mark.parametrize("exercise", EXERCISES, ids=exercise_id)
def test_check_accepts_the_reference_answer(
    exercise: Exercise, datasets: list[tuple[str, Connection]], learner: Connection
) -> None:
    verdict = check_answer(exercise, exercise.answer(learner.dialect.name), datasets)
    assert verdict.correct and verdict.message == "correct"


@pytest.mark.parametrize("exercise", EXERCISES, ids=exercise_id)
def test_check_rejects_a_result_one_row_short(
    exercise: Exercise, datasets: list[tuple[str, Connection]], learner: Connection
) -> None:
    reference = exercise.answer(learner.dialect.name)
    rows = run_read_only(learner, reference).row_count
    query = f"SELECT * FROM ({reference}) AS reference LIMIT {rows - 1}"
    verdict = check_answer(exercise, query, datasets)
    assert verdict.dataset == "your database"
    assert re.match(rf"the query returns {rows - 1:,} rows?, expected {rows:,}(;|$)",
                    verdict.difference), verdict.difference


def _sql_literal(cell: object) -> str:
    if cell is None:
        return "NULL"
    if isinstance(cell, str):
        return "'" + cell.replace("'", "''") + "'"
    return repr(cell)


@pytest.mark.parametrize("exercise", EXERCISES, ids=exercise_id)
def test_check_rejects_the_learners_result_hard_coded(
    exercise: Exercise, datasets: list[tuple[str, Connection]], learner: Connection
) -> None:
    expected = run_read_only(learner, exercise.answer(learner.dialect.name))
    query = "VALUES " + ", ".join(
        "(" + ", ".join(_sql_literal(cell) for cell in row) + ")" for row in expected.rows
    )
    verdict = check_answer(exercise, query, datasets)
    # Right on the learner's rows, wrong on the first hidden variant: the answer depends on
    # the seed.
    assert verdict.dataset == "hidden variant 1", verdict.message
    assert verdict.message.startswith("wrong result on hidden variant 1: ")


def _row_counts(connection: Connection) -> dict[str, int]:
    tables = ["customers", "cars", "services", "transactions", "referral_links", "seed_runs"]
    counts = {table: connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
              for table in tables}
    connection.rollback()
    return counts


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1; DELETE FROM referral_links",
        "SELECT 1; COMMIT; DELETE FROM referral_links",
        "WITH gone AS (DELETE FROM referral_links RETURNING id) SELECT count(*) FROM gone",
    ],
)
def test_a_second_or_writing_statement_fails_and_changes_nothing(
    query: str, learner: Connection
) -> None:
    before = _row_counts(learner)
    with pytest.raises(QueryError) as raised:
        run_read_only(learner, query)
    messages = {
        "sqlite": ["You can only execute one statement at a time.", 'near "DELETE": syntax error'],
        "postgresql": ["cannot insert multiple commands into a prepared statement",
                       "DECLARE CURSOR must not contain data-modifying statements in WITH"],
        "mysql": ["You have an error in your SQL syntax; check the manual that corresponds to "
                  "your MariaDB server version for the right syntax to use near"],
    }[learner.dialect.name]
    assert str(raised.value).startswith(tuple(messages)), str(raised.value)
    assert _row_counts(learner) == before


def test_the_query_runs_read_only_and_the_connection_is_restored(learner: Connection) -> None:
    probe, inside, outside = {
        "sqlite": ("SELECT query_only FROM pragma_query_only", 1, 0),
        "postgresql": ("SELECT current_setting('transaction_read_only')", "on", "off"),
        # MariaDB shows no READ ONLY transaction; its session settings are put back.
        "mysql": ("SELECT @@SESSION.div_precision_increment", 30, 4),
    }[learner.dialect.name]
    assert run_read_only(learner, probe).rows == ((inside,),)
    assert not learner.in_transaction()
    assert learner.exec_driver_sql(probe).scalar_one() == outside
    learner.rollback()


def test_a_select_that_would_write_is_refused_by_postgresql(
    datasets_on: Callable[[str], list[tuple[str, Connection]]]
) -> None:
    # SQLite has no SELECT that writes; PostgreSQL refuses nextval() in a READ ONLY transaction.
    learner = datasets_on("postgresql")[0][1]
    with pytest.raises(QueryError, match=r"^cannot execute nextval\(\) in a read-only "
                                         r"transaction$"):
        run_read_only(learner, "SELECT nextval(pg_get_serial_sequence('seed_runs', 'id'))")


def test_a_select_that_would_write_is_refused_by_mariadb(
    datasets_on: Callable[[str], list[tuple[str, Connection]]]
) -> None:
    # nextval() writes the sequence's table, which the READ ONLY transaction refuses.
    learner = datasets_on("mysql")[0][1]
    learner.exec_driver_sql("CREATE SEQUENCE seeder_test_sequence")
    learner.commit()
    try:
        with pytest.raises(QueryError, match=r"^Cannot execute statement in a READ ONLY "
                                             r"transaction$"):
            run_read_only(learner, "SELECT nextval(seeder_test_sequence)")
    finally:
        learner.exec_driver_sql("DROP SEQUENCE seeder_test_sequence")
        learner.commit()


def test_a_failing_query_gives_the_databases_own_message(
    datasets: list[tuple[str, Connection]], learner: Connection
) -> None:
    message = {"sqlite": "no such column: nosuch",
               "postgresql": 'column "nosuch" does not exist',
               "mysql": "Unknown column 'nosuch' in 'SELECT'"}[learner.dialect.name]
    with pytest.raises(QueryError) as raised:
        check_answer(EXERCISES[0], "SELECT nosuch FROM customers", datasets)
    assert str(raised.value) == f"the query failed on your database: {message}"


def test_a_percent_sign_in_the_query_is_plain_text(learner: Connection) -> None:
    query = "SELECT count(*) FROM customers WHERE email LIKE '%@example.org'"
    (count,) = run_read_only(learner, query).rows[0]
    assert 0 < count < CUSTOMERS


def test_a_huge_result_is_counted_not_kept(
    datasets: list[tuple[str, Connection]], learner: Connection
) -> None:
    exercise = next(e for e in EXERCISES if e.slug == "revenue-per-field")
    transactions = _row_counts(learner)["transactions"]
    query = "SELECT service_id, price, price, price FROM transactions"
    verdict = check_answer(exercise, query, datasets)
    assert verdict.message == (
        f"wrong result on your database: the query returns {transactions:,} rows, expected 7"
    )


def test_check_stops_at_the_first_dataset_that_differs(learner: Connection) -> None:
    def datasets() -> Iterator[tuple[str, Connection]]:
        yield "your database", learner
        raise AssertionError("a hidden variant was asked for after a wrong result")

    verdict = check_answer(EXERCISES[0], "SELECT 1, 2, 3, 4", datasets())
    assert verdict.dataset == "your database"


def test_check_refuses_a_writing_query_before_touching_any_database() -> None:
    def datasets() -> Iterator[tuple[str, Connection]]:
        raise AssertionError("a database was asked for")
        yield

    with pytest.raises(QueryError, match="not 'UPDATE'"):
        check_answer(EXERCISES[0], "UPDATE customers SET first_name = 'x'", datasets())


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_without_data_is_reported(backend: str, tmp_path: Path) -> None:
    with new_database(backend, tmp_path) as url:
        with scoped_engine(url) as engine:
            with engine.connect() as connection:
                datasets = [("your database", connection)]
                with pytest.raises(SchemaError, match=(
                        "the answer to exercise 1 failed on your database .*; run `seeder "
                        "init-db` and `seeder populate` on it")):
                    check_answer(EXERCISES[0], "SELECT 1", datasets)
            ok(invoke(url, "init-db"))
            with engine.connect() as connection:
                datasets = [("your database", connection)]
                with pytest.raises(DatabaseError, match=(
                        "the answer to exercise 1 returns no rows on your database; populate "
                        "it with a few thousand customers or more")):
                    check_answer(EXERCISES[0], "SELECT 1", datasets)
