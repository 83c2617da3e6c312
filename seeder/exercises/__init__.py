"""SQL exercises on the seeded data: questions, reference answers, and a read-only checker.

- `load_exercises()` / `get_exercise(n)`: the exercises shipped in seeder/exercises/data.
- `check_answer(exercise, query, datasets)`: run a learner's query read-only on each
  (label, connection) dataset and compare it with the reference answer; a `Verdict`.
- `run_read_only(connection, query)`: one query, read-only, always rolled back.
- `render_markdown(exercises)`: docs/exercises.md.
"""

from seeder.exercises.catalog import DIALECTS, LEVELS, Exercise, get_exercise, load_exercises
from seeder.exercises.checking import (
    QueryError,
    Verdict,
    check_answer,
    read_only_query,
    run_read_only,
)
from seeder.exercises.markdown import render_markdown
from seeder.exercises.results import ResultSet, compare_results, normalise_cell

__all__ = [
    "DIALECTS",
    "LEVELS",
    "Exercise",
    "QueryError",
    "ResultSet",
    "Verdict",
    "check_answer",
    "compare_results",
    "get_exercise",
    "load_exercises",
    "normalise_cell",
    "read_only_query",
    "render_markdown",
    "run_read_only",
]
