"""The schema: SQLAlchemy models, the single source of truth for tables, keys and indexes.

Primary keys of the data tables are assigned by the generator, so rows can be streamed in
batches without asking the database for ids. Uniqueness is declared as unique indexes (not
table constraints) so that a writer can set every secondary index aside while it fills empty
tables and rebuild it from these models afterwards, on SQLite as well as PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names on every backend, so migrations and writers can name them (indexes
# are named explicitly below).
NAMING_CONVENTION = {
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# An INTEGER PRIMARY KEY is SQLite's rowid alias; BIGINT would make it a separate column.
Id = BigInteger().with_variant(Integer(), "sqlite")
# Native uuid on PostgreSQL; canonical 36-character text on SQLite (SQLAlchemy's default
# there would be 32 hex digits without dashes).
UuidText = Uuid(as_uuid=False).with_variant(String(36), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Customer(Base):
    """A customer of the shop; `uuid` is the notebook's customer_id."""

    __tablename__ = "customers"
    __table_args__ = (
        Index("uq_customers_uuid", "uuid", unique=True),
        Index("uq_customers_email", "email", unique=True),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    uuid: Mapped[str] = mapped_column(UuidText)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str] = mapped_column(String(40))
    registered_on: Mapped[dt.date] = mapped_column(Date)


class Car(Base):
    """A customer's car; `year` is the model year."""

    __tablename__ = "cars"
    __table_args__ = (
        Index("uq_cars_vin", "vin", unique=True),
        Index("ix_cars_customer_id", "customer_id"),
        CheckConstraint("length(vin) = 17", name="vin_length"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    make: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(50))
    year: Mapped[int] = mapped_column(SmallInteger)
    vin: Mapped[str] = mapped_column(String(17))


class Service(Base):
    """A service on the price list: `category` is the notebook's field_of_service."""

    __tablename__ = "services"
    __table_args__ = (
        Index("uq_services_category_name", "category", "name", unique=True),
        CheckConstraint("min_price >= 0 AND max_price >= min_price", name="price_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    category: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(50))
    min_price: Mapped[int] = mapped_column(Integer)
    max_price: Mapped[int] = mapped_column(Integer)


class Transaction(Base):
    """One visit: a service done on a customer's car, at a price (0 for a referral reward)."""

    __tablename__ = "transactions"
    __table_args__ = (
        Index("uq_transactions_uuid", "uuid", unique=True),
        Index("ix_transactions_customer_id", "customer_id"),
        Index("ix_transactions_car_id", "car_id"),
        Index("ix_transactions_service_id", "service_id"),
        Index("ix_transactions_transaction_date", "transaction_date"),
        CheckConstraint("price >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    uuid: Mapped[str] = mapped_column(UuidText)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    car_id: Mapped[int] = mapped_column(ForeignKey("cars.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    transaction_date: Mapped[dt.date] = mapped_column(Date)
    price: Mapped[int] = mapped_column(Integer)


class ReferralLink(Base):
    """Who recommended whom, and the free oil change each of them got for it."""

    __tablename__ = "referral_links"
    __table_args__ = (
        Index("uq_referral_links_referred_id", "referred_id", unique=True),
        Index("ix_referral_links_referrer_id", "referrer_id"),
        CheckConstraint("referrer_id <> referred_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    referred_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    referred_on: Mapped[dt.date] = mapped_column(Date)
    referrer_reward_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"))
    referred_reward_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"))


# The largest seed a user may give: seed_runs.seed is a BIGINT.
MAX_SEED = 2**63 - 1


class SeedRun(Base):
    """One `seeder populate`: what was asked, what was written, and when."""

    __tablename__ = "seed_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    customers: Mapped[int] = mapped_column(BigInteger)
    scenario: Mapped[dict[str, Any]] = mapped_column(JSON)
    generator_version: Mapped[str] = mapped_column(String(20))
    seeder_version: Mapped[str] = mapped_column(String(20))
    row_counts: Mapped[dict[str, int]] = mapped_column(JSON)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


# Tables the generator fills, in foreign-key order.
DATA_TABLES = [Customer.__table__, Car.__table__, Service.__table__, Transaction.__table__,
               ReferralLink.__table__]
