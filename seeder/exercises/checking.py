"""Running a learner's query without changing the database, and checking it against an answer.

Three layers keep a check read-only, so that no single mistake can change the data:

1. The text must be one query starting with SELECT, WITH or VALUES (comments aside).
2. The driver runs exactly one statement, and
3. the database refuses writes; how is each backend's `read_only_rows` (seeder.backends):
   sqlite3 refuses a second statement and PRAGMA query_only refuses writes; on PostgreSQL the
   query is the body of a server-side cursor (DECLARE ... CURSOR FOR), sent with the extended
   protocol, which accepts one statement and only a SELECT or VALUES without data-modifying
   WITH, in a READ ONLY transaction; on MySQL/MariaDB PyMySQL sends one statement (a second
   is a syntax error) in a transaction started READ ONLY. Either way it is rolled back.

Rows are streamed (a server-side cursor on PostgreSQL, an unbuffered one on MySQL), so a
learner's query that returns the whole transactions table is counted, not held in memory. A
time limit stops a learner's query that would run for hours (a `NOT IN` over a large subquery
does on PostgreSQL): the backend's own where it has one (PostgreSQL's statement_timeout for
each statement, MariaDB's max_statement_time, SQLite's progress handler while the query runs),
and on every backend a deadline for the whole query, fetching included.

`check(target, exercise_id, query)` is the whole check on a database: the learner's database,
then the hidden variants (seeder.exercises.variants), built or reused only when the result on
the datasets before them was right.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import Connection, Engine

from seeder.backends import backend_for_url, backend_named
from seeder.database import Target, open_database
from seeder.errors import (
    DatabaseError,
    InvalidArgument,
    QueryError,
    QueryTimeout,
    SchemaError,
)
from seeder.exercises.catalog import Exercise, get_exercise
from seeder.exercises.results import ResultSet, compare_results, normalise_row
from seeder.exercises.variants import hidden_variants
from seeder.progress import Progress
from seeder.urls import parse_database_url

# Comments and blank space before the first keyword of a query; with semicolons, all that an
# empty query holds.
_LEADING_NOISE = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/)*", re.DOTALL)
_EMPTY = re.compile(r"(?:\s+|;|--[^\n]*|/\*.*?\*/)*", re.DOTALL)
_QUERY_START = re.compile(r"(?:select|with|values)\b|\(", re.IGNORECASE)
_TRAILING_NOISE = re.compile(r"[\s;]+\Z")
# How often the deadline is checked while rows are fetched: every this many rows (once per
# FETCH on PostgreSQL, whose statement_timeout bounds each FETCH alone).
_DEADLINE_ROWS = 2_000
# The time limit of a learner's query on each dataset.
DEFAULT_TIMEOUT_SECONDS = 60.0
LEARNER = "your database"


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


def run_read_only(connection: Connection, query: str, *, keep_rows: int | None = None,
                  timeout: float | None = None) -> ResultSet:
    """Run one read-only query in a transaction that is always rolled back.

    `connection` must not be in a transaction, nor in autocommit mode (on PostgreSQL the
    server-side cursor then fails: it needs a transaction). All rows are counted; only the first
    `keep_rows` are kept (all when None). QueryError carries the database's own one-line
    message when the query fails; QueryTimeout says it ran longer than `timeout` seconds.
    """
    body = read_only_query(query)
    backend = backend_named(connection.dialect.name)
    deadline = None if timeout is None else _Deadline(timeout)
    transaction = connection.begin()
    try:
        with backend.read_only_rows(connection, body, deadline) as (description, rows):
            return _collect(description, rows, keep_rows, deadline)
    except backend.driver_errors as exc:
        if deadline is not None and backend.timed_out(exc) and deadline.over():
            raise deadline.error() from None
        raise QueryError(backend.query_message(exc)) from None
    finally:
        transaction.rollback()


class _Deadline:
    """The time limit of one query, fetching included."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def over(self) -> bool:
        return time.monotonic() >= self._end

    def check(self) -> None:
        if self.over():
            raise self.error()

    def error(self) -> QueryTimeout:
        return QueryTimeout(f"stopped after {self.seconds:g} s, the time limit for a query; "
                            "make it faster, or allow more time (--timeout)")


def _collect(description: Sequence, rows: Iterator[Sequence], keep_rows: int | None,
             deadline: _Deadline | None) -> ResultSet:
    kept = []
    count = 0
    for row in rows:
        if keep_rows is None or count < keep_rows:
            kept.append(normalise_row(row))
        count += 1
        if deadline is not None and count % _DEADLINE_ROWS == 0:
            deadline.check()
    return ResultSet(tuple(column[0] for column in description), tuple(kept), count)


def check_answer(
    exercise: Exercise, query: str, datasets: Iterable[tuple[str, Connection]], *,
    timeout: float | None = None,
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
            actual = run_read_only(connection, query, keep_rows=expected.row_count + 1,
                                   timeout=timeout)
        except QueryError as exc:  # QueryTimeout stays a QueryTimeout
            raise type(exc)(f"the query failed on {label}: {exc}") from None
        difference = compare_results(expected, actual, ordered=exercise.ordered)
        if difference is not None:
            return Verdict(label, difference)
    return Verdict()


def check(target: Target, exercise_id: int, query: str, *,
          timeout: float = DEFAULT_TIMEOUT_SECONDS, progress: Progress | None = None) -> Verdict:
    """Check a learner's query for an exercise on their database and on the hidden variants.

    The query must be one read-only SELECT, WITH or VALUES query; it runs in read-only
    transactions that are rolled back, each stopped after `timeout` seconds (QueryTimeout). The
    hidden variants (see seeder.exercises.variants) are built or reused only once the result on
    the learner's database is right; `progress` is told how their building goes. A Connection
    target must be outside a transaction; the learner's database is never changed.
    """
    exercise = get_exercise(exercise_id)
    read_only_query(query)
    if isinstance(target, Connection) and target.in_transaction():
        raise InvalidArgument("check needs a connection outside a transaction: it runs each "
                              "query in a read-only transaction of its own")
    with open_database(target) as learner, contextlib.ExitStack() as opened:
        def datasets() -> Iterator[tuple[str, Connection]]:
            yield LEARNER, learner.connection
            yield from hidden_variants(learner, opened, progress)

        with learner.errors():  # a connection lost midway, as a SeederError
            return check_answer(exercise, query, datasets(), timeout=timeout)


def reference_answer(target: Target, exercise_id: int) -> str:
    """The exercise's reference answer in the SQL dialect of the target, without connecting."""
    if isinstance(target, Engine | Connection):
        dialect = target.dialect.name
    else:
        url = parse_database_url(target) if isinstance(target, str) else target
        dialect = backend_for_url(url).name
    return get_exercise(exercise_id).answer(dialect)
