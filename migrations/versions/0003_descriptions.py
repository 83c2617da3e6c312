"""Descriptions: every table, column and view explains itself, as PostgreSQL comments.

The texts are frozen copies of the `comment=` descriptions in seeder/models.py as of this
revision (this file must never import the models: changed descriptions belong in later
revisions); `alembic check` compares the table and column comments with the models, and
tests/test_schema_docs.py the view comments. SQLite keeps no comments, so this revision does
nothing there. MySQL/MariaDB keep table and column comments but none on views; a column's
comment is part of its definition there, so each column is redefined as it is, with the
comment added.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 11:00:00.000000
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_COMMENTS = {
    "customers": (
        "A customer of the shop, one row per registration (the notebook's customers). seeder gives "
        "every customer one car and a first visit on the registration day."
    ),
    "cars": (
        "A customer's car. seeder gives every customer exactly one car, whose id is the customer's "
        "id."
    ),
    "services": (
        "The price list: one row per service of the scenario (24 services in 7 fields by default)."
    ),
    "transactions": (
        "One visit: a service done on a customer's car, at a price (the notebook's transactions). "
        "Each customer has one on the registration day and a random number of later ones; the free "
        "services of referral rewards cost 0."
    ),
    "referral_links": (
        "Who recommended whom. In the referral window (2022-01-01 to 2022-07-01 by default, both "
        "included) 20% of the customers with a transaction there recommend a new customer, and both"
        " get a free service (an oil change by default)."
    ),
    "seed_runs": (
        "One row per seeder populate: what was asked, what was written and when. A log: populate "
        "--replace replaces the data but keeps earlier rows."
    ),
}

COLUMN_COMMENTS = {
    "customers": {
        "id": (
            "Customer number: seeder writes 1 to the number of customers. A row inserted without an"
            " id gets the next number from the database."
        ),
        "uuid": (
            "The notebook's customer_id: a random version-4 UUID drawn from the seed (the same seed"
            " gives the same UUIDs). A row inserted without one gets a random one from the "
            "database."
        ),
        "first_name": (
            "Given name, drawn from the weighted first names of the scenario's Faker locale (en_US "
            "by default)."
        ),
        "last_name": (
            "Family name, drawn from the weighted last names of the scenario's Faker locale."
        ),
        "email": (
            "first.last<id>@example.com, .org or .net (domains reserved for examples), unique "
            "because it holds the id; customer.customer<id>@... for names without a Latin "
            "transliteration."
        ),
        "phone": "Phone number in one of the locale's Faker formats, random digits.",
        "registered_on": (
            "Registration day, uniform over the scenario's [start, end): 2021-01-01 to 2023-12-31 "
            "by default. The customer's first transaction is on this day."
        ),
    },
    "cars": {
        "id": (
            "Car number: seeder writes the owner's customers.id. A row inserted without an id gets "
            "the next number from the database."
        ),
        "customer_id": "The owner (customers.id).",
        "make": (
            "Manufacturer, uniform over the scenario's makes (by default Hyundai, Honda, "
            "Volkswagen, BMW, Volvo and Ford)."
        ),
        "model": "Model, uniform over the make's models in the scenario.",
        "year": (
            "Model year, uniform over first_model_year to last_model_year (2016 to 2023 by default)"
            " but never later than the registration year + 1."
        ),
        "vin": (
            "Vehicle identification number, 17 characters: the make's manufacturer code, a "
            "per-model descriptor, a valid check digit, the model-year code and the car id in the "
            "serial part (so unique)."
        ),
    },
    "services": {
        "id": (
            "Service number: seeder writes 1 to the number of services, in the scenario's order. A "
            "row inserted without an id gets the next number from the database."
        ),
        "category": (
            "The notebook's field_of_service: suspension, brake, wheel, ac_heating, oil, engine or "
            "battery by default."
        ),
        "name": (
            "The notebook's service, within its field (synth_change and reg_change in oil, for "
            "example); unique with category."
        ),
        "min_price": "Lowest price of the service in whole currency units, included in the range.",
        "max_price": (
            "Highest price of the service in whole currency units, included in the range; at least "
            "min_price."
        ),
    },
    "transactions": {
        "id": (
            "Transaction number: seeder writes 1 upwards, by customer and then by date, followed by"
            " the free services created for referral rewards. A row inserted without an id gets the"
            " next number from the database."
        ),
        "uuid": (
            "The notebook's transaction_id: a random version-4 UUID drawn from the seed. A row "
            "inserted without one gets a random one from the database."
        ),
        "customer_id": "The customer who came (customers.id).",
        "car_id": (
            "The car serviced (cars.id); seeder writes the customer's one car, so it equals "
            "customer_id."
        ),
        "service_id": (
            "The service done (services.id): its field uniform over the fields, then the service "
            "uniform within the field."
        ),
        "transaction_date": (
            "Day of the visit: the registration day for a customer's first; later visits uniform "
            "from the day after registration to the scenario's end (2024-01-01 by default), "
            "included."
        ),
        "price": (
            "Price paid in whole currency units: a uniform integer in the service's [min_price, "
            "max_price], bounds included. 0 means a free service, a referral reward (a free oil "
            "change by default)."
        ),
    },
    "referral_links": {
        "id": (
            "Link number: seeder writes 1 upwards, in the order of referred_on. A row inserted "
            "without an id gets the next number from the database."
        ),
        "referrer_id": (
            "The customer who recommended someone (customers.id), picked among the customers with a"
            " transaction in the window."
        ),
        "referred_id": (
            "The customer recommended (customers.id): registered in the window, on or after the "
            "referrer's first visit there, and recommended no one; referred at most once."
        ),
        "referred_on": "The referred customer's registration day, inside the referral window.",
        "referrer_reward_id": (
            "The referrer's free service (transactions.id, price 0): their earliest transaction of "
            "the reward field (oil by default) on or after referred_on, or else a new one dated "
            "after it."
        ),
        "referred_reward_id": (
            "The referred customer's free service (transactions.id, price 0), chosen the same way."
        ),
    },
    "seed_runs": {
        "id": "Run number, from the database.",
        "seed": (
            "Seed of the generator: the same seed, customers, scenario and generator version give "
            "the same rows."
        ),
        "customers": "Number of customers asked for.",
        "scenario": "The complete effective scenario, as JSON.",
        "generator_version": (
            "The generator's version; it changes whenever the same seed would give different rows."
        ),
        "seeder_version": "Version of the seeder package that wrote the rows.",
        "numpy_version": (
            "Version of NumPy that generated the rows; NULL for runs recorded before it was kept."
        ),
        "row_counts": "Rows written per table, as a JSON object.",
        "started_at": "When the populate started.",
        "finished_at": "When the populate had written everything, just before it committed.",
    },
}

VIEW_COMMENTS = {
    "customer_list": (
        "The notebook's final customers frame: one row per customer and car, with the two referral "
        "flags. A customer without a car has NULL car columns; seeder gives every customer one car."
    ),
    "transaction_list": (
        "The notebook's final full_df frame: one row per transaction, with the customer columns of "
        "customer_list in front."
    ),
}

VIEW_COLUMN_COMMENTS = {
    "customer_list": {
        "customer_id": "customers.uuid.",
        "date_registered": "customers.registered_on.",
        "car_make": "cars.make.",
        "car_model": "cars.model.",
        "car_year": "cars.year.",
        "recommended_someone": (
            "Whether the customer recommended someone (is a referrer_id in referral_links); 1 or 0 "
            "on SQLite."
        ),
        "is_recommended": (
            "Whether someone recommended the customer (is a referred_id in referral_links); 1 or 0 "
            "on SQLite."
        ),
    },
    "transaction_list": {
        "customer_id": "customers.uuid.",
        "date_registered": "customers.registered_on.",
        "car_make": "cars.make.",
        "car_model": "cars.model.",
        "car_year": "cars.year.",
        "recommended_someone": "As in customer_list; 1 or 0 on SQLite.",
        "is_recommended": "As in customer_list; 1 or 0 on SQLite.",
        "transaction_date": "transactions.transaction_date.",
        "transaction_id": "transactions.uuid.",
        "field_of_service": "services.category.",
        "service": "services.name.",
        "price": "transactions.price; 0 for a referral reward.",
    },
}


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "mysql":
        for table, comment in TABLE_COMMENTS.items():
            op.create_table_comment(table, comment)
        _mysql_column_comments(COLUMN_COMMENTS)
    if dialect != "postgresql":
        return
    for table, comment in TABLE_COMMENTS.items():
        op.create_table_comment(table, comment)
    for view, comment in VIEW_COMMENTS.items():
        _comment_on_view(view, comment)
    for table, columns in {**COLUMN_COMMENTS, **VIEW_COLUMN_COMMENTS}.items():
        for column, comment in columns.items():
            op.alter_column(table, column, comment=comment)  # COMMENT ON COLUMN, views too


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "mysql":
        _mysql_column_comments({table: dict.fromkeys(columns) for table, columns
                                in COLUMN_COMMENTS.items()})
        for table, comment in TABLE_COMMENTS.items():
            op.drop_table_comment(table, existing_comment=comment)
    if dialect != "postgresql":
        return
    for table, columns in {**COLUMN_COMMENTS, **VIEW_COLUMN_COMMENTS}.items():
        for column, comment in columns.items():
            op.alter_column(table, column, comment=None, existing_comment=comment)
    for view in VIEW_COMMENTS:
        _comment_on_view(view, None)
    for table, comment in TABLE_COMMENTS.items():
        op.drop_table_comment(table, existing_comment=comment)


def _comment_on_view(view: str, comment: str | None) -> None:
    # Alembic's table comments say COMMENT ON TABLE, which PostgreSQL refuses for a view.
    dialect = op.get_context().dialect
    text = "NULL" if comment is None else sa.String().literal_processor(dialect=dialect)(comment)
    op.execute(sa.DDL(f"COMMENT ON VIEW {view} IS {text}"))


def _mysql_column_comments(comments: dict[str, dict[str, str | None]]) -> None:
    """Set (or, with None, remove) column comments on MySQL/MariaDB: each column is redefined
    with MODIFY as SHOW CREATE TABLE gives it, its old comment replaced."""
    connection = op.get_bind()
    quote = sa.String().literal_processor(dialect=connection.dialect)
    for table, columns in comments.items():
        create = connection.exec_driver_sql(f"SHOW CREATE TABLE `{table}`").one()[1]
        # Column lines start with the quoted name; key and constraint lines with a keyword.
        definitions = dict(re.findall(r"^\s+`(\w+)` (.*?),?$", create, re.MULTILINE))
        clauses = []
        for column, comment in columns.items():
            # MariaDB writes a column's CHECK (JSON columns have one) after its comment.
            definition, check, rest = definitions[column].partition(" CHECK (")
            definition = re.sub(r" COMMENT '(?:[^']|'')*'$", "", definition)
            if comment is not None:
                definition += f" COMMENT {quote(comment)}"
            clauses.append(f"MODIFY `{column}` {definition}{check}{rest}")
        op.execute(f"ALTER TABLE `{table}` {', '.join(clauses)}")
