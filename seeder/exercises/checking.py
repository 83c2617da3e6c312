"""Running a learner's query without changing the database, and checking it against an answer.

Three layers keep a check read-only, so that no single mistake can change the data:

1. The text must be one query starting with SELECT, WITH or VALUES (comments aside).
2. The driver runs exactly one statement: sqlite3 refuses a second one, and on PostgreSQL the
   query is the body of a server-side cursor (DECLARE ... CURSOR FOR), sent with the extended
   protocol, which accepts one statement and only a SELECT or VALUES without data-modifying WITH.
3. The database refuses writes: PostgreSQL runs it in a READ ONLY transaction, SQLite with
   PRAGMA query_only; either way the transaction is rolled back.

Rows are streamed (a server-side cursor on PostgreSQL), so a learner's query that returns the
whole transactions table is counted, not held in memory.
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence

import psycopg
from sqlalchemy import Connection

from seeder.errors import DatabaseError, SchemaError, SeederError
from seeder.exercises.catalog import Exercise
from seeder.exercises.results import ResultSet, compare_results, normalise_row

# Comments and blank space before the first keyword of a query; with semicolons, all that an
# empty query holds.
_LEADING_NOISE = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/)*", re.DOTALL)
_EMPTY = re.compile(r"(?:\s+|;|--[^\n]*|/\*.*?\*/)*", re.DOTALL)
_QUERY_START = re.compile(r"(?:select|with|values)\b|\(", re.IGNORECASE)
_TRAILING_NOISE = re.compile(r"[\s;]+\Z")
_POSTGRESQL_FETCH_SIZE = 2_000


class QueryError(SeederError):
    """A query that was refused (not a single read-only query) or that the database failed."""


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The outcome of a check: correct, or the first dataset whose result differs, and how."""

    dataset: str | None = None
    difference: str | None = None

    @property
    def correct(self) -> bool:
        return self.difference is None

    @property
    def message(self) -> str:
        return "correct" if self.correct else f"wrong result on {self.dataset}: {self.difference}"


def read_only_query(query: str) -> str:
    """The query without trailing semicolons; QueryError unless it starts like a query."""
    if _EMPTY.fullmatch(query):
        raise QueryError("the query is empty")
    body = _TRAILING_NOISE.sub("", query)
    start = _LEADING_NOISE.match(body).end()
    if not _QUERY_START.match(body, start):
        first_word = body[start:].split(None, 1)[0]
        raise QueryError(
            f"only a single SELECT, WITH or VALUES query can be checked, not {first_word!r}"
        )
    return body


def run_read_only(connection: Connection, query: str, *, keep_rows: int | None = None) -> ResultSet:
    """Run one read-only query in a transaction that is always rolled back.

    `connection` must not be in a transaction, nor in autocommit mode (on PostgreSQL the
    server-side cursor then fails: it needs a transaction). All rows are counted; only the first
    `keep_rows` are kept (all when None). QueryError carries the database's own one-line
    message when the query fails.
    """
    body = read_only_query(query)
    try:
        runner = _RUNNERS[connection.dialect.name]
    except KeyError:
        raise SeederError(
            f"checking answers works on SQLite and PostgreSQL, not {connection.dialect.name}"
        ) from None
    transaction = connection.begin()
    try:
        return runner(connection, body, keep_rows)
    except (sqlite3.Error, psycopg.Error) as exc:
        raise QueryError(_one_line(exc)) from None
    finally:
        transaction.rollback()


def _run_sqlite(connection: Connection, query: str, keep_rows: int | None) -> ResultSet:
    dbapi_connection = connection.connection.driver_connection
    (was_query_only,) = dbapi_connection.execute("PRAGMA query_only").fetchone()
    dbapi_connection.execute("PRAGMA query_only = ON")
    try:
        cursor = dbapi_connection.execute(query)
        try:
            return _collect(cursor.description, iter(cursor), keep_rows)
        finally:
            cursor.close()
    finally:
        if not was_query_only:
            dbapi_connection.execute("PRAGMA query_only = OFF")


def _run_postgresql(connection: Connection, query: str, keep_rows: int | None) -> ResultSet:
    dbapi_connection = connection.connection.driver_connection
    # The first statement of the transaction: nothing after it can write.
    dbapi_connection.execute("SET TRANSACTION READ ONLY")
    with dbapi_connection.cursor(name="seeder_check") as cursor:
        cursor.itersize = _POSTGRESQL_FETCH_SIZE
        # No parameters: the text is sent as it is, so % needs no escaping.
        cursor.execute(query)
        return _collect(cursor.description, iter(cursor), keep_rows)


_RUNNERS: dict[str, Callable[[Connection, str, int | None], ResultSet]] = {
    "sqlite": _run_sqlite,
    "postgresql": _run_postgresql,
}


def _collect(description: Sequence, rows: Iterator[tuple], keep_rows: int | None) -> ResultSet:
    kept = []
    count = 0
    for row in rows:
        if keep_rows is None or count < keep_rows:
            kept.append(normalise_row(row))
        count += 1
    return ResultSet(tuple(column[0] for column in description), tuple(kept), count)


def _one_line(exc: Exception) -> str:
    if isinstance(exc, psycopg.Error) and exc.diag.message_primary:
        return exc.diag.message_primary
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def check_answer(
    exercise: Exercise, query: str, datasets: Iterable[tuple[str, Connection]]
) -> Verdict:
    """Compare the learner's query with the exercise's answer on each dataset, in turn.

    `datasets` are (label, connection) pairs: the learner's database first, then the hidden
    variants, whose labels appear in the verdict and in errors ("your database", "hidden
    variant 1"). They are taken one at a time and no further than the first dataset where
    the results differ, so a generator can build each variant only when it is needed. The
    query is refused before any dataset is taken unless it looks read-only. QueryError
    when the learner's query is refused or fails; SchemaError or DatabaseError when the
    reference answer cannot run or finds no data (the database is not populated).
    """
    read_only_query(query)
    for label, connection in datasets:
        try:
            expected = run_read_only(connection, exercise.answer(connection.dialect.name))
        except QueryError as exc:
            raise SchemaError(
                f"the answer to exercise {exercise.id} failed on {label} ({exc}); "
                "run `seeder init-db` and `seeder populate` on it"
            ) from None
        if not expected.rows:
            raise DatabaseError(
                f"the answer to exercise {exercise.id} returns no rows on {label}; populate it "
                "with a few thousand customers or more, e.g. `seeder populate --customers 5000`"
            )
        try:
            actual = run_read_only(connection, query, keep_rows=expected.row_count + 1)
        except QueryError as exc:
            raise QueryError(f"the query failed on {label}: {exc}") from None
        difference = compare_results(expected, actual, ordered=exercise.ordered)
        if difference is not None:
            return Verdict(label, difference)
    return Verdict()
