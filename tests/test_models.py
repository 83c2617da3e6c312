"""The models as a working database after a populate: keys and UUIDs that the database makes,
the ORM relationships on every foreign key, readable reprs, and the mapped views.

Every database test runs on SQLite and on PostgreSQL (see conftest.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from uuid import UUID

import pytest
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import RelationshipDirection, RelationshipProperty, Session
from support import BACKENDS, invoke, new_database, ok, seeder_engine

from seeder.models import (
    DATA_TABLES,
    Base,
    Car,
    Customer,
    CustomerListRow,
    ReferralLink,
    Service,
    Transaction,
    TransactionListRow,
)

ONE_TO_MANY = RelationshipDirection.ONETOMANY
MANY_TO_ONE = RelationshipDirection.MANYTOONE
UUID4_TEXT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
GIVEN_UUID = UUID("8d3c1f7e-5b2a-4c9d-a1e0-6f4b3a2c1d0e")


def _populate(url: str) -> None:
    ok(invoke(url, "init-db"))
    ok(invoke(url, "populate", "--customers", "2000", "--seed", "1"))


@pytest.fixture
def populated_url(database_url: str) -> str:
    """A fresh database per test, populated: for the tests that write."""
    _populate(database_url)
    return database_url


@pytest.fixture(scope="module", params=BACKENDS)
def populated_engine(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Engine]:
    """One populated database per backend for the tests that only read."""
    with new_database(request.param, tmp_path_factory.mktemp("populated")) as url:
        _populate(url)
        engine = seeder_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def _loader_sets_sequences(request: pytest.FixtureRequest, url: str) -> None:
    """On PostgreSQL the ids continue only once the loader sets each identity's sequence after
    COPY (setval in the load's transaction); until then the first generated id collides."""
    if url.startswith("postgresql"):
        request.applymarker(pytest.mark.xfail(
            strict=True, raises=IntegrityError,
            reason="the PostgreSQL loader does not set the identity sequences yet"))


def _largest_ids(connection) -> dict[str, int]:
    return {table.name: connection.scalar(select(func.max(table.c.id))) for table in DATA_TABLES}


# --- keys and UUIDs the database makes --------------------------------------------------------


def test_plain_sql_inserts_get_ids_and_uuids_after_a_populate(
        populated_url: str, request: pytest.FixtureRequest) -> None:
    _loader_sets_sequences(request, populated_url)
    engine = seeder_engine(populated_url)
    try:
        with engine.begin() as conn:
            largest = _largest_ids(conn)

            def insert(sql: str) -> int:
                return conn.execute(text(sql + " RETURNING id")).scalar_one()

            customer_sql = ("INSERT INTO customers (first_name, last_name, email, phone, "
                            "registered_on) VALUES ('{0}', 'Test', '{0}@example.com', '555-0100', "
                            "'2024-01-02')")
            ada, grace = insert(customer_sql.format("ada")), insert(customer_sql.format("grace"))
            car = insert("INSERT INTO cars (customer_id, make, model, year, vin) "
                         f"VALUES ({ada}, 'Volvo', 'XC40', 2023, 'YV1TEST0000000001')")
            service = insert("INSERT INTO services (category, name, min_price, max_price) "
                             "VALUES ('detailing', 'wash', 10, 20)")
            visit, reward = (
                insert("INSERT INTO transactions (customer_id, car_id, service_id, "
                       f"transaction_date, price) VALUES ({ada}, {car}, {service}, "
                       f"'2024-01-03', {price})") for price in (15, 0))
            link = insert("INSERT INTO referral_links (referrer_id, referred_id, referred_on, "
                          f"referrer_reward_id, referred_reward_id) VALUES ({ada}, {grace}, "
                          f"'2024-01-02', {visit}, {reward})")
            uuids = conn.execute(text(
                "SELECT uuid FROM customers WHERE id IN (:ada, :grace) UNION ALL "
                "SELECT uuid FROM transactions WHERE id IN (:visit, :reward)"),
                {"ada": ada, "grace": grace, "visit": visit, "reward": reward}).scalars().all()
    finally:
        engine.dispose()

    assert (ada, grace) == (largest["customers"] + 1, largest["customers"] + 2)
    assert car == largest["cars"] + 1
    assert service == largest["services"] + 1
    assert (visit, reward) == (largest["transactions"] + 1, largest["transactions"] + 2)
    assert link == largest["referral_links"] + 1
    # Native uuids on PostgreSQL, their canonical text on SQLite: random version-4 either way.
    texts = [str(value) for value in uuids]
    assert len(set(texts)) == 4
    assert all(UUID4_TEXT.match(value) for value in texts), texts


def test_orm_inserts_without_ids_take_uuid_values_after_a_populate(
        populated_url: str, request: pytest.FixtureRequest) -> None:
    _loader_sets_sequences(request, populated_url)
    engine = seeder_engine(populated_url)
    try:
        with Session(engine) as session:
            largest = _largest_ids(session.connection())
            ada = Customer(first_name="Ada", last_name="Test", email="ada@example.com",
                           phone="555-0100", registered_on=dt.date(2024, 1, 2))
            grace = Customer(uuid=GIVEN_UUID, first_name="Grace", last_name="Test",
                             email="grace@example.com", phone="555-0101",
                             registered_on=dt.date(2024, 1, 2))
            cars = [Car(customer=owner, make="Volvo", model="XC40", year=2023,
                        vin=f"YV1TEST000000000{number}") for number, owner in enumerate(
                            (ada, grace), start=1)]
            wash = Service(category="detailing", name="wash", min_price=10, max_price=20)
            visits = [Transaction(customer=car.customer, car=car, service=wash,
                                  transaction_date=dt.date(2024, 1, 3), price=0) for car in cars]
            link = ReferralLink(referrer=ada, referred=grace, referred_on=dt.date(2024, 1, 2),
                                referrer_reward=visits[0], referred_reward=visits[1])
            session.add(link)  # the rest comes along through the relationships
            session.commit()
            ids = {"customers": {ada.id, grace.id}, "cars": {car.id for car in cars},
                   "services": {wash.id}, "transactions": {visit.id for visit in visits},
                   "referral_links": {link.id}}
            made_uuid = ada.uuid

        with Session(engine) as session:
            found = session.scalars(select(Customer).where(Customer.uuid == GIVEN_UUID)).one()
            assert found.id == grace.id
            assert found.uuid == GIVEN_UUID
            assert session.get(Customer, ada.id).uuid == made_uuid
    finally:
        engine.dispose()

    for table, written in ids.items():
        assert written == set(range(largest[table] + 1, largest[table] + 1 + len(written))), table
    assert isinstance(made_uuid, UUID) and made_uuid.version == 4


@pytest.mark.parametrize("given", [GIVEN_UUID, str(GIVEN_UUID).upper()], ids=["UUID", "text"])
def test_uuid_values_and_their_text_are_stored_canonical(migrated_engine: Engine,
                                                         given: UUID | str) -> None:
    row = {"first_name": "Ada", "last_name": "Test", "email": "ada@example.com",
           "phone": "555-0100", "registered_on": dt.date(2024, 1, 2), "uuid": given}
    with migrated_engine.begin() as conn:
        conn.execute(Customer.__table__.insert(), row)
        stored = conn.execute(text("SELECT uuid FROM customers")).scalar_one()
    # Native uuid on PostgreSQL, text on SQLite: the same canonical text either way.
    assert str(stored) == str(GIVEN_UUID)


def test_text_that_is_no_uuid_is_refused(migrated_engine: Engine) -> None:
    refusal = {"sqlite": "badly formed hexadecimal UUID string",
               "postgresql": 'invalid input syntax for type uuid: "not-a-uuid"'}
    row = {"first_name": "Ada", "last_name": "Test", "email": "ada@example.com",
           "phone": "555-0100", "registered_on": dt.date(2024, 1, 2), "uuid": "not-a-uuid"}
    with migrated_engine.connect() as conn:
        with pytest.raises(StatementError, match=refusal[conn.dialect.name]):
            conn.execute(Customer.__table__.insert(), row)


# --- relationships ----------------------------------------------------------------------------

# Every relationship: (class, attribute) -> (target class, direction). Each foreign key has a
# many-to-one on its table and, except the two reward keys, a one-to-many back.
RELATIONSHIPS = {
    (Customer, "cars"): (Car, ONE_TO_MANY),
    (Customer, "transactions"): (Transaction, ONE_TO_MANY),
    (Customer, "referrals_made"): (ReferralLink, ONE_TO_MANY),
    (Customer, "referral_received"): (ReferralLink, ONE_TO_MANY),
    (Car, "customer"): (Customer, MANY_TO_ONE),
    (Car, "transactions"): (Transaction, ONE_TO_MANY),
    (Service, "transactions"): (Transaction, ONE_TO_MANY),
    (Transaction, "customer"): (Customer, MANY_TO_ONE),
    (Transaction, "car"): (Car, MANY_TO_ONE),
    (Transaction, "service"): (Service, MANY_TO_ONE),
    (ReferralLink, "referrer"): (Customer, MANY_TO_ONE),
    (ReferralLink, "referred"): (Customer, MANY_TO_ONE),
    (ReferralLink, "referrer_reward"): (Transaction, MANY_TO_ONE),
    (ReferralLink, "referred_reward"): (Transaction, MANY_TO_ONE),
}


def _relationship(owner: type, key: str) -> RelationshipProperty:
    return inspect(owner).relationships[key]


def test_relationships_are_the_expected_ones() -> None:
    found = {(mapper.class_, rel.key): (rel.mapper.class_, rel.direction)
             for mapper in Base.registry.mappers for rel in mapper.relationships}
    assert found == RELATIONSHIPS


def test_every_foreign_key_has_a_many_to_one_relationship() -> None:
    foreign_keys = {column for table in Base.metadata.tables.values() for column in table.columns
                    if column.foreign_keys}
    followed = {local for (owner, key), (_, direction) in RELATIONSHIPS.items()
                if direction is MANY_TO_ONE
                for local, _ in _relationship(owner, key).local_remote_pairs}
    assert followed == foreign_keys


@pytest.mark.parametrize(("owner", "key"), list(RELATIONSHIPS),
                         ids=[f"{owner.__name__}.{key}" for owner, key in RELATIONSHIPS])
def test_relationship_follows_its_foreign_key(populated_engine: Engine, owner: type,
                                              key: str) -> None:
    """Load an object that has related rows, walk the relationship, and check that the rows
    reached are the ones the foreign key names, and that the way back leads home."""
    rel = _relationship(owner, key)
    attribute = getattr(owner, key)
    with Session(populated_engine) as session:
        has_related = attribute.any() if rel.uselist else attribute.has()
        source = session.scalars(select(owner).where(has_related).limit(1)).one()
        reached = getattr(source, key)
        related = reached if rel.uselist else [reached]
        assert related, f"{owner.__name__}.{key} reached nothing"
        for target in related:
            assert isinstance(target, rel.mapper.class_)
            for local, remote in rel.local_remote_pairs:
                assert getattr(source, local.key) == getattr(target, remote.key)
            if rel.back_populates:
                back = getattr(target, rel.back_populates)
                assert source in back if isinstance(back, list) else back is source
        # The same rows in SQL, through the foreign key.
        (local, remote), = rel.local_remote_pairs
        expected = session.scalar(select(func.count()).select_from(remote.table)
                                  .where(remote == getattr(source, local.key)))
        assert len(related) == expected


def test_joins_along_the_two_keys_to_customers(populated_engine: Engine) -> None:
    with Session(populated_engine) as session:
        links = session.scalar(select(func.count()).select_from(ReferralLink))
        referrers = session.scalars(select(Customer).join(ReferralLink.referrer)
                                    .where(ReferralLink.id == 1)).all()
        referred = session.scalars(select(Customer).join(ReferralLink.referred)
                                   .where(ReferralLink.id == 1)).all()
        link = session.get(ReferralLink, 1)
        assert [customer.id for customer in referrers] == [link.referrer_id]
        assert [customer.id for customer in referred] == [link.referred_id]
        joined = select(func.count()).select_from(ReferralLink).join(ReferralLink.referred)
        assert session.scalar(joined) == links > 0
        # A reward is a free service of the customer it rewards.
        assert link.referrer_reward.price == 0 and link.referrer_reward.customer is link.referrer
        assert link.referred_reward.price == 0 and link.referred_reward.customer is link.referred


# --- repr -------------------------------------------------------------------------------------


def test_repr_shows_the_columns() -> None:
    customer = Customer(id=7, uuid=GIVEN_UUID, first_name="Ada", last_name="Test",
                        email="ada@example.com", phone="555-0100",
                        registered_on=dt.date(2024, 1, 2))
    assert repr(customer) == (
        f"Customer(id=7, uuid={GIVEN_UUID}, first_name='Ada', last_name='Test', "
        "email='ada@example.com', phone='555-0100', registered_on=2024-01-02)")
    assert repr(Service(category="oil")) == "Service(category='oil')"


def test_repr_of_a_loaded_row_never_loads(populated_engine: Engine) -> None:
    with Session(populated_engine) as session:
        car = session.get(Car, 1)
        assert repr(car) == (f"Car(id=1, customer_id=1, make={car.make!r}, model={car.model!r}, "
                             f"year={car.year}, vin={car.vin!r})")
        session.expire(car, ["vin"])
        assert repr(car) == (f"Car(id=1, customer_id=1, make={car.make!r}, model={car.model!r}, "
                             f"year={car.year})")
        assert "vin" in inspect(car).expired_attributes


# --- the views --------------------------------------------------------------------------------


def test_views_are_mapped_for_reading(populated_engine: Engine) -> None:
    with Session(populated_engine) as session:
        link = session.get(ReferralLink, 1)
        referred, reward = link.referred, link.referred_reward
        [car] = referred.cars
        row = session.get(CustomerListRow, referred.uuid)
        assert (row.date_registered, row.car_make, row.car_model, row.car_year) == (
            referred.registered_on, car.make, car.model, car.year)
        # Booleans on both databases (SQLite's view gives 1 and 0).
        assert (row.recommended_someone, row.is_recommended) == (False, True)
        assert type(row.is_recommended) is bool

        listed = session.get(TransactionListRow, reward.uuid)
        assert (listed.customer_id, listed.transaction_date, listed.field_of_service,
                listed.service, listed.price) == (referred.uuid, reward.transaction_date,
                                                  reward.service.category, reward.service.name, 0)
        customers = session.scalar(select(func.count()).select_from(Customer))
        assert session.scalar(select(func.count()).select_from(CustomerListRow)) == customers


def test_views_refuse_writes(populated_engine: Engine) -> None:
    refusal = {"sqlite": "cannot modify customer_list because it is a view",
               "postgresql": 'cannot insert into view "customer_list"'}
    with Session(populated_engine) as session:
        session.add(CustomerListRow(customer_id=GIVEN_UUID, date_registered=dt.date(2024, 1, 2),
                                    recommended_someone=False, is_recommended=False))
        with pytest.raises(DBAPIError, match=re.escape(refusal[session.bind.dialect.name])):
            session.flush()

