"""SQL exercises on the seeded data: questions, reference answers, and a read-only checker.

- `load_exercises()` / `get_exercise(n)`: the exercises shipped in seeder/exercises/data.
- `check(target, n, query)`: the whole check of a learner's query on their database and on
  two hidden variant datasets (built once, then cached); a `Verdict`.
- `reference_answer(target, n)`: the answer in the target's SQL dialect.
- `drop_variants(target)`: remove the cached hidden variants.
- `check_answer(exercise, query, datasets)`: the comparison itself, on (label, connection)
  datasets the caller provides.
- `run_read_only(connection, query)`: one query, read-only, always rolled back.
- `render_markdown(exercises)`: docs/exercises.md.

Errors: QueryError (refused or failed, with the database's message), QueryTimeout, and
VariantError (no populate on record, or no right to create the variant databases), all
SeederErrors from seeder.errors.
"""

from seeder.backends.sqlite import cache_directory  # where SQLite's hidden variants are kept
from seeder.errors import QueryError, QueryTimeout, VariantError
from seeder.exercises.catalog import DIALECTS, LEVELS, Exercise, get_exercise, load_exercises
from seeder.exercises.checking import (
    DEFAULT_TIMEOUT_SECONDS,
    Verdict,
    check,
    check_answer,
    read_only_query,
    reference_answer,
    run_read_only,
)
from seeder.exercises.markdown import render_markdown
from seeder.exercises.results import ResultSet, compare_results, normalise_cell
from seeder.exercises.variants import drop_variants, variant_seeds

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "DIALECTS",
    "LEVELS",
    "Exercise",
    "QueryError",
    "QueryTimeout",
    "ResultSet",
    "VariantError",
    "Verdict",
    "cache_directory",
    "check",
    "check_answer",
    "compare_results",
    "drop_variants",
    "get_exercise",
    "load_exercises",
    "normalise_cell",
    "read_only_query",
    "reference_answer",
    "render_markdown",
    "run_read_only",
    "variant_seeds",
]
