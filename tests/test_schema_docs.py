"""The schema explains itself: descriptions in the models, as comments on PostgreSQL, and
`seeder schema`'s diagram and data dictionary, which docs/schema.md and the README must equal.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql
from support import invoke, ok, scoped_engine

from seeder import schema
from seeder.models import VIEWS, Base

REPO_ROOT = Path(__file__).resolve().parent.parent
TABLES = list(Base.metadata.tables.values())
# A database that does not exist: `seeder schema` must not need one.
NO_DATABASE = "sqlite:////nonexistent-directory/seeder.db"


def _schema(*args: str) -> Result:
    return ok(invoke(NO_DATABASE, "schema", *args))


# --- the descriptions -------------------------------------------------------------------------


@pytest.mark.parametrize("table", TABLES + VIEWS, ids=lambda table: table.name)
def test_every_table_view_and_column_is_described(table) -> None:
    assert table.comment and table.comment.endswith(".")
    undescribed = [column.name for column in table.columns
                   if not (column.comment and column.comment.endswith("."))]
    assert undescribed == []


def test_postgresql_keeps_the_descriptions_as_comments(postgres_database_url: str) -> None:
    """Tables, views and their columns, as `psql \\d+` shows them, after a populate (which must
    leave them as migrated; `alembic check` compares the tables' comments, not the views')."""
    url = postgres_database_url
    ok(invoke(url, "init-db"))
    ok(invoke(url, "populate", "--customers", "2000", "--seed", "1"))
    with scoped_engine(url) as engine, engine.connect() as conn:
        inspector = inspect(conn)
        for table in TABLES + VIEWS:
            assert inspector.get_table_comment(table.name)["text"] == table.comment
            stored = {c["name"]: c.get("comment") for c in inspector.get_columns(table.name)}
            assert stored == {column.name: column.comment for column in table.columns}


def test_postgresql_drops_the_comments_on_downgrade(postgres_database_url: str) -> None:
    with scoped_engine(postgres_database_url) as engine:
        with engine.begin() as conn:
            schema.upgrade(conn)
            schema.downgrade(conn, "0002")
        with engine.connect() as conn:
            inspector = inspect(conn)
            for table in TABLES + VIEWS:
                assert inspector.get_table_comment(table.name)["text"] is None
                assert [c.get("comment") for c in inspector.get_columns(table.name)] == [
                    None] * len(table.columns)


def test_view_columns_have_the_documented_types(postgres_database_url: str) -> None:
    """The dictionary gives the views' PostgreSQL types (SQLite's views declare no types for
    computed columns): they are the ones PostgreSQL reports."""
    with scoped_engine(postgres_database_url) as engine:
        with engine.begin() as conn:
            schema.upgrade(conn)
        with engine.connect() as conn:
            inspector = inspect(conn)
            for view in VIEWS:
                found = [(c["name"], c["type"].compile(dialect=conn.dialect))
                         for c in inspector.get_columns(view.name)]
                documented = [(column.name, column.type.compile(dialect=postgresql.dialect()))
                              for column in view.columns]
                assert found == documented


# --- `seeder schema` and the files that are its output ----------------------------------------


def test_docs_schema_md_is_the_markdown_output() -> None:
    written = (REPO_ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    assert written == _schema("--format", "markdown").stdout, (
        "docs/schema.md is out of date: regenerate it with `seeder schema > docs/schema.md`")
    assert _schema().stdout == written  # markdown is the default


def test_readme_diagram_is_the_mermaid_output() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```mermaid\n(.*?)^```$", readme, flags=re.DOTALL | re.MULTILINE)
    assert blocks == [_schema("--format", "mermaid").stdout], (
        "the README's mermaid block is out of date: replace it with `seeder schema --format "
        "mermaid`")


def test_schema_needs_no_database() -> None:
    result = _schema("--format", "mermaid")
    assert result.stdout.startswith("erDiagram\n")
    assert result.stderr == ""
    assert not Path(NO_DATABASE.removeprefix("sqlite:///")).parent.exists()


def test_diagram_has_every_table_column_key_and_relationship() -> None:
    diagram = _schema("--format", "mermaid").stdout
    entities = dict(re.findall(r"^    (\w+) \{\n(.*?)^    \}$", diagram, re.DOTALL | re.MULTILINE))
    assert list(entities) == [table.name for table in TABLES]
    for table in TABLES:
        rows = [line.split() for line in entities[table.name].splitlines()]
        assert [row[1] for row in rows] == [column.name for column in table.columns]
        primary = [row[1] for row in rows if "PK" in row[2:]]
        assert primary == [column.name for column in table.primary_key]
        foreign = [row[1] for row in rows if "FK" in "".join(row[2:])]
        assert foreign == [column.name for column in table.columns if column.foreign_keys]

    lines = re.findall(r'^    (\w+) (\|\||\|o)--(o\{|o\|) (\w+) : "(\w+)"$', diagram, re.MULTILINE)
    expected = {(fk.column.table.name, table.name, fk.parent.name)
                for table in TABLES for fk in table.foreign_keys}
    assert {(parent, child, column) for parent, _, _, child, column in lines} == expected
    assert len(lines) == len(expected) == 8
    # referral_links.referred_id is unique: a customer is referred at most once.
    [(_, _, referred_end, _, _)] = [line for line in lines if line[4] == "referred_id"]
    assert referred_end == "o|"


def test_dictionary_has_every_column_and_view_column_with_its_description() -> None:
    dictionary = _schema("--format", "markdown").stdout
    sections = dict(re.findall(r"^### (\w+)\n\n(.*?)(?=^##|\Z)", dictionary,
                               re.DOTALL | re.MULTILINE))
    assert list(sections) == [table.name for table in TABLES + VIEWS]
    for table in TABLES + VIEWS:
        rows = [[cell.strip() for cell in line.strip("|").split(" | ")]
                for line in sections[table.name].splitlines() if line.startswith("| `")]
        assert [row[0] for row in rows] == [f"`{column.name}`" for column in table.columns]
        descriptions = [row[-1].replace("&lt;", "<") for row in rows]
        assert descriptions == [column.comment for column in table.columns]
