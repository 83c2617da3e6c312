"""Initial schema: the five data tables, seed_runs, and the two notebook views.

The tables are a frozen copy of seeder/models.py as of this revision (this file must never
import the models: later model changes belong in later revisions). `alembic check` compares the
two, and tests/test_schema.py runs it on SQLite and PostgreSQL.

The views reproduce the notebook's flat frames over the normalised tables:

- `customer_list` mirrors the notebook's final `customers` frame: one row per customer with its
  car and the two referral flags.
- `transaction_list` mirrors the notebook's final `full_df` frame: one row per transaction with
  the customer columns of `customer_list` in front.

Their SQL is written once for both backends: plain joins and EXISTS, so the flags are booleans on
PostgreSQL and 1/0 on SQLite, uuids are native uuids on PostgreSQL (canonical text when cast or
read as text) and 36-character text on SQLite.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 14:27:48.602173
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in seeder/models.py (Id and UuidText there).
# An INTEGER PRIMARY KEY is SQLite's rowid alias; BIGINT everywhere else.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Native uuid on PostgreSQL; canonical 36-character text on SQLite and MySQL/MariaDB.
UUID_TEXT = sa.Uuid(as_uuid=False).with_variant(sa.String(length=36), "sqlite", "mysql")

# The notebook's final `customers` frame: customer_id, date_registered, car_make, car_model,
# car_year, recommended_someone, is_recommended. Each customer has one car; the LEFT JOIN keeps
# a customer without one (car columns NULL) rather than dropping it.
CUSTOMER_LIST_SQL = """
CREATE VIEW customer_list AS
SELECT
    c.uuid AS customer_id,
    c.registered_on AS date_registered,
    car.make AS car_make,
    car.model AS car_model,
    car.year AS car_year,
    EXISTS (
        SELECT 1 FROM referral_links AS r WHERE r.referrer_id = c.id
    ) AS recommended_someone,
    EXISTS (
        SELECT 1 FROM referral_links AS r WHERE r.referred_id = c.id
    ) AS is_recommended
FROM customers AS c
LEFT JOIN cars AS car ON car.customer_id = c.id
"""

# The notebook's final `full_df` frame: the customer columns of customer_list (so the referral
# flags are defined in one place), then transaction_date, transaction_id, field_of_service,
# service, price.
TRANSACTION_LIST_SQL = """
CREATE VIEW transaction_list AS
SELECT
    cl.customer_id,
    cl.date_registered,
    cl.car_make,
    cl.car_model,
    cl.car_year,
    cl.recommended_someone,
    cl.is_recommended,
    t.transaction_date,
    t.uuid AS transaction_id,
    s.category AS field_of_service,
    s.name AS service,
    t.price
FROM transactions AS t
JOIN customers AS c ON c.id = t.customer_id
JOIN customer_list AS cl ON cl.customer_id = c.uuid
JOIN services AS s ON s.id = t.service_id
"""


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("uuid", UUID_TEXT, nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_index("uq_customers_uuid", "customers", ["uuid"], unique=True)
    op.create_index("uq_customers_email", "customers", ["email"], unique=True)

    op.create_table(
        "cars",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("make", sa.String(length=50), nullable=False),
        sa.Column("model", sa.String(length=50), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("vin", sa.String(length=17), nullable=False),
        sa.CheckConstraint("length(vin) = 17", name=op.f("ck_cars_vin_length")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_cars_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cars")),
    )
    op.create_index("uq_cars_vin", "cars", ["vin"], unique=True)
    op.create_index("ix_cars_customer_id", "cars", ["customer_id"], unique=False)

    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("min_price", sa.Integer(), nullable=False),
        sa.Column("max_price", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "min_price >= 0 AND max_price >= min_price", name=op.f("ck_services_price_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
    )
    op.create_index("uq_services_category_name", "services", ["category", "name"], unique=True)

    op.create_table(
        "transactions",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("uuid", UUID_TEXT, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("car_id", ID, nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("transaction_date", sa.Date(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.CheckConstraint("price >= 0", name=op.f("ck_transactions_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_transactions_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["car_id"], ["cars.id"], name=op.f("fk_transactions_car_id_cars")),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_transactions_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
    )
    op.create_index("uq_transactions_uuid", "transactions", ["uuid"], unique=True)
    op.create_index("ix_transactions_customer_id", "transactions", ["customer_id"], unique=False)
    op.create_index("ix_transactions_car_id", "transactions", ["car_id"], unique=False)
    op.create_index("ix_transactions_service_id", "transactions", ["service_id"], unique=False)
    op.create_index(
        "ix_transactions_transaction_date", "transactions", ["transaction_date"], unique=False
    )

    op.create_table(
        "referral_links",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("referrer_id", ID, nullable=False),
        sa.Column("referred_id", ID, nullable=False),
        sa.Column("referred_on", sa.Date(), nullable=False),
        sa.Column("referrer_reward_id", ID, nullable=False),
        sa.Column("referred_reward_id", ID, nullable=False),
        sa.CheckConstraint("referrer_id <> referred_id", name=op.f("ck_referral_links_not_self")),
        sa.ForeignKeyConstraint(
            ["referrer_id"], ["customers.id"], name=op.f("fk_referral_links_referrer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["referred_id"], ["customers.id"], name=op.f("fk_referral_links_referred_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["referrer_reward_id"],
            ["transactions.id"],
            name=op.f("fk_referral_links_referrer_reward_id_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["referred_reward_id"],
            ["transactions.id"],
            name=op.f("fk_referral_links_referred_reward_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_links")),
    )
    op.create_index("uq_referral_links_referred_id", "referral_links", ["referred_id"], unique=True)
    op.create_index(
        "ix_referral_links_referrer_id", "referral_links", ["referrer_id"], unique=False
    )

    op.create_table(
        "seed_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("customers", sa.BigInteger(), nullable=False),
        sa.Column("scenario", sa.JSON(), nullable=False),
        sa.Column("generator_version", sa.String(length=20), nullable=False),
        sa.Column("seeder_version", sa.String(length=20), nullable=False),
        sa.Column("row_counts", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seed_runs")),
    )

    # Views last: they depend on the tables above.
    op.execute(CUSTOMER_LIST_SQL)
    op.execute(TRANSACTION_LIST_SQL)


def downgrade() -> None:
    # Views first: transaction_list depends on customer_list, both on the tables.
    op.execute("DROP VIEW transaction_list")
    op.execute("DROP VIEW customer_list")

    # A table's indexes go with it (MySQL refuses to drop an index a foreign key needs).
    op.drop_table("seed_runs")
    op.drop_table("referral_links")
    op.drop_table("transactions")
    op.drop_table("services")
    op.drop_table("cars")
    op.drop_table("customers")
