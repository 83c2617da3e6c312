"""What a dataset can hold: scenario values against the columns they land in, and sizes against
the ids, VINs, indexes and memory the generator has.

Both are checked before any work, so a dataset that cannot be made is refused at once with the
limit and its reason, instead of failing hours into a load, or, worse, being stored wrong (a
price of 4294967301 in a 32-bit column is 5 after wrapping).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Column, Date, Integer, SmallInteger, String

from seeder.errors import InvalidArgument, LimitExceeded, ScenarioError
from seeder.generator import BLOCK_CUSTOMERS
from seeder.models import Car, Customer, Service, Transaction
from seeder.scenario import Scenario

MAX_CUSTOMERS = 33 * 33 * 10**6
"""The most customers a dataset can have: 1,089,000,000.

Each customer has one car whose id is the customer's, and the car's VIN carries that id in its
serial part (two VIN characters of 33 and six digits), so VINs are unique up to 33 * 33 * 10**6
cars; more would repeat VINs, which cars.vin's unique index refuses. The other bounds are wider:
the referral bookkeeping holds customer indexes as int32 (2**31 customers), and ids are BIGINT
(at 100 transactions per customer, 1.1 * 10**11 ids of 9.2 * 10**18). Memory is not flat in the
number of customers, though: the bookkeeping keeps 8 bytes per customer active in the referral
window and 8 per customer registered in it, about 3.3 bytes per customer with the default
scenario (3.5 GB at this limit, extrapolated from 100,000 customers) and up to 16 when the
window spans every date.
"""

MAX_TRANSACTIONS_PER_CUSTOMER = 100
"""The most transactions a scenario may expect per customer of its busiest cohort: 100.

The generator holds a block of BLOCK_CUSTOMERS (10,000) customers with all their transactions
in memory at once, about 100 bytes per transaction. A customer of the first cohort, the
busiest, expects its visit on registration and up to revisit_rate's high end of later visits
per cohort window; later cohorts expect fewer, so a block averages about half of that. At this
limit (11 windows x 9) blocks held 551,000 transactions and `seeder populate` into SQLite
peaked at 166 MB, against 103 MB for the default scenario, which expects at most 3.1. Scenarios
whose dates, cohort length and revisit rate multiply (start = 1000-01-01, end = 9000-01-01,
cohort_months = 1, revisit_rate = [10, 10]: 960,001) are refused before any work.
"""

# The range of DATE that every backend keeps: MariaDB documents 1000-01-01 to 9999-12-31 as its
# supported range, the narrowest (PostgreSQL: 4713 BC to 5874897 AD; SQLite stores ISO text).
_DATE_RANGE = (dt.date(1000, 1, 1), dt.date(9999, 12, 31))
# Signed bits of each integer type on PostgreSQL and MariaDB. SQLite stores any integer in up to
# 8 bytes whatever the declared type, so it is never narrower; the models' SQLite variants
# (INTEGER for a rowid alias) are 64-bit there too, so a column's own type decides.
_INTEGER_BITS = {SmallInteger: 16, Integer: 32, BigInteger: 64}


def check_dataset(customers: int, scenario: Scenario) -> None:
    """Refuse, before any work, a dataset that cannot be made: InvalidArgument for a number of
    customers that is not positive, LimitExceeded beyond MAX_CUSTOMERS or when the scenario
    expects more than MAX_TRANSACTIONS_PER_CUSTOMER, ScenarioError (check_columns) for a value
    that does not fit its column."""
    if isinstance(customers, bool) or not isinstance(customers, int) or customers < 1:
        raise InvalidArgument(f"customers must be a positive integer, not {customers!r}")
    if customers > MAX_CUSTOMERS:
        raise LimitExceeded(
            f"{customers:,} customers is more than the {MAX_CUSTOMERS:,} there can be: each "
            "car's VIN carries its id, and VINs are unique up to 33 x 33 x 10^6 cars")
    check_columns(scenario)
    expected = expected_transactions_per_customer(scenario)
    if expected > MAX_TRANSACTIONS_PER_CUSTOMER:
        raise LimitExceeded(
            f"the scenario expects up to {expected:,.1f} transactions per customer (1 + "
            f"{scenario.cohort_windows:,} cohort windows x revisit_rate high "
            f"{scenario.revisit_rate[1]:g}), more than the {MAX_TRANSACTIONS_PER_CUSTOMER} that "
            f"keep a block of {BLOCK_CUSTOMERS:,} customers in memory; use a larger "
            "cohort_months, a shorter start..end or a lower revisit_rate")


def expected_transactions_per_customer(scenario: Scenario) -> float:
    """The mean number of transactions of a customer in the first cohort, the busiest, at most:
    the visit on registration, and revisit_rate's high end of later visits per cohort window
    (the rate of each window is drawn between low and high). Referral rewards add at most one."""
    return 1 + scenario.cohort_windows * scenario.revisit_rate[1]


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
