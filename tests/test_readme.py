"""The README's examples run, so that they stay right: its SQL on every backend, its Python as
written."""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import re
import uuid
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from support import invoke, new_database, ok, scoped_engine

import seeder

README = Path(__file__).parent.parent / "README.md"
CUSTOMERS, SEED = 3_000, 11


def _blocks(language: str, sections: tuple[str, ...] | None = None) -> list[str]:
    """The README's fenced blocks in `language`, from the `## ` sections named, in order."""
    blocks, section = [], ""
    for part in re.split(r"(?m)^(## .*)$", README.read_text()):
        if part.startswith("## "):
            section = part[3:].strip()
        elif sections is None or section in sections:
            blocks += re.findall(rf"(?ms)^```{language}\n(.*?)^```", part)
    return blocks


def _plain(value: object) -> object:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | float):
        return round(float(value), 6)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, list[list[tuple]]]:
    """Every README SQL example's rows, per backend."""
    found = {}
    for backend in ("sqlite", "postgresql"):
        with new_database(backend, tmp_path_factory.mktemp(backend)) as url:
            ok(invoke(url, "init-db"))
            ok(invoke(url, "populate", "--customers", str(CUSTOMERS), "--seed", str(SEED)))
            with scoped_engine(url) as engine, engine.connect() as connection:
                found[backend] = [
                    [tuple(map(_plain, row)) for row in connection.execute(text(query))]
                    for query in _blocks("sql")]
    return found


def test_the_sql_examples_return_rows_and_agree_across_backends(results) -> None:
    assert len(results["sqlite"]) >= 3
    for index, rows in enumerate(results["sqlite"]):
        assert rows, f"SQL example {index + 1} returned no rows"
        assert rows == results["postgresql"][index], f"SQL example {index + 1}"


def test_revenue_in_2023_counts_exactly_the_year(results) -> None:
    """Computed from the generated rows, without SQL: the year 2023 and nothing of 2024."""
    expected: dict[str, int] = collections.Counter()
    services = {}
    for batch in seeder.generate(customers=CUSTOMERS, seed=SEED):
        if batch.table == "services":
            services = dict(zip(batch.columns["id"].tolist(),
                                batch.columns["category"].astype(str).tolist(), strict=True))
        elif batch.table == "transactions":
            year = batch.columns["transaction_date"].astype("datetime64[Y]")
            in_2023 = year == np.datetime64("2023", "Y")
            for service, price in zip(batch.columns["service_id"][in_2023].tolist(),
                                      batch.columns["price"][in_2023].tolist(), strict=True):
                expected[services[service]] += price
    revenue = dict(results["sqlite"][_index_of("revenue per field of service in 2023")])
    assert revenue == dict(expected)


def _index_of(comment: str) -> int:
    return next(i for i, query in enumerate(_blocks("sql")) if comment in query)


def test_the_python_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)  # they make ./shop.db
    examples = _blocks("python", ("Use from Python", "A working database"))
    assert len(examples) >= 5
    for example in examples:
        exec(compile(example, "README.md", "exec"), {"__name__": "readme_example"})
    printed = capsys.readouterr().out
    assert "interrupted; the transaction was rolled back" in printed
    assert "already holds a dataset" in printed
