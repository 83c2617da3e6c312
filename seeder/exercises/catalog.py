"""The exercises: one TOML file each under data/, loaded and validated here.

A file `NNN-slug.toml` holds:

    id = 7                          # NNN, as a number
    title = "..."
    level = "easy"                  # easy, medium or hard
    topics = ["aggregation", ...]
    ordered = false                 # whether the result's row order is part of the answer
    question = '''...'''            # Markdown; names the columns, their order, ties
    [answer]
    sql = '''...'''                 # runs unchanged on every dialect, or instead
    sqlite = '''...'''              # one answer per dialect, where they truly differ
    postgresql = '''...'''
    mysql = '''...'''               # MySQL and MariaDB (SQLAlchemy's dialect "mysql")

The files ship with the package; a malformed one is a bug in seeder, so it raises ValueError
naming the file rather than a SeederError.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import tomllib
from importlib import resources

from seeder.errors import InvalidArgument

# The database dialects every answer covers, by SQLAlchemy dialect name.
DIALECTS = ("sqlite", "postgresql", "mysql")
DIALECT_TITLES = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MySQL/MariaDB"}
LEVELS = ("easy", "medium", "hard")

_FILE_NAME = re.compile(r"(\d{3})-([a-z0-9]+(?:-[a-z0-9]+)*)\.toml")
_KEYS = {"id", "title", "level", "topics", "ordered", "question", "answer"}
_PORTABLE = "sql"


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise: the question, and the reference answer for each dialect."""

    id: int
    slug: str
    title: str
    level: str
    topics: tuple[str, ...]
    ordered: bool
    question: str
    # Dialect name -> the reference answer's SQL (the same text for all when portable).
    answers: dict[str, str]
    portable: bool

    def answer(self, dialect: str) -> str:
        """The reference answer for a SQLAlchemy dialect name ("sqlite", "postgresql",
        "mysql")."""
        try:
            return self.answers[dialect]
        except KeyError:
            titles = [DIALECT_TITLES[name] for name in DIALECTS]
            supported = ", ".join(titles[:-1]) + " and " + titles[-1]
            raise InvalidArgument(
                f"exercises have answers for {supported} only, not {dialect}"
            ) from None


@functools.cache
def load_exercises() -> tuple[Exercise, ...]:
    """Every exercise shipped with seeder, by id."""
    folder = resources.files(__package__) / "data"
    exercises = [
        _parse(entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    ]
    exercises.sort(key=lambda exercise: exercise.id)
    ids = [exercise.id for exercise in exercises]
    if ids != list(range(1, len(ids) + 1)):
        raise ValueError(f"exercise ids must run from 1 without gaps or repeats, got {ids}")
    return tuple(exercises)


def get_exercise(exercise_id: int) -> Exercise:
    """The exercise with this id; InvalidArgument when there is none."""
    exercises = load_exercises()
    if not 1 <= exercise_id <= len(exercises):
        raise InvalidArgument(
            f"there is no exercise {exercise_id}; exercises are numbered 1 to {len(exercises)}"
        )
    return exercises[exercise_id - 1]


def _parse(file_name: str, text: str) -> Exercise:
    def fail(reason: str) -> ValueError:
        return ValueError(f"exercise file {file_name}: {reason}")

    match = _FILE_NAME.fullmatch(file_name)
    if not match:
        raise fail("the name must be NNN-slug.toml")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise fail(str(exc)) from None
    if set(data) != _KEYS:
        raise fail(f"keys must be exactly {sorted(_KEYS)}, got {sorted(data)}")
    if data["id"] != int(match.group(1)):
        raise fail(f"id {data['id']} does not match the file name")
    if data["level"] not in LEVELS:
        raise fail(f"level must be one of {LEVELS}")
    if not isinstance(data["ordered"], bool):
        raise fail("ordered must be true or false")
    texts = [data["title"], data["question"], *data["topics"], *data["answer"].values()]
    if not data["topics"] or not all(isinstance(value, str) and value.strip() for value in texts):
        raise fail("title, question, topics and answers must be non-empty text")

    answer = data["answer"]
    if set(answer) == {_PORTABLE}:
        answers = dict.fromkeys(DIALECTS, answer[_PORTABLE].strip())
    elif set(answer) == set(DIALECTS):
        answers = {dialect: answer[dialect].strip() for dialect in DIALECTS}
    else:
        raise fail(f"[answer] needs either `sql` alone or one key per dialect {DIALECTS}")
    return Exercise(
        id=data["id"],
        slug=match.group(2),
        title=data["title"].strip(),
        level=data["level"],
        topics=tuple(data["topics"]),
        ordered=data["ordered"],
        question=data["question"].strip(),
        answers=answers,
        portable=set(answer) == {_PORTABLE},
    )
