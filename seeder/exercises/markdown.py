"""docs/exercises.md, generated from the exercise files.

Regenerate it after changing an exercise (tests/test_exercises.py checks that it is current):

    python -m seeder.exercises docs/exercises.md
"""

from __future__ import annotations

from collections.abc import Sequence

from seeder.exercises.catalog import DIALECT_TITLES, DIALECTS, LEVELS, Exercise

_INTRODUCTION = """\
# SQL exercises

<!-- Generated from seeder/exercises/data by `python -m seeder.exercises docs/exercises.md`;
edit the exercise files, not this one. -->

{count} exercises on the car-repair-shop data, from easy to hard: filtering and sorting, joins
across every table, aggregation, dates, window functions, NULLs and anti-joins, the referral
test, and query plans. Each has a reference answer that runs on SQLite, PostgreSQL and
MySQL/MariaDB; where the dialects differ, the three versions are shown side by side. The schema
and the two views are described in the README.

Set up a database to practise on (a few thousand customers or more; with fewer, some answers
are empty):

```sh
seeder init-db && seeder populate --customers 5000
```

Then read an exercise, write your query in a file and check it (`-` reads the query from
standard input; `--database-url` or `$SEEDER_DATABASE_URL` names your database, as for every
seeder command):

```sh
seeder exercises list
seeder exercises show 12
seeder exercises check 12 my_query.sql
seeder exercises show 12 --answer
```

How `check` decides:

- It runs your query and the reference answer on your database and compares the results value
  by value. Column names do not matter, the order of the columns does. Rows are compared in
  order only when the question asks for an order; otherwise both results are sorted first.
  Numbers are equal within 1e-6, so there is no need to round: 0.3333333 and 1.0 / 3 are
  both fine, and so are a PostgreSQL `numeric`, a MySQL/MariaDB `DECIMAL` and an SQLite float.
  (On MySQL/MariaDB the check runs with `div_precision_increment` at 30, so averages and
  quotients have all their digits, not the 4 a session shows by default.)
- Then it does the same on two hidden datasets of the same size made from other seeds, so a
  query that only fits your rows (hard-coded values, a particular id) is rejected.
- It prints `correct` (exit status 0), or what differs (exit status 1): the number of rows, or
  the first row that differs, and on which dataset. A query that fails prints the database's
  own message.
- It accepts one `SELECT`, `WITH` or `VALUES` query, and runs it in a read-only transaction
  that is rolled back: your database is never changed. A query is stopped after 60 seconds
  on each dataset (`--timeout SECONDS` to change that).

The hidden datasets have the scenario and the number of customers of your database's last
`seeder populate` (a database loaded from CSV files cannot be checked) and seeds derived from
its seed. The first check builds them, which takes about as long as that populate; later
checks reuse them. On SQLite they are files in `~/.cache/seeder/variants/` (or
`$XDG_CACHE_HOME/seeder/variants/`); on PostgreSQL and MySQL/MariaDB, databases named
`seeder_variant_...` on the same server, which needs the `CREATEDB` privilege on PostgreSQL,
the `CREATE` privilege on those databases on MySQL/MariaDB (or an administrator who creates
them for you: the error message names them). `seeder exercises clean` drops those of your
database, `seeder exercises clean --all` every one.

`show --answer` prints the reference answer for the SQL dialect of your database's URL.

Things that differ between SQLite, PostgreSQL and MySQL/MariaDB and matter here:

- Dates: SQLite stores them as ISO text (`'2023-05-01'`) and has `strftime`, `date` and
  `julianday`; PostgreSQL has a `date` type with `to_char`, `extract` and `-` between dates
  (a number of days); MySQL/MariaDB has a `DATE` type with `DATE_FORMAT`, `YEAR`, `MONTH`,
  `DATEDIFF(a, b)` (a number of days) and `d + INTERVAL 30 DAY`. Comparing a date with
  `'2023-05-01'` works on all three.
- Booleans: the views' flags are `true`/`false` on PostgreSQL and `1`/`0` on SQLite and
  MySQL/MariaDB; the check treats them alike. `CASE WHEN flag THEN 1 ELSE 0 END` counts them
  on all three.
- Integer division truncates on SQLite and PostgreSQL (`7 / 2` is 3): write `1.0 * a / b` for
  a fraction, which works on MySQL/MariaDB too, where `/` gives a decimal and `DIV`
  truncates.
- Sorting text depends on the database's collation (MySQL/MariaDB's usual ones ignore case),
  so where order matters the questions break ties with numbers or dates.
"""


def render_markdown(exercises: Sequence[Exercise]) -> str:
    """The exercise book: an index, then every exercise grouped by level, answers folded."""
    parts = [_INTRODUCTION.format(count=len(exercises)), _index(exercises)]
    for level in LEVELS:
        parts.append(f"## {level.capitalize()}\n")
        parts.extend(_exercise(exercise) for exercise in exercises if exercise.level == level)
    return "\n".join(parts)


def _index(exercises: Sequence[Exercise]) -> str:
    lines = ["| # | exercise | level | topics |", "|---|---|---|---|"]
    for exercise in exercises:
        lines.append(f"| {exercise.id} | [{exercise.title}](#exercise-{exercise.id}) "
                     f"| {exercise.level} "
                     f"| {', '.join(exercise.topics)} |")
    return "\n".join(lines) + "\n"


def _exercise(exercise: Exercise) -> str:
    order = "Row order matters." if exercise.ordered else "Row order does not matter."
    return "\n".join([
        f'<a id="exercise-{exercise.id}"></a>\n',
        f"### {exercise.id}. {exercise.title}\n",
        f"*Topics: {', '.join(exercise.topics)}. {order}*\n",
        exercise.question + "\n",
        "<details><summary>Answer</summary>\n",
        _answer(exercise),
        "</details>\n",
    ])


def _answer(exercise: Exercise) -> str:
    if exercise.portable:
        return _sql_block(exercise.answers[DIALECTS[0]])
    header = "".join(f"<th>{DIALECT_TITLES[dialect]}</th>" for dialect in DIALECTS)
    cells = "".join(
        f"<td>\n\n{_sql_block(exercise.answers[dialect])}</td>\n" for dialect in DIALECTS
    )
    return f"<table>\n<tr>{header}</tr>\n<tr>\n{cells}</tr>\n</table>\n"


def _sql_block(sql: str) -> str:
    return f"```sql\n{sql}\n```\n\n"

