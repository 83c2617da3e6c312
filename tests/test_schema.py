"""The migrations against the models, the declared constraints, the views, and the packaged install.

Every database test runs on SQLite, PostgreSQL and MySQL/MariaDB (see conftest.py).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, Engine, ForeignKeyConstraint, func, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from seeder import schema
from seeder.models import Base

REPO_ROOT = Path(__file__).resolve().parent.parent
# What not to copy from the checkout when building the wheel.
BUILD_IGNORE = [
    ".git",
    ".ci",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".venv",
    "venv",
    "*.db",
]

TABLES = {"customers", "cars", "services", "transactions", "referral_links", "seed_runs"}
VIEWS = {"customer_list", "transaction_list"}

CUSTOMER_LIST_COLUMNS = [
    "customer_id",
    "date_registered",
    "car_make",
    "car_model",
    "car_year",
    "recommended_someone",
    "is_recommended",
]
TRANSACTION_LIST_COLUMNS = CUSTOMER_LIST_COLUMNS + [
    "transaction_date",
    "transaction_id",
    "field_of_service",
    "service",
    "price",
]

T = Base.metadata.tables


def _user_tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names()) - {"alembic_version"}


def _views(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_view_names())


def _upgrade_to_head_and_check(engine: Engine, head: str) -> None:
    """Upgrade, then check that every table and view is there and the revision is head."""
    with engine.begin() as conn:
        schema.upgrade(conn)
    assert _user_tables(engine) == TABLES
    assert _views(engine) == VIEWS
    with engine.connect() as conn:
        assert schema.current_revision(conn) == head


# --- migrations -------------------------------------------------------------------------------


def test_upgrade_downgrade_upgrade_round_trip(engine: Engine) -> None:
    head = ScriptDirectory.from_config(schema.alembic_config()).get_current_head()
    assert schema.HEAD_REVISION == head

    _upgrade_to_head_and_check(engine, head)

    with engine.begin() as conn:
        schema.downgrade(conn, "base")
    assert _user_tables(engine) == set()
    assert _views(engine) == set()
    with engine.connect() as conn:
        assert schema.current_revision(conn) is None

    _upgrade_to_head_and_check(engine, head)


def test_upgrade_from_0001_continues_the_keys_of_existing_rows(engine: Engine) -> None:
    """A database filled at revision 0001 (ids written, no generated keys) upgrades to ids and
    UUIDs that the database makes, continuing after the rows there; downgrading takes the
    defaults away again and keeps the rows."""
    with engine.begin() as conn:
        schema.upgrade(conn, "0001")
        _insert_parents(conn)  # ids 1..3, 1, 1..2 and 1
    with engine.begin() as conn:
        schema.upgrade(conn)
    new_rows = {
        "customers": _customer(9),
        "cars": _car(9, 1),
        "services": _service(9),
        "transactions": _transaction(9, 1, 1),
        "referral_links": _referral(9, 3, 1),
    }
    made = {}
    with engine.begin() as conn:
        for name, row in new_rows.items():
            without_keys = {key: value for key, value in row.items() if key not in ("id", "uuid")}
            made[name] = conn.execute(T[name].insert().values(without_keys)
                                      .returning(T[name].c.id)).scalar_one()
        uuids = [conn.scalar(select(T[name].c.uuid).where(T[name].c.id == made[name]))
                 for name in ("customers", "transactions")]
    assert made == {"customers": 4, "cars": 4, "services": 2, "transactions": 3,
                    "referral_links": 2}
    version = 1 if engine.dialect.name == "mysql" else 4  # MySQL's UUID() is version 1
    assert all(isinstance(value, uuid.UUID) and value.version == version for value in uuids)

    with engine.begin() as conn:
        schema.downgrade(conn, "0001")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(T["customers"])) == 4
        assert "numpy_version" not in {c["name"] for c in inspect(conn).get_columns("seed_runs")}
        conn.rollback()
        row = {key: value for key, value in _customer(10).items() if key != "uuid"}
        # MySQL: "Field 'uuid' doesn't have a default value" (an OperationalError).
        with pytest.raises(DBAPIError, match=r"(?i)not[ -]null|uuid' doesn't have a default"):
            conn.execute(T["customers"].insert().values(row))


def test_models_and_migrations_agree(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        # The same check as `alembic check`; raises AutogenerateDiffsDetected on a difference.
        command.check(schema.alembic_config(conn))


# --- constraints ------------------------------------------------------------------------------

CUSTOMER_UUIDS = [
    "5eb95ca6-4e6e-4a0b-9c43-4f1c2f0d7a01",
    "0f3c8d2e-1b7a-4c55-8e21-9a6b5d4c3e02",
    "a7d41c93-62f0-4e8b-b1d5-0c9e8f7a6b03",
]
TRANSACTION_UUIDS = [
    "c2b8e6f1-3d4a-4f9c-8b7e-1a2d3c4b5e01",
    "d9e0f1a2-b3c4-4d5e-9f60-718293a4b502",
]


def _customer(i: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "id": i,
        "uuid": CUSTOMER_UUIDS[i - 1]
        if i <= len(CUSTOMER_UUIDS)
        else f"{i:08d}-0000-4000-8000-000000000000",
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
        "email": f"customer{i}@example.com",
        "phone": f"555-000-{i:04d}",
        "registered_on": dt.date(2021, 1, i),
    }
    return row | overrides


def _car(i: int, customer_id: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "id": i,
        "customer_id": customer_id,
        "make": "Toyota",
        "model": "Corolla",
        "year": 2019,
        "vin": f"1HGCM82633A{i:06d}",
    }
    return row | overrides


def _service(i: int, **overrides: Any) -> dict[str, Any]:
    row = {"id": i, "category": "Engine", "name": f"Service {i}", "min_price": 50, "max_price": 150}
    return row | overrides


def _transaction(i: int, customer_id: int, car_id: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "id": i,
        "uuid": TRANSACTION_UUIDS[i - 1]
        if i <= len(TRANSACTION_UUIDS)
        else f"{i:08d}-1111-4000-8000-000000000000",
        "customer_id": customer_id,
        "car_id": car_id,
        "service_id": 1,
        "transaction_date": dt.date(2021, 2, i),
        "price": 100,
    }
    return row | overrides


def _referral(i: int, referrer_id: int, referred_id: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "id": i,
        "referrer_id": referrer_id,
        "referred_id": referred_id,
        "referred_on": dt.date(2021, 1, referred_id),
        "referrer_reward_id": 1,
        "referred_reward_id": 2,
    }
    return row | overrides


def _insert_parents(conn) -> None:
    """Three customers (1 referred 2), their cars, one service, two transactions."""
    conn.execute(T["customers"].insert(), [_customer(1), _customer(2), _customer(3)])
    conn.execute(T["cars"].insert(), [_car(1, 1), _car(2, 2), _car(3, 3)])
    conn.execute(T["services"].insert(), [_service(1)])
    conn.execute(T["transactions"].insert(), [_transaction(1, 1, 1), _transaction(2, 2, 2)])
    conn.execute(T["referral_links"].insert(), [_referral(1, 1, 2)])


# A new row for each table that is valid on top of _insert_parents.
FRESH_ROWS = {
    "customers": _customer(4),
    "cars": _car(4, 1),
    "services": _service(2),
    "transactions": _transaction(3, 1, 1),
    "referral_links": _referral(2, 1, 3),
}


@dataclass(frozen=True)
class Violation:
    constraint: str  # the declared name (naming convention applied)
    table: str
    overrides: dict[str, Any] = field(hash=False)
    label: str = ""

    @property
    def id(self) -> str:
        return self.constraint + (f"-{self.label}" if self.label else "")


MISSING = 999

VIOLATIONS = [
    # Foreign keys: a row pointing at a parent that does not exist.
    Violation("fk_cars_customer_id_customers", "cars", {"customer_id": MISSING}),
    Violation("fk_transactions_customer_id_customers", "transactions", {"customer_id": MISSING}),
    Violation("fk_transactions_car_id_cars", "transactions", {"car_id": MISSING}),
    Violation("fk_transactions_service_id_services", "transactions", {"service_id": MISSING}),
    Violation(
        "fk_referral_links_referrer_id_customers", "referral_links", {"referrer_id": MISSING}
    ),
    Violation(
        "fk_referral_links_referred_id_customers", "referral_links", {"referred_id": MISSING}
    ),
    Violation(
        "fk_referral_links_referrer_reward_id_transactions",
        "referral_links",
        {"referrer_reward_id": MISSING},
    ),
    Violation(
        "fk_referral_links_referred_reward_id_transactions",
        "referral_links",
        {"referred_reward_id": MISSING},
    ),
    # Unique indexes: a duplicate of a row that is already there.
    Violation("uq_customers_uuid", "customers", {"uuid": CUSTOMER_UUIDS[0]}),
    Violation("uq_customers_email", "customers", {"email": "customer1@example.com"}),
    Violation("uq_cars_vin", "cars", {"vin": _car(1, 1)["vin"]}),
    Violation("uq_services_category_name", "services", {"category": "Engine", "name": "Service 1"}),
    Violation("uq_transactions_uuid", "transactions", {"uuid": TRANSACTION_UUIDS[0]}),
    Violation(
        "uq_referral_links_referred_id", "referral_links", {"referrer_id": 3, "referred_id": 2}
    ),
    # Check constraints.
    Violation("ck_transactions_price_not_negative", "transactions", {"price": -1}),
    Violation("ck_referral_links_not_self", "referral_links", {"referrer_id": 3, "referred_id": 3}),
    Violation(
        "ck_services_price_range", "services", {"min_price": 200, "max_price": 100}, "min>max"
    ),
    Violation("ck_services_price_range", "services", {"min_price": -1, "max_price": 100}, "min<0"),
    Violation("ck_cars_vin_length", "cars", {"vin": "1HGCM82633A00001"}, "16-chars"),
]


def _declared_constraints() -> set[str]:
    names = set()
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, ForeignKeyConstraint | CheckConstraint):
                names.add(str(constraint.name))
        names.update(str(index.name) for index in table.indexes if index.unique)
    return names


def test_every_declared_constraint_has_a_violation_case() -> None:
    assert {v.constraint for v in VIOLATIONS} == _declared_constraints()


@pytest.mark.parametrize("violation", VIOLATIONS, ids=lambda v: v.id)
def test_constraint_rejects_violating_row(migrated_engine: Engine, violation: Violation) -> None:
    table = T[violation.table]
    with migrated_engine.begin() as conn:
        _insert_parents(conn)

    with migrated_engine.connect() as conn:
        # The unmodified row is accepted, so the failure below is the constraint's doing.
        tx = conn.begin()
        conn.execute(table.insert(), FRESH_ROWS[violation.table])
        tx.rollback()

        tx = conn.begin()
        # MySQL reports a failed CHECK as an OperationalError (4025), the rest as IntegrityError.
        with pytest.raises(DBAPIError) as caught:
            conn.execute(table.insert(), FRESH_ROWS[violation.table] | violation.overrides)
        tx.rollback()
    if conn.dialect.name == "sqlite":  # it names no index or foreign key in its messages
        assert isinstance(caught.value, IntegrityError)
    else:
        assert violation.constraint in str(caught.value.orig)


# --- views ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("view", "columns"),
    [("customer_list", CUSTOMER_LIST_COLUMNS), ("transaction_list", TRANSACTION_LIST_COLUMNS)],
)
def test_view_columns(migrated_engine: Engine, view: str, columns: list[str]) -> None:
    with migrated_engine.connect() as conn:
        assert list(conn.execute(text(f"SELECT * FROM {view} LIMIT 0")).keys()) == columns
        assert [c["name"] for c in inspect(conn).get_columns(view)] == columns


def _canonical(row) -> tuple:
    """Uuids and dates as text on both backends (PostgreSQL returns UUID and date objects)."""
    return tuple(str(value) if isinstance(value, uuid.UUID | dt.date) else value for value in row)


def test_views_rows(migrated_engine: Engine) -> None:
    alice, bob = CUSTOMER_UUIDS[0], CUSTOMER_UUIDS[1]
    t1, t2 = TRANSACTION_UUIDS
    with migrated_engine.begin() as conn:
        conn.execute(
            T["customers"].insert(),
            [
                _customer(1, registered_on=dt.date(2021, 3, 1)),
                _customer(2, registered_on=dt.date(2022, 2, 1)),
            ],
        )
        conn.execute(
            T["cars"].insert(),
            [
                _car(1, 1, make="Toyota", model="Corolla", year=2019),
                _car(2, 2, make="Honda", model="Civic", year=2021),
            ],
        )
        conn.execute(
            T["services"].insert(),
            [_service(1, category="Engine", name="Oil change", min_price=0, max_price=90)],
        )
        conn.execute(
            T["transactions"].insert(),
            [
                _transaction(1, 1, 1, transaction_date=dt.date(2021, 3, 1), price=75),
                _transaction(2, 2, 2, transaction_date=dt.date(2022, 2, 1), price=0),
            ],
        )
        conn.execute(T["referral_links"].insert(), [_referral(1, 1, 2)])

    with migrated_engine.connect() as conn:
        customers = conn.execute(text("SELECT * FROM customer_list ORDER BY date_registered"))
        customers = [_canonical(row) for row in customers]
        transactions = conn.execute(text("SELECT * FROM transaction_list ORDER BY price DESC"))
        transactions = [_canonical(row) for row in transactions]

    # Booleans are true/false on PostgreSQL and 1/0 on SQLite: compare their truth.
    customers = [row[:5] + (bool(row[5]), bool(row[6])) for row in customers]
    assert customers == [
        (alice, "2021-03-01", "Toyota", "Corolla", 2019, True, False),
        (bob, "2022-02-01", "Honda", "Civic", 2021, False, True),
    ]
    assert all(len(row[0]) == 36 for row in customers)

    transactions = [row[:5] + (bool(row[5]), bool(row[6])) + row[7:] for row in transactions]
    assert transactions == [
        customers[0] + ("2021-03-01", t1, "Engine", "Oil change", 75),
        customers[1] + ("2022-02-01", t2, "Engine", "Oil change", 0),
    ]
    assert all(len(row[8]) == 36 for row in transactions)


def test_customer_without_car_is_listed(migrated_engine: Engine) -> None:
    with migrated_engine.begin() as conn:
        conn.execute(T["customers"].insert(), [_customer(1)])
    with migrated_engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM customer_list")).all()
    assert len(rows) == 1
    row = _canonical(rows[0])
    assert row[0] == CUSTOMER_UUIDS[0]
    assert row[2:5] == (None, None, None)
    assert (bool(row[5]), bool(row[6])) == (False, False)


# --- packaging --------------------------------------------------------------------------------


@pytest.mark.slow
def test_wheel_installs_and_init_db_works_from_any_directory(tmp_path: Path) -> None:
    """`pip install .` (not editable) in a clean venv, then `seeder init-db` in an empty dir."""
    # Build from a copy: pip builds in-tree, and setuptools would write build/ and *.egg-info
    # into the checkout.
    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(*BUILD_IGNORE))
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
        check=True,
    )
    [wheel] = wheels.glob("seeder-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], check=True
    )

    workdir = tmp_path / "empty"
    workdir.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SEEDER_DATABASE_URL", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    result = subprocess.run(
        [str(venv / "bin" / "seeder"), "init-db"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr

    database = workdir / "seeder.db"
    assert database.is_file()
    with sqlite3.connect(database) as conn:
        objects = conn.execute("SELECT type, name FROM sqlite_master").fetchall()
    conn.close()
    names = {name for kind, name in objects if kind == "table"}
    views = {name for kind, name in objects if kind == "view"}
    assert names == TABLES | {"alembic_version"}
    assert views == VIEWS

    # The migrations came from the installed package, not from this checkout.
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "from seeder.schema import migrations_dir; print(migrations_dir())",
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv)
