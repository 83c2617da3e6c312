"""What a dataset can hold: every scenario value against the column it lands in (ranges taken
from the models, and the databases agree), and sizes refused before any work, with the limit
and the reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import BigInteger, select
from sqlalchemy.exc import DataError
from support import BACKENDS, invoke, new_database, ok, scoped_engine

from seeder.errors import InvalidArgument, LimitExceeded, ScenarioError
from seeder.generator import (
    MAX_CUSTOMERS,
    MAX_TRANSACTIONS_PER_CUSTOMER,
    expected_transactions_per_customer,
    generate,
)
from seeder.limits import check_columns
from seeder.models import Car, Customer, Service, Transaction
from seeder.scenario import Referral, Scenario

Z = 6.0
INT_MAX = 2**31 - 1  # INTEGER
SMALLINT_MIN, SMALLINT_MAX = -(2**15), 2**15 - 1
MAKE = Car.__table__.c.make.type.length
MODEL = Car.__table__.c.model.type.length
FIELD = Service.__table__.c.category.type.length
SERVICE = Service.__table__.c.name.type.length


def priced(low: int, high: int) -> Scenario:
    return Scenario(services={"oil": {"change": (low, high)}})


def early(start: dt.date) -> Scenario:
    return Scenario(start=start, first_model_year=start.year, last_model_year=start.year,
                    referral=Referral(start=start, end=start))


# (a scenario at a column's limit, the same one step past it, the key, the column named)
AT_AND_PAST_THE_LIMITS: list[tuple[Callable[[], Scenario], Callable[[], Scenario], str, str]] = [
    (lambda: priced(0, INT_MAX), lambda: priced(0, INT_MAX + 1), "services.oil.change",
     "services.max_price (INTEGER: -2,147,483,648 to 2,147,483,647)"),
    (lambda: priced(INT_MAX, INT_MAX), lambda: priced(INT_MAX + 1, INT_MAX + 1),
     "services.oil.change", "services.min_price"),
    (lambda: Scenario(first_model_year=SMALLINT_MIN),
     lambda: Scenario(first_model_year=SMALLINT_MIN - 1), "first_model_year",
     "cars.year (SMALLINT: -32,768 to 32,767)"),
    (lambda: Scenario(last_model_year=SMALLINT_MAX),
     lambda: Scenario(last_model_year=SMALLINT_MAX + 1), "last_model_year", "cars.year"),
    (lambda: Scenario(makes={"m" * MAKE: ("M3",)}),
     lambda: Scenario(makes={"m" * (MAKE + 1): ("M3",)}), f"makes.{'m' * (MAKE + 1)}",
     f"longer than the {MAKE} characters of cars.make"),
    (lambda: Scenario(makes={"BMW": ("3", "m" * MODEL)}),
     lambda: Scenario(makes={"BMW": ("3", "m" * (MODEL + 1))}), "makes.BMW",
     f"longer than the {MODEL} characters of cars.model"),
    (lambda: Scenario(services={"f" * FIELD: {"x": (1, 2)}},
                      referral=Referral(reward_field="f" * FIELD)),
     lambda: Scenario(services={"f" * (FIELD + 1): {"x": (1, 2)}},
                      referral=Referral(reward_field="f" * (FIELD + 1))),
     f"services.{'f' * (FIELD + 1)}", f"longer than the {FIELD} characters of services.category"),
    (lambda: Scenario(services={"oil": {"s" * SERVICE: (1, 2)}}),
     lambda: Scenario(services={"oil": {"s" * (SERVICE + 1): (1, 2)}}),
     f"services.oil.{'s' * (SERVICE + 1)}",
     f"longer than the {SERVICE} characters of services.name"),
    (lambda: Scenario(makes={"BMW": ("M\u00b3",)}), lambda: Scenario(makes={"BMW": ("M\x003",)}),
     "makes.BMW", "holds a NUL character, which cars.model cannot hold on PostgreSQL"),
    (lambda: early(dt.date(1000, 1, 1)), lambda: early(dt.date(999, 12, 31)), "start",
     "0999-12-31 is outside the dates customers.registered_on holds on every backend "
     "(1000-01-01 to 9999-12-31)"),
]


@pytest.mark.parametrize("at_limit, past_limit, key, reason", AT_AND_PAST_THE_LIMITS)
def test_values_must_fit_their_columns(at_limit: Callable[[], Scenario],
                                       past_limit: Callable[[], Scenario], key: str,
                                       reason: str) -> None:
    check_columns(at_limit())
    with pytest.raises(ScenarioError) as caught:
        check_columns(past_limit())
    message = str(caught.value)
    assert message.startswith(f"{key}: ") and reason in message, message
    assert "\n" not in message


@pytest.mark.parametrize("price", [4_294_967_301, 2**63 - 1])
def test_prices_that_used_to_wrap_on_postgresql_are_refused(price: int) -> None:
    with pytest.raises(ScenarioError, match=rf"^services\.oil\.change: {price} does not fit "
                                            r"services\.min_price \(INTEGER: "):
        check_columns(priced(price, price))


def test_the_default_scenario_fits() -> None:
    check_columns(Scenario())
    generate(customers=MAX_CUSTOMERS, seed=1, scenario=Scenario())


def test_every_value_at_the_limits_is_stored_exactly(tmp_path: Path) -> None:
    """The limits are the databases': a row of values at every limit check_columns accepts is
    stored and read back unchanged on each backend."""
    year_low, year_high = SMALLINT_MIN, SMALLINT_MAX
    for limit in (lambda: priced(INT_MAX, INT_MAX), lambda: Scenario(first_model_year=year_low),
                  lambda: Scenario(last_model_year=year_high),
                  lambda: early(dt.date(1000, 1, 1))):
        check_columns(limit())
    rows = {
        Service: [dict(id=1, category="c" * FIELD, name="s" * SERVICE, min_price=INT_MAX,
                       max_price=INT_MAX)],
        Customer: [dict(id=i, uuid=uuid.UUID(int=i), first_name="A", last_name="B",
                        email=f"a{i}@example.com", phone="1", registered_on=day)
                   for i, day in ((1, dt.date(1000, 1, 1)), (2, dt.date(9999, 12, 31)))],
        Car: [dict(id=i, customer_id=i, make="m" * MAKE, model="n" * MODEL, year=year,
                   vin=f"{i:017d}") for i, year in ((1, year_low), (2, year_high))],
        Transaction: [dict(id=1, uuid=uuid.UUID(int=1), customer_id=2, car_id=2,
                           service_id=1, transaction_date=dt.date(9999, 12, 31),
                           price=INT_MAX)],
    }
    for backend in BACKENDS:
        with new_database(backend, tmp_path) as url:
            ok(invoke(url, "init-db"))
            with scoped_engine(url) as engine:
                with engine.begin() as connection:
                    for model, values in rows.items():
                        connection.execute(model.__table__.insert(), values)
                    for model, values in rows.items():
                        table = model.__table__
                        stored = [dict(row._mapping) for row in
                                  connection.execute(select(table).order_by(table.c.id))]
                        assert stored == values, (backend, table.name)


@pytest.mark.parametrize("table, column, value", [
    (Service, "max_price", INT_MAX + 1),
    (Car, "year", SMALLINT_MAX + 1),
    (Car, "model", "n" * (MODEL + 1)),
    (Service, "name", "a\x00b"),
])
def test_postgresql_refuses_one_past_each_limit(tmp_path: Path, table, column: str,
                                                value) -> None:
    """So the limits are not narrower than they need be: PostgreSQL itself draws the line
    there (through binary COPY it would wrap integers instead, hence checking first)."""
    rows = {
        Service: dict(id=1, category="oil", name="change", min_price=0, max_price=1),
        Customer: dict(id=1, uuid=uuid.UUID(int=1), first_name="A", last_name="B",
                       email="a@example.com", phone="1", registered_on=dt.date(2021, 1, 1)),
        Car: dict(id=1, customer_id=1, make="BMW", model="M3", year=2020, vin="1" * 17),
    }
    rows[table] = {**rows[table], column: value}
    with new_database("postgresql", tmp_path) as url:
        ok(invoke(url, "init-db"))
        with scoped_engine(url) as engine:
            with pytest.raises(DataError), engine.begin() as connection:
                for model, values in rows.items():
                    connection.execute(model.__table__.insert(), values)


# --- sizes -------------------------------------------------------------------------------------


def test_more_customers_than_vins_are_refused_before_any_work() -> None:
    generate(customers=MAX_CUSTOMERS, seed=1, scenario=Scenario())
    for customers in (MAX_CUSTOMERS + 1, 1_000_000_000_000):
        with pytest.raises(LimitExceeded) as caught:
            generate(customers=customers, seed=1, scenario=Scenario())
        assert str(caught.value) == (
            f"{customers:,} customers is more than the 1,089,000,000 there can be: each car's "
            "VIN carries its id, and VINs are unique up to 33 x 33 x 10^6 cars")


@pytest.mark.parametrize("customers", [0, -5, True, 2.5, "10"])
def test_a_number_of_customers_that_is_not_positive_is_an_invalid_argument(customers) -> None:
    with pytest.raises(InvalidArgument, match="^customers must be a positive integer, not "):
        generate(customers=customers, seed=1, scenario=Scenario())


def test_scenarios_that_multiply_into_too_many_rows_are_refused() -> None:
    """The issue's example: 96,000 monthly windows of 10 later visits each."""
    scenario = Scenario(start=dt.date(1000, 1, 1), end=dt.date(9000, 1, 1), cohort_months=1,
                        revisit_rate=(10, 10), first_model_year=1000, last_model_year=1001)
    assert scenario.cohort_windows == 96_000
    with pytest.raises(LimitExceeded) as caught:
        generate(customers=1_000, seed=1, scenario=scenario)
    assert str(caught.value) == (
        "the scenario expects up to 960,001.0 transactions per customer (1 + 96,000 cohort "
        "windows x revisit_rate high 10), more than the 100 that keep a block of 10,000 "
        "customers in memory; use a larger cohort_months, a shorter start..end or a lower "
        "revisit_rate")


def test_the_busiest_cohort_may_expect_up_to_the_limit() -> None:
    # 33 years of 36-month cohorts: 11 windows.
    at_limit = Scenario(start=dt.date(2000, 1, 1), end=dt.date(2033, 1, 1), cohort_months=36,
                        revisit_rate=(9, 9), first_model_year=2000)
    assert expected_transactions_per_customer(at_limit) == MAX_TRANSACTIONS_PER_CUSTOMER
    generate(customers=1, seed=1, scenario=at_limit)
    with pytest.raises(LimitExceeded, match=r"^the scenario expects up to 101\.1 transactions"):
        generate(customers=1, seed=1,
                 scenario=dataclasses.replace(at_limit, revisit_rate=(9.1, 9.1)))


def test_the_expected_transactions_are_the_busiest_cohorts_mean() -> None:
    """With low == high every window's rate is known: the first cohort's mean number of visits
    is the expectation, and no cohort's is above it."""
    scenario = Scenario(revisit_rate=(2, 2))
    expected = expected_transactions_per_customer(scenario)
    assert expected == 1 + 6 * 2
    registered, visits, previous = [], [], None
    for batch in generate(customers=3_000, seed=3, scenario=scenario):
        if batch.table == "customers":
            registered.append(batch.columns["registered_on"])
        elif batch.table == "transactions" and previous == "cars":  # not the created rewards
            visits.append(batch.columns["customer_id"])
        previous = batch.table
    registered_on, owners = np.concatenate(registered), np.concatenate(visits)
    per_customer = np.bincount(owners - 1, minlength=len(registered_on))
    cohort = (registered_on.astype("datetime64[M]").astype(np.int64) - (2021 - 1970) * 12) // 6
    means = [per_customer[cohort == c].mean() for c in range(6)]
    first = per_customer[cohort == 0]
    assert abs(means[0] - expected) <= Z * math.sqrt((expected - 1) / len(first)), means
    assert max(means) == means[0], means


def test_the_other_bounds_on_size_do_not_bind() -> None:
    """The referral bookkeeping's int32 customer indexes and the BIGINT ids hold more than the
    VINs allow, even if every customer had a thousand times the transactions expected."""
    assert MAX_CUSTOMERS - 1 <= np.iinfo(np.int32).max
    for column in (Customer.__table__.c.id, Transaction.__table__.c.id):
        assert isinstance(column.type, BigInteger), column
    assert MAX_CUSTOMERS * MAX_TRANSACTIONS_PER_CUSTOMER * 1000 <= np.iinfo(np.int64).max
