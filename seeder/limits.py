"""Where the data meets the schema: scenario values against the columns they land in.

Checked before any work (populate, export), so a value that cannot be stored is refused at once
with the column and its range, instead of failing hours into a load, or, worse, being stored
wrong (a price of 4294967301 in a 32-bit column is 5 after wrapping). The sizes the generator
can make are its own limits (seeder.generator.check_arguments).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Column, Date, Integer, SmallInteger, String

from seeder.errors import ScenarioError
from seeder.models import Car, Customer, Service, Transaction
from seeder.scenario import Scenario

# The range of DATE that every backend keeps: MariaDB documents 1000-01-01 to 9999-12-31 as its
# supported range, the narrowest (PostgreSQL: 4713 BC to 5874897 AD; SQLite stores ISO text).
_DATE_RANGE = (dt.date(1000, 1, 1), dt.date(9999, 12, 31))
# Signed bits of each integer type on PostgreSQL and MariaDB. SQLite stores any integer in up to
# 8 bytes whatever the declared type, so it is never narrower; the models' SQLite variants
# (INTEGER for a rowid alias) are 64-bit there too, so a column's own type decides.
_INTEGER_BITS = {SmallInteger: 16, Integer: 32, BigInteger: 64}


def check_columns(scenario: Scenario) -> None:
    """Raise ScenarioError ("key: reason") unless every value the scenario puts in a column fits
    that column on every backend: names within their VARCHAR lengths (and without NUL, which
    PostgreSQL text cannot hold), prices and model years within their integer types, dates
    within DATE. The ranges come from the models' column types."""
    for make, models in scenario.makes.items():
        _fit(f"makes.{make}", make, Car.__table__.c.make)
        for model in models:
            _fit(f"makes.{make}", model, Car.__table__.c.model)
    for field, priced in scenario.services.items():
        _fit(f"services.{field}", field, Service.__table__.c.category)
        for name, (min_price, max_price) in priced.items():
            key = f"services.{field}.{name}"
            _fit(key, name, Service.__table__.c.name)
            _fit(key, min_price, Service.__table__.c.min_price)
            _fit(key, max_price, Service.__table__.c.max_price)
            _fit(key, max_price, Transaction.__table__.c.price)  # prices lie in [min, max]
    # Model years lie in [first_model_year, last_model_year].
    _fit("first_model_year", scenario.first_model_year, Car.__table__.c.year)
    _fit("last_model_year", scenario.last_model_year, Car.__table__.c.year)
    # Every date (registrations, visits, the referral window) lies in [start, end].
    _fit("start", scenario.start, Customer.__table__.c.registered_on)
    _fit("end", scenario.end, Transaction.__table__.c.transaction_date)


def _fit(key: str, value: Any, column: Column) -> None:
    where = f"{column.table.name}.{column.name}"
    kind = column.type
    if isinstance(kind, String):
        shown = value if len(value) <= 20 else f"{value[:20]}..."
        if len(value) > kind.length:
            raise ScenarioError(f"{key}: {shown!r} is longer than the {kind.length} characters "
                                f"of {where}")
        if "\x00" in value:
            raise ScenarioError(f"{key}: {shown!r} holds a NUL character, which {where} "
                                "cannot hold on PostgreSQL")
    elif isinstance(kind, Integer):
        bits = _INTEGER_BITS[type(kind)]
        low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        if not low <= value <= high:
            raise ScenarioError(f"{key}: {value} does not fit {where} "
                                f"({kind}: {low:,} to {high:,})")
    elif isinstance(kind, Date):
        low, high = _DATE_RANGE
        if not low <= value <= high:
            raise ScenarioError(f"{key}: {value} is outside the dates {where} holds on every "
                                f"backend ({low} to {high})")
    else:
        raise TypeError(f"no limits known for {where}, a {kind}")
