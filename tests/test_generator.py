"""The generated data against the statistical model (the notebook's numbers, see the README).

Tolerances are derived from the model, never from a previous run: every statistic is compared
with its expected value, with a bound of Z standard errors computed analytically (binomial
counts, Poisson visits) for the sample at hand. With Z = 6 a correct generator fails one such
check with probability about 2e-9, so a failure means the model is broken, not bad luck; the
checks hold for any seed, SEED is only fixed to keep the suite reproducible.

The per-run revisit rates U_k ~ Uniform(0.05, 0.35) are unknown to the tests, so the visit
checks bound what the model implies for every possible U_k.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib
import math
import re
import unicodedata

import numpy as np
import pytest
import time_machine
from faker.providers.person.de_DE import Provider as GermanNames
from faker.providers.person.en_US import Provider as AmericanNames

from seeder import bytestrings
from seeder.errors import InvalidArgument
from seeder.formats import csv_lines
from seeder.generator import BLOCK_CUSTOMERS, MAX_CUSTOMERS, Catalog, _vins, generate
from seeder.models import DATA_TABLES
from seeder.scenario import DEFAULT_MAKES, DEFAULT_SERVICES, Scenario

Z = 6.0
SEED = 20240607
CUSTOMERS = 50_000
SCENARIO = Scenario()

START = dt.date(2021, 1, 1)
END = dt.date(2024, 1, 1)
WINDOW = (dt.date(2022, 1, 1), dt.date(2022, 7, 1))  # inclusive
COHORT_STARTS = [dt.date(2021, 1, 1), dt.date(2021, 7, 1), dt.date(2022, 1, 1),
                 dt.date(2022, 7, 1), dt.date(2023, 1, 1), dt.date(2023, 7, 1)]
U_LOW, U_HIGH = 0.05, 0.35
FIRST_MODEL_YEAR, LAST_MODEL_YEAR = 2016, 2023

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
EMAIL = re.compile(r"^([a-z0-9]+)\.([a-z0-9]+?)([0-9]+)@example\.(com|org|net)$")
VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")

# ISO 3779 / 49 CFR 565 check digit, written out independently of the generator's tables.
_VIN_TRANSLITERATION = {
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
    **{str(digit): digit for digit in range(10)},
}
_VIN_WEIGHTS = np.array([8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2])


# --- collecting the generated rows -------------------------------------------------------------


@dataclasses.dataclass
class Dataset:
    """Every generated column, concatenated over batches, per table."""

    tables: dict[str, dict[str, np.ndarray]]
    # Per transaction: a reward transaction created for a referral (not one of the visits).
    created: np.ndarray

    def __getitem__(self, table: str) -> dict[str, np.ndarray]:
        return self.tables[table]


def collect(scenario: Scenario, seed: int, customers: int) -> Dataset:
    parts: dict[str, dict[str, list[np.ndarray]]] = collections.defaultdict(
        lambda: collections.defaultdict(list))
    created: list[np.ndarray] = []
    previous = None
    for batch in generate(customers=customers, seed=seed, scenario=scenario):
        for name, column in batch.columns.items():
            parts[batch.table][name].append(column)
        if batch.table == "transactions":
            # A block's visits come right after its cars; created rewards come after all blocks.
            created.append(np.full(len(batch), previous != "cars"))
        previous = batch.table
    tables = {table.name: {column.name: np.empty(0, dtype=np.int64) for column in table.columns}
              for table in DATA_TABLES}
    for table, columns in parts.items():
        tables[table] = {name: np.concatenate(chunks) for name, chunks in columns.items()}
    return Dataset(tables, np.concatenate(created))


def days(column: np.ndarray) -> np.ndarray:
    return column.astype("datetime64[D]").astype(np.int64)


def day(date: dt.date) -> int:
    return int(np.datetime64(date, "D").astype(np.int64))


def years(day_numbers: np.ndarray) -> np.ndarray:
    return day_numbers.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def text(column: np.ndarray) -> list[str]:
    return bytestrings.decode(column)


def assert_binomial(observed: int, trials: int, p: float, what: str) -> None:
    expected = trials * p
    sd = math.sqrt(trials * p * (1 - p))
    assert abs(observed - expected) <= Z * sd, (
        f"{what}: {observed} of {trials}, expected {expected:.1f} +- {Z * sd:.1f} ({Z} sd)")


def assert_close(observed: float, expected: float, sd: float, what: str) -> None:
    assert abs(observed - expected) <= Z * sd, (
        f"{what}: {observed:.4f}, expected {expected:.4f} +- {Z * sd:.4f} ({Z} sd)")


@dataclasses.dataclass
class View:
    """The dataset with the derived per-row arrays most checks need (0-based indexes)."""

    data: Dataset
    n: int
    registered: np.ndarray  # per customer: day number
    owner: np.ndarray  # per transaction: customer index
    tday: np.ndarray  # per transaction: day number
    service: np.ndarray  # per transaction: service index
    category: np.ndarray  # per service: field of service (bytes)
    price: np.ndarray
    created: np.ndarray
    reward: np.ndarray  # transaction indexes of all rewards (referrers', then referred's)
    rewarded: np.ndarray  # their customers
    since: np.ndarray  # their referred_on

    @property
    def regular(self) -> np.ndarray:
        return ~self.created


def view_of(data: Dataset) -> View:
    links = data["referral_links"]
    on = days(links["referred_on"])
    return View(
        data=data,
        n=len(data["customers"]["id"]),
        registered=days(data["customers"]["registered_on"]),
        owner=data["transactions"]["customer_id"] - 1,
        tday=days(data["transactions"]["transaction_date"]),
        service=data["transactions"]["service_id"] - 1,
        category=data["services"]["category"],
        price=data["transactions"]["price"],
        created=data.created,
        reward=np.concatenate([links["referrer_reward_id"], links["referred_reward_id"]]) - 1,
        rewarded=np.concatenate([links["referrer_id"], links["referred_id"]]) - 1,
        since=np.concatenate([on, on]),
    )


# The second size is large enough for more than one chunk of created rewards and of referral
# links (BLOCK_CUSTOMERS rows each, about 133,000 and 220,000 customers).
SIZES = [CUSTOMERS, 230_000]


@pytest.fixture(scope="module", params=SIZES, ids=lambda size: f"{size}-customers")
def data(request: pytest.FixtureRequest) -> Dataset:
    return collect(SCENARIO, SEED, request.param)


@pytest.fixture(scope="module")
def v(data: Dataset) -> View:
    return view_of(data)


# --- structure ---------------------------------------------------------------------------------


def test_batches_have_the_table_columns_in_order() -> None:
    expected = {table.name: [column.name for column in table.columns] for table in DATA_TABLES}
    seen = set()
    for batch in generate(customers=300, seed=SEED, scenario=SCENARIO):
        assert list(batch.columns) == expected[batch.table], batch.table
        seen.add(batch.table)
    assert seen == set(expected)


def test_ids_are_contiguous_and_every_key_resolves(data: Dataset) -> None:
    for table in DATA_TABLES:
        ids = data[table.name]["id"]
        assert np.array_equal(ids, np.arange(1, len(ids) + 1)), f"{table.name}.id"
    n_customers = len(data["customers"]["id"])
    assert n_customers in SIZES
    # One car per customer.
    cars = data["cars"]
    assert np.array_equal(np.sort(cars["customer_id"]), data["customers"]["id"])

    transactions = data["transactions"]
    for column, table in [("customer_id", "customers"), ("car_id", "cars"),
                          ("service_id", "services")]:
        values = transactions[column]
        assert values.min() >= 1 and values.max() <= len(data[table]["id"]), column
    # The car serviced is the customer's own.
    assert np.array_equal(cars["customer_id"][transactions["car_id"] - 1],
                          transactions["customer_id"])

    links = data["referral_links"]
    assert len(links["id"]) > 0
    for column in ("referrer_id", "referred_id"):
        assert links[column].min() >= 1 and links[column].max() <= n_customers, column
    for column in ("referrer_reward_id", "referred_reward_id"):
        assert links[column].min() >= 1
        assert links[column].max() <= len(transactions["id"]), column


def test_services_table_is_the_scenario_price_list(data: Dataset) -> None:
    services = data["services"]
    rows = list(zip(text(services["category"]), text(services["name"]),
                    services["min_price"].tolist(), services["max_price"].tolist(), strict=True))
    assert rows == [(field, name, low, high) for field, priced in DEFAULT_SERVICES.items()
                    for name, (low, high) in priced.items()]


# --- registrations and visits ------------------------------------------------------------------


def test_registration_dates_are_uniform_over_the_span(v: View) -> None:
    assert v.registered.min() >= day(START)
    assert v.registered.max() < day(END)
    span = day(END) - day(START)
    registration_years = years(v.registered)
    for year in (2021, 2022, 2023):
        length = day(dt.date(year + 1, 1, 1)) - day(dt.date(year, 1, 1))
        assert_binomial(int((registration_years == year).sum()), v.n, length / span,
                        f"registrations in {year}")
    bounds = [*COHORT_STARTS, END]
    for low, high in zip(bounds, bounds[1:], strict=False):
        inside = int(((v.registered >= day(low)) & (v.registered < day(high))).sum())
        assert_binomial(inside, v.n, (day(high) - day(low)) / span, f"registrations {low}..")


def test_first_transaction_on_registration_day_later_visits_after_it(v: View) -> None:
    registered = v.registered[v.owner]
    # Nothing before registration, nothing after the end of the span (inclusive).
    assert (v.tday >= registered).all()
    assert (v.tday <= day(END)).all()
    # Exactly one visit on the registration day (later visits start the day after).
    on_registration = v.regular & (v.tday == registered)
    assert np.array_equal(np.bincount(v.owner[on_registration], minlength=v.n), np.ones(v.n))

    # Later visits are uniform over [registration + 1, END]: offset / M is uniform on
    # {0, 1/M, ..., 1}, mean 1/2, variance (M + 2) / (12 M), where M = END - registration - 1.
    later = v.regular & (v.tday > registered)
    room = day(END) - registered[later] - 1
    usable = room > 0
    u = (v.tday[later] - registered[later] - 1)[usable] / room[usable]
    variance = ((room[usable] + 2) / (12 * room[usable])).sum() / usable.sum() ** 2
    assert_close(float(u.mean()), 0.5, math.sqrt(variance), "mean relative later-visit date")


def _later_visits_by_cohort(v: View) -> list[np.ndarray]:
    later = np.bincount(v.owner[v.regular], minlength=v.n) - 1
    cohort = np.searchsorted([day(start) for start in COHORT_STARTS], v.registered,
                             side="right") - 1
    return [later[cohort == c] for c in range(len(COHORT_STARTS))]


def test_later_visits_per_cohort_follow_the_revisit_model(v: View) -> None:
    """Cohort c has Poisson(lambda_c) later visits, lambda_c = sum of U_k for k >= c, so the
    cohort means decrease by U_c in [0.05, 0.35] and the last cohort's mean is in that range."""
    cohorts = _later_visits_by_cohort(v)
    k = len(cohorts)
    means = [float(visits.mean()) for visits in cohorts]
    # Largest possible lambda per cohort: the standard errors use it, so they are upper bounds.
    lambda_max = [(k - c) * U_HIGH for c in range(k)]
    se = [math.sqrt(lambda_max[c] / len(cohorts[c])) for c in range(k)]
    for c in range(k):
        assert len(cohorts[c]) > 1000
        assert (k - c) * U_LOW - Z * se[c] <= means[c] <= lambda_max[c] + Z * se[c], (
            f"cohort {c}: mean later visits {means[c]:.3f} outside "
            f"[{(k - c) * U_LOW}, {lambda_max[c]}]")
    for c in range(k - 1):
        step = means[c] - means[c + 1]
        sd = math.hypot(se[c], se[c + 1])
        assert step >= -Z * sd, f"cohort {c + 1} revisits more than cohort {c}: {means}"
        assert U_LOW - Z * sd <= step <= U_HIGH + Z * sd, (
            f"U_{c} estimate {step:.3f} (cohort {c} minus cohort {c + 1}) outside "
            f"[{U_LOW}, {U_HIGH}]: means {means}")


def test_later_visits_within_a_cohort_are_poisson(v: View) -> None:
    for c, visits in enumerate(_later_visits_by_cohort(v)):
        n = len(visits)
        lam_max = (len(COHORT_STARTS) - c) * U_HIGH
        mean = float(visits.mean())
        # Poisson: variance == mean. Var(s^2 - mean) ~ 2 lambda^2 / n.
        assert_close(float(visits.var(ddof=1)), mean, lam_max * math.sqrt(2 / n),
                     f"cohort {c}: variance of later visits vs its mean")
        # Poisson: P(0) == exp(-mean); sd of the difference is below sqrt(1 / (4 n)).
        assert_close(float((visits == 0).mean()), math.exp(-mean), math.sqrt(0.25 / n),
                     f"cohort {c}: share without a later visit vs exp(-mean)")


# --- services and prices -----------------------------------------------------------------------


def test_fields_and_services_are_uniform(v: View) -> None:
    fields = list(DEFAULT_SERVICES)
    names = text(v.data["services"]["name"])
    categories = text(v.category)
    visits = v.service[v.regular]
    n = len(visits)
    per_service = np.bincount(visits, minlength=len(names))
    for field in fields:
        members = [i for i, c in enumerate(categories) if c == field]
        in_field = int(per_service[members].sum())
        assert_binomial(in_field, n, 1 / len(fields), f"visits in field {field}")
        for i in members:
            assert_binomial(int(per_service[i]), in_field, 1 / len(members),
                            f"{field}/{names[i]} within its field")

    # The created rewards are extra oil changes, synthetic or regular with equal chances.
    created = v.service[v.created]
    assert len(created) > 0
    assert {categories[i] for i in np.unique(created)} == {"oil"}
    synthetic = names.index("synth_change")
    assert_binomial(int((created == synthetic).sum()), len(created), 0.5,
                    "synthetic created oil changes")
    # So the oil share over all transactions is exactly the visits' plus the created ones.
    oil = np.array([c == "oil" for c in categories])
    assert int(oil[v.service].sum()) == int(oil[visits].sum()) + len(created)


def _extreme_gap_allowed(n: int, width: int, p_fail: float = 1e-9) -> int:
    """The largest gap between a bound and the most extreme of n uniform draws over `width`
    values that a correct generator shows with probability above p_fail:
    P(gap > g) = (1 - (g + 1) / width) ** n."""
    gap = 0
    while (1 - (gap + 1) / width) ** n > p_fail:
        gap += 1
    return gap


def test_prices_are_uniform_within_each_service_range(v: View) -> None:
    services = v.data["services"]
    low, high = services["min_price"], services["max_price"]
    assert (low > 0).all(), "a price range includes 0, so rewards could not be told apart"
    is_reward = np.zeros(len(v.price), dtype=bool)
    is_reward[v.reward] = True
    assert (v.price[is_reward] == 0).all()
    paid = ~is_reward
    assert (v.price[paid] >= low[v.service[paid]]).all()
    assert (v.price[paid] <= high[v.service[paid]]).all()

    names = text(services["name"])
    for s, name in enumerate(names):
        prices = v.price[paid & (v.service == s)]
        n, width = len(prices), int(high[s] - low[s] + 1)
        # Both bounds are reached, except where the sample is too small for the range to be
        # sure of it (at 50,000 customers e.g. engine/rebuild: ~3,300 draws over 1,501
        # values); there the most extreme prices lie within the gap the model allows.
        gap = _extreme_gap_allowed(n, width)
        assert prices.min() - low[s] <= gap, f"{name}: lowest price {prices.min()} of {n}"
        assert high[s] - prices.max() <= gap, f"{name}: highest price {prices.max()} of {n}"
        # Uniform integers over [low, high]: mean (low + high) / 2, variance (width^2 - 1) / 12.
        assert_close(float(prices.mean()), (low[s] + high[s]) / 2,
                     math.sqrt((width**2 - 1) / 12 / n), f"{name}: mean price")


def test_only_reward_transactions_are_free(v: View) -> None:
    assert np.array_equal(np.flatnonzero(v.price == 0), np.sort(v.reward))


# --- cars --------------------------------------------------------------------------------------


def test_makes_and_models_are_uniform(data: Dataset) -> None:
    cars = data["cars"]
    makes, models = np.array(text(cars["make"])), np.array(text(cars["model"]))
    n = len(makes)
    assert set(makes) == set(DEFAULT_MAKES)
    for make, make_models in DEFAULT_MAKES.items():
        of_make = makes == make
        assert_binomial(int(of_make.sum()), n, 1 / len(DEFAULT_MAKES), f"make {make}")
        assert set(models[of_make]) == set(make_models), make
        for model in make_models:
            assert_binomial(int((models[of_make] == model).sum()), int(of_make.sum()),
                            1 / len(make_models), f"{make} {model}")


def test_model_years_uniform_and_never_after_registration_year_plus_one(v: View) -> None:
    car_year = v.data["cars"]["year"]
    car_of_customer = np.empty(v.n, dtype=np.int64)
    car_of_customer[v.data["cars"]["customer_id"] - 1] = np.arange(len(car_year))
    year = car_year[car_of_customer]
    registration_year = years(v.registered)
    assert year.min() >= FIRST_MODEL_YEAR and year.max() <= LAST_MODEL_YEAR
    assert (year <= registration_year + 1).all()
    for ry in np.unique(registration_year):
        newest = min(LAST_MODEL_YEAR, int(ry) + 1)
        group = year[registration_year == ry]
        choices = newest - FIRST_MODEL_YEAR + 1
        for y in range(FIRST_MODEL_YEAR, newest + 1):
            assert_binomial(int((group == y).sum()), len(group), 1 / choices,
                            f"model year {y} among cars of customers registered in {ry}")


def test_no_car_serviced_before_its_model_year_minus_one(data: Dataset, v: View) -> None:
    car_year = data["cars"]["year"][data["transactions"]["car_id"] - 1]
    assert (years(v.tday) >= car_year - 1).all()


def test_vins_are_valid_and_unique(data: Dataset) -> None:
    vins = text(data["cars"]["vin"])
    assert len(set(vins)) == len(vins)
    assert all(VIN.match(vin) for vin in vins), [vin for vin in vins if not VIN.match(vin)][:5]
    lookup = np.zeros(256, dtype=np.int64)
    for char, value in _VIN_TRANSLITERATION.items():
        lookup[ord(char)] = value
    matrix = bytestrings.as_matrix(data["cars"]["vin"].astype("S17"))
    remainder = (lookup[matrix] * _VIN_WEIGHTS).sum(axis=1) % 11
    expected = np.where(remainder == 10, ord("X"), ord("0") + remainder)
    bad = np.flatnonzero(matrix[:, 8] != expected)
    assert len(bad) == 0, [vins[i] for i in bad[:5]]


def test_vins_stay_valid_and_unique_past_a_million_cars() -> None:
    """The serial part holds six digits; ids beyond 10**6 carry on in positions 8 and 11."""
    catalog = Catalog(SCENARIO)
    ids = np.array([1, 999_999, 1_000_000, 1_000_001, 1_000_002, 2_000_001, 33_000_000,
                    33_000_001, 500_000_000, MAX_CUSTOMERS - 1, MAX_CUSTOMERS])
    zeros = np.zeros(len(ids), dtype=np.int64)
    vins = _vins(catalog, ids, zeros, zeros, np.full(len(ids), 2020))
    texts = text(vins)
    assert len(set(texts)) == len(texts), texts
    assert all(VIN.match(vin) for vin in texts), texts
    lookup = np.zeros(256, dtype=np.int64)
    for char, value in _VIN_TRANSLITERATION.items():
        lookup[ord(char)] = value
    matrix = bytestrings.as_matrix(vins.astype("S17"))
    remainder = (lookup[matrix] * _VIN_WEIGHTS).sum(axis=1) % 11
    assert np.array_equal(matrix[:, 8], np.where(remainder == 10, ord("X"), ord("0") + remainder))


# --- referrals and rewards ---------------------------------------------------------------------


def test_referral_links_pair_window_customers(v: View) -> None:
    links = v.data["referral_links"]
    referrer, referred = links["referrer_id"] - 1, links["referred_id"] - 1
    w0, w1 = day(WINDOW[0]), day(WINDOW[1])
    in_window = (v.tday >= w0) & (v.tday <= w1)
    active = np.unique(v.owner[in_window])

    assert len(referrer) == int(SCENARIO.referral.share * len(active))
    assert np.isin(referrer, active).all()
    assert len(np.unique(referrer)) == len(referrer)
    assert len(np.unique(referred)) == len(referred)
    assert (referrer != referred).all()
    assert len(np.intersect1d(referrer, referred)) == 0, "a customer both referred and referrer"

    # The referred registered inside the window, on or after their referrer's first visit there.
    assert ((v.registered[referred] >= w0) & (v.registered[referred] <= w1)).all()
    first_in_window = np.full(v.n, np.iinfo(np.int64).max)
    np.minimum.at(first_in_window, v.owner[in_window], v.tday[in_window])
    assert (v.registered[referred] >= first_in_window[referrer]).all()
    assert np.array_equal(days(links["referred_on"]), v.registered[referred])

    # Referrers are a uniform sample of the active customers: returning customers and new
    # ones (registered in the window) are both picked at the scenario's share.
    is_referrer = np.zeros(v.n, dtype=bool)
    is_referrer[referrer] = True
    for name, group in [("returning", active[v.registered[active] < w0]),
                        ("new", active[v.registered[active] >= w0])]:
        assert_binomial(int(is_referrer[group].sum()), len(group), SCENARIO.referral.share,
                        f"referrers among {name} active customers")


def test_rewards_are_each_sides_first_oil_change_since_the_referral(v: View) -> None:
    oil = np.array([c == b"oil" for c in v.category])[v.service]
    # Each reward: the rewarded customer's transaction, an oil change, free, not before referral.
    assert np.array_equal(v.owner[v.reward], v.rewarded)
    assert oil[v.reward].all()
    assert (v.price[v.reward] == 0).all()
    assert (v.tday[v.reward] >= v.since).all()
    assert len(np.unique(v.reward)) == len(v.reward)

    # ... and their earliest oil change on or after referred_on.
    since = np.full(v.n, np.iinfo(np.int64).max)
    since[v.rewarded] = v.since
    eligible = oil & (v.tday >= since[v.owner])
    earliest = np.full(v.n, np.iinfo(np.int64).max)
    np.minimum.at(earliest, v.owner[eligible], v.tday[eligible])
    assert np.array_equal(v.tday[v.reward], earliest[v.rewarded])

    # Created rewards: for exactly the rewarded customers without an oil-change visit since
    # referred_on, dated strictly after it, numbered after every visit.
    created = np.flatnonzero(v.created)
    assert np.array_equal(created, np.arange(len(v.price) - len(created), len(v.price)))
    assert np.isin(created, v.reward).all()
    assert (v.tday[created] > since[v.owner[created]]).all()
    had_visit = np.zeros(v.n, dtype=bool)
    had_visit[v.owner[eligible & v.regular]] = True
    assert np.array_equal(np.sort(v.owner[created]), np.sort(v.rewarded[~had_visit[v.rewarded]]))
    # Both kinds occur at this size.
    assert 0 < len(created) < len(v.reward)


def test_the_large_size_spans_several_reward_and_link_chunks(data: Dataset) -> None:
    large = len(data["customers"]["id"]) > 200_000
    assert (data.created.sum() > BLOCK_CUSTOMERS) == large
    assert (len(data["referral_links"]["id"]) > BLOCK_CUSTOMERS) == large


# --- people ------------------------------------------------------------------------------------


def _slug(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum()) or "customer"


def test_uuids_are_unique_canonical_version_4(data: Dataset) -> None:
    for table in ("customers", "transactions"):
        uuids = text(bytestrings.uuid_text(data[table]["uuid"]))
        assert len(set(uuids)) == len(uuids), table
        bad = [u for u in uuids if not UUID4.match(u)]
        assert not bad, (table, bad[:5])


def test_emails_are_unique_and_built_from_the_names(data: Dataset) -> None:
    customers = data["customers"]
    emails = text(customers["email"])
    assert len(set(emails)) == len(emails)
    for email, first, last in zip(emails, text(customers["first_name"]),
                                  text(customers["last_name"]), strict=True):
        assert EMAIL.match(email), email
        assert email.startswith(f"{_slug(first)}.{_slug(last)}"), (email, first, last)


def _assert_people_look_real(customers: dict[str, np.ndarray], min_digits: int = 10) -> None:
    for column in ("first_name", "last_name"):
        values = text(customers[column])
        assert all(value.strip() for value in values), column
        # Realistic: many different names, not one placeholder.
        assert len(set(values)) > min(100, len(values) // 10), column
    phones = text(customers["phone"])
    short = [p for p in phones if sum(ch.isdigit() for ch in p) < min_digits]
    assert not short, short[:5]
    assert len(set(phones)) > len(phones) * 0.99


def test_names_and_phones_look_real(data: Dataset) -> None:
    _assert_people_look_real(data["customers"])


def test_faker_locale_comes_from_the_scenario() -> None:
    data = collect(Scenario(locale="de_DE"), SEED, 2_000)
    customers = data["customers"]
    _assert_people_look_real(customers)
    emails = text(customers["email"])
    assert all(email.isascii() and EMAIL.match(email) for email in emails), emails[:5]
    last_names = set(text(customers["last_name"]))
    assert last_names <= set(GermanNames.last_names)
    assert not last_names <= set(AmericanNames.last_names)


@pytest.mark.filterwarnings("ignore:fr_QC locale is deprecated")
def test_every_faker_locale_generates_data_the_schema_accepts() -> None:
    """A scenario may name any locale Faker knows; each must generate (or be rejected by
    load_scenario), with values inside the schema's column sizes."""
    from faker.config import AVAILABLE_LOCALES

    failures = {}
    for locale in AVAILABLE_LOCALES:
        try:
            customers = collect(Scenario(locale=locale), SEED, 50)["customers"]
        except Exception as error:  # report every failing locale at once
            failures[locale] = f"{type(error).__name__}: {error}"
            continue
        lengths = {"first_name": 100, "last_name": 100, "email": 255, "phone": 40}
        for column, limit in lengths.items():
            values = text(customers[column])
            if not all(0 < len(value) <= limit for value in values):
                failures[locale] = f"{column} empty or longer than {limit}"
        if not all(email.isascii() for email in text(customers["email"])):
            failures[locale] = "non-ASCII email"
    assert not failures, f"locales that fail: {failures}"


# --- determinism -------------------------------------------------------------------------------


def _csv_digests(batches) -> dict[str, str]:
    digests = collections.defaultdict(hashlib.sha256)
    for batch in batches:
        digests[batch.table].update(csv_lines(batch))
    return {table: digest.hexdigest() for table, digest in digests.items()}


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    first = _csv_digests(generate(customers=3_000, seed=7, scenario=SCENARIO))
    assert _csv_digests(generate(customers=3_000, seed=7, scenario=SCENARIO)) == first
    other = _csv_digests(generate(customers=3_000, seed=8, scenario=SCENARIO))
    assert other["services"] == first["services"]  # the price list is not random
    for table in ("customers", "cars", "transactions", "referral_links"):
        assert other[table] != first[table], table


def test_rows_do_not_depend_on_the_wall_clock() -> None:
    """Every clock Python offers (time.time, datetime.now, date.today, ...) moved 10 years."""
    reference = _csv_digests(generate(customers=3_000, seed=7, scenario=SCENARIO))
    with time_machine.travel(dt.datetime(2036, 2, 29, 23, 59, tzinfo=dt.UTC), tick=False):
        assert dt.date.today() == dt.date(2036, 2, 29)
        assert _csv_digests(generate(customers=3_000, seed=7, scenario=SCENARIO)) == reference


# --- shards ------------------------------------------------------------------------------------


def _lines_by_table(batches) -> dict[str, list[bytes]]:
    """Every row as its CSV line, per table, in id order."""
    lines: dict[str, list[tuple[int, bytes]]] = collections.defaultdict(list)
    for batch in batches:
        encoded = csv_lines(batch).splitlines()
        lines[batch.table] += zip(batch.columns["id"].tolist(), encoded, strict=True)
    return {table: [line for _, line in sorted(rows)] for table, rows in lines.items()}


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_the_union_of_the_shards_is_the_dataset(count: int) -> None:
    customers = 4 * BLOCK_CUSTOMERS + 1_234  # five blocks: seven shards leave some empty
    whole = _lines_by_table(generate(customers=customers, seed=SEED))
    union: dict[str, list[bytes]] = collections.defaultdict(list)
    for index in range(1, count + 1):
        part = _lines_by_table(generate(customers=customers, seed=SEED, shard=(index, count)))
        assert index == 1 or "services" not in part  # the price list is shard 1's
        for table, lines in part.items():
            union[table] += lines
    assert {table: sorted(lines) for table, lines in union.items()} == \
        {table: sorted(lines) for table, lines in whole.items()}
    assert sum(map(len, union.values())) == sum(map(len, whole.values()))  # no row twice


def test_a_shard_holds_its_customers_rewards_and_the_links_they_were_referred_by() -> None:
    customers = 3 * BLOCK_CUSTOMERS
    part: dict[str, list] = collections.defaultdict(list)
    for batch in generate(customers=customers, seed=SEED, shard=(2, 3)):
        part[batch.table].append(batch)
    own = range(BLOCK_CUSTOMERS + 1, 2 * BLOCK_CUSTOMERS + 1)
    for table, column in [("customers", "id"), ("cars", "customer_id"),
                          ("transactions", "customer_id"), ("referral_links", "referred_id")]:
        values = np.concatenate([batch.columns[column] for batch in part[table]])
        assert values.min() >= own.start and values.max() < own.stop, table


@pytest.mark.parametrize("shard", [(0, 2), (3, 2), (1, 0)])
def test_a_shard_out_of_range_is_an_invalid_argument(shard: tuple[int, int]) -> None:
    with pytest.raises(InvalidArgument, match="^shard must be K/N with 1 <= K <= N"):
        generate(customers=10, seed=1, shard=shard)
