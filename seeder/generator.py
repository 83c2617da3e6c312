"""The notebook's statistical model as a deterministic, streaming NumPy generator.

Nothing here touches a database. `generate()` yields batches of rows per table, in foreign-key
order, with integer keys assigned here.

Randomness is derived from the seed per purpose and per fixed block of customers, never from
one sequential stream, so a block's rows depend only on (seed, scenario, block number): blocks
could be generated in parallel and the data does not depend on any batch size. Two passes run
over the blocks: the first (cheap) draws registrations and visit dates only, to find who is
active in the referral window and how many transactions each block has; referrals are paired
globally from that bookkeeping (8 bytes for each customer seen in the window, nothing for
the others); the second pass regenerates each block
with every detail and streams it out. Reward transactions that have to be created, and the
referral links that point at them, come last.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import unicodedata
from collections.abc import Iterator
from enum import IntEnum

import numpy as np

from seeder import bytestrings
from seeder.scenario import Scenario

# Bump whenever the generated data changes for the same seed and scenario.
GENERATOR_VERSION = "1"
# Customers per block: part of the data's definition, unrelated to any batch size.
BLOCK_CUSTOMERS = 10_000

_EPOCH = dt.date(1970, 1, 1)
# VIN characters (no I, O, Q) and their check-digit values (ISO 3779 / 49 CFR 565).
_VIN_ALPHABET = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_VIN_VALUES = np.zeros(256, dtype=np.int64)
for _char, _value in zip(b"ABCDEFGHJKLMNPRSTUVWXYZ", [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9,
                                                      2, 3, 4, 5, 6, 7, 8, 9], strict=True):
    _VIN_VALUES[_char] = _value
_VIN_VALUES[ord("0"):ord("9") + 1] = np.arange(10)
_VIN_WEIGHTS = np.array([8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2])
_VIN_YEAR_CODES = b"ABCDEFGHJKLMNPRSTVWXY123456789"  # 1980, 1981, ... repeating every 30 years
# World manufacturer identifiers of the notebook's makes; other makes get one from their name.
_WMI = {"Hyundai": b"KMH", "Honda": b"1HG", "Volkswagen": b"WVW", "BMW": b"WBA",
        "Volvo": b"YV1", "Ford": b"1FA"}


class _Stream(IntEnum):
    """Independent random streams, each keyed by (seed, stream, block)."""

    RUN = 0
    PLAN = 1
    DETAIL = 2
    REFERRAL = 3
    REWARD = 4


def _rng(seed: int, stream: _Stream, block: int = 0) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(int(stream), block)))
    )


@dataclasses.dataclass(frozen=True)
class Batch:
    """Rows of one table: a NumPy array per column, in the table's column order.

    Integers are int64, dates datetime64[D], text UTF-8 `S` arrays, UUIDs 16-byte `V16`
    values (each encoding writes them as text or raw bytes, as its target wants).
    """

    table: str
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def slice(self, start: int, stop: int) -> Batch:
        """Rows start..stop-1 of this batch."""
        return Batch(self.table, {name: col[start:stop] for name, col in self.columns.items()})


def rebatch(batches: Iterator[Batch], size: int) -> Iterator[Batch]:
    """The same rows in batches of at most `size` rows."""
    for batch in batches:
        for start in range(0, len(batch), size):
            yield batch.slice(start, start + size)


def _day(date: dt.date) -> int:
    return (date - _EPOCH).days


def _dates(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]")


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _choice_probabilities(pool) -> tuple[list[str], np.ndarray | None]:
    """Faker keeps some name lists as {name: weight}, others as plain sequences."""
    if isinstance(pool, dict):
        weights = np.array(list(pool.values()), dtype=np.float64)
        return list(pool), weights / weights.sum()
    return list(pool), None


class _Catalog:
    """Everything derived once from the scenario: day numbers, lookup tables, Faker pools."""

    def __init__(self, scenario: Scenario) -> None:
        from faker import Faker  # imported here: it is only needed to build the pools

        self.scenario = scenario
        self.start_day = _day(scenario.start)
        self.end_day = _day(scenario.end)
        self.window = (_day(scenario.referral.start), _day(scenario.referral.end))
        cohort_starts = []
        month = 0
        while (start := _add_months(scenario.start, month)) < scenario.end:
            cohort_starts.append(_day(start))
            month += scenario.cohort_months
        self.cohort_starts = np.array(cohort_starts)

        makes = list(scenario.makes)
        self.make_names = bytestrings.encode(makes)
        self.model_counts = np.array([len(scenario.makes[m]) for m in makes])
        self.model_offsets = np.cumsum(self.model_counts) - self.model_counts
        models = [model for make in makes for model in scenario.makes[make]]
        self.model_names = bytestrings.encode(models)
        self.wmi = np.array([list(_WMI.get(m) or _derived_wmi(m)) for m in makes], dtype=np.uint8)
        self.vds = np.array([list(_derived_code(model, 4)) for model in models], dtype=np.uint8)

        fields = list(scenario.services)
        self.service_rows = [(field, name, low, high) for field in fields
                             for name, (low, high) in scenario.services[field].items()]
        self.service_counts = np.array([len(scenario.services[f]) for f in fields])
        self.service_offsets = np.cumsum(self.service_counts) - self.service_counts
        self.min_price = np.array([row[2] for row in self.service_rows])
        self.max_price = np.array([row[3] for row in self.service_rows])
        reward_field = fields.index(scenario.referral.reward_field)
        self.reward_services = self.service_offsets[reward_field] + np.arange(
            self.service_counts[reward_field])
        self.is_reward_service = np.zeros(len(self.service_rows), dtype=bool)
        self.is_reward_service[self.reward_services] = True

        fake = Faker(scenario.locale)
        person = _provider(fake, "person")
        first, self.first_p = _choice_probabilities(person.first_names)
        last, self.last_p = _choice_probabilities(person.last_names)
        self.first_names = bytestrings.encode(first)
        self.last_names = bytestrings.encode(last)
        self.first_slugs = bytestrings.encode([_ascii_slug(n) or "customer" for n in first])
        self.last_slugs = bytestrings.encode([_ascii_slug(n) or "customer" for n in last])
        self.domains = bytestrings.encode(_provider(fake, "internet").safe_domain_names)
        formats = [f for f in getattr(_provider(fake, "phone_number"), "formats", ())
                   if not any(mark in f for mark in ("{", "!", "@", "^"))]
        # Some locales (en_PH) build numbers in code, not from formats; they get a plain one.
        self.phone_formats = [f.encode() for f in formats or ["###-###-####"]]


def _add_months(date: dt.date, months: int) -> dt.date:
    years, month = divmod(date.month - 1 + months, 12)
    year = date.year + years
    return dt.date(year, month + 1, min(date.day, calendar.monthrange(year, month + 1)[1]))


def _provider(fake, name: str):
    return next(p for p in fake.get_providers() if p.__provider__ == f"faker.providers.{name}")


def _derived_code(text: str, length: int) -> bytes:
    """A stable string of VIN characters derived from a name (no hash randomisation)."""
    value = int.from_bytes(text.encode(), "little") * 2654435761 + len(text)
    out = bytearray()
    for _ in range(length):
        value, index = divmod(value, len(_VIN_ALPHABET))
        out.append(_VIN_ALPHABET[index])
    return bytes(out)


def _derived_wmi(make: str) -> bytes:
    letters = bytes(c for c in make.upper().encode() if c in _VIN_ALPHABET[:23])
    return (letters + _derived_code(make, 3))[:3]


def _plan_block(catalog: _Catalog, revisit: np.ndarray, seed: int, block: int,
                customers: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Registration days, and every transaction's (owner, day) sorted by owner then day."""
    rng = _rng(seed, _Stream.PLAN, block)
    registered = catalog.start_day + rng.integers(0, catalog.end_day - catalog.start_day,
                                                  customers)
    cohort = np.searchsorted(catalog.cohort_starts, registered, side="right") - 1
    later = rng.poisson(revisit[cohort])
    later_owner = np.repeat(np.arange(customers), later)
    later_day = rng.integers(registered[later_owner] + 1, catalog.end_day + 1)
    owner = np.concatenate([np.arange(customers), later_owner])
    day = np.concatenate([registered, later_day])
    order = np.lexsort((day, owner))
    return registered, owner[order], day[order]


@dataclasses.dataclass
class _WindowCustomers:
    """The only bookkeeping kept across blocks: who is active in the referral window (and the
    day of their first visit there), and who registered inside it (and when). Ids ascend."""

    active: list[np.ndarray] = dataclasses.field(default_factory=list)
    first_visit: list[np.ndarray] = dataclasses.field(default_factory=list)
    new: list[np.ndarray] = dataclasses.field(default_factory=list)
    registered: list[np.ndarray] = dataclasses.field(default_factory=list)

    def add_block(self, catalog: _Catalog, first_index: int, registered: np.ndarray,
                  owner: np.ndarray, day: np.ndarray) -> None:
        start, end = catalog.window
        inside = (day >= start) & (day <= end)
        owners, first = np.unique(owner[inside], return_index=True)
        self.active.append((first_index + owners).astype(np.int32))
        self.first_visit.append(day[inside][first].astype(np.int32))
        new = np.flatnonzero((registered >= start) & (registered <= end))
        self.new.append((first_index + new).astype(np.int32))
        self.registered.append(registered[new].astype(np.int32))


@dataclasses.dataclass
class _Referrals:
    """Referral pairs (0-based customer indexes) and each rewarded customer's reward."""

    referrer: np.ndarray
    referred: np.ndarray
    day: np.ndarray  # referred_on: the referred customer's registration day
    rewarded: np.ndarray  # sorted customer indexes of both sides
    rewarded_from: np.ndarray  # the day from which their free service counts
    reward_id: np.ndarray  # transaction id of their reward, 0 until known

    def reward_of(self, customers: np.ndarray) -> np.ndarray:
        return self.reward_id[np.searchsorted(self.rewarded, customers)]


def _pair_referrals(catalog: _Catalog, seed: int, window: _WindowCustomers) -> _Referrals:
    """Pick the referrers among window-active customers and pair each with a new customer.

    A referred customer registered inside the window, on or after the day of its referrer's
    first visit there, and recommended no one. Days are walked from the last to the first, so
    each referrer draws from every candidate still free that registered on or after its visit;
    a referrer left without one recommends no one. That happens only when the window's new
    customers run out: in tiny datasets, or with a share far above the default.
    """
    rng = _rng(seed, _Stream.REFERRAL)
    active, first_visit = np.concatenate(window.active), np.concatenate(window.first_visit)
    new, registered = np.concatenate(window.new), np.concatenate(window.registered)
    referrers = np.sort(rng.choice(active, int(len(active) * catalog.scenario.referral.share),
                                   replace=False))
    referrer_days = first_visit[np.searchsorted(active, referrers)]
    order = np.argsort(referrer_days, kind="stable")
    referrers, referrer_days = referrers[order], referrer_days[order]
    free = ~np.isin(new, referrers)
    candidates, candidate_days = new[free], registered[free]
    order = np.argsort(candidate_days, kind="stable")
    candidates, candidate_days = candidates[order], candidate_days[order]

    start, end = catalog.window
    pool = np.empty(0, dtype=np.int64)
    pairs_from, pairs_to = [], []
    for day in range(end, start - 1, -1):
        lo, hi = np.searchsorted(candidate_days, [day, day + 1])
        pool = np.concatenate([pool, candidates[lo:hi]])
        lo, hi = np.searchsorted(referrer_days, [day, day + 1])
        wanted = min(hi - lo, len(pool))
        if wanted:
            picked = rng.choice(len(pool), wanted, replace=False)
            pairs_from.append(referrers[lo:lo + wanted])
            pairs_to.append(pool[picked])
            pool = np.delete(pool, picked)
    referrer = np.concatenate(pairs_from or [np.empty(0)]).astype(np.int64)
    referred = np.concatenate(pairs_to or [np.empty(0)]).astype(np.int64)
    day = registered[np.searchsorted(new, referred)].astype(np.int64)
    order = np.lexsort((referred, day))
    referrer, referred, day = referrer[order], referred[order], day[order]

    rewarded = np.concatenate([referrer, referred])
    rewarded_from = np.concatenate([day, day])
    order = np.argsort(rewarded)
    return _Referrals(referrer, referred, day, rewarded[order], rewarded_from[order],
                      np.zeros(len(rewarded), dtype=np.int64))


def _uuids(rng: np.random.Generator, count: int) -> np.ndarray:
    """Random version-4 UUIDs as 16-byte values."""
    raw = rng.integers(0, 256, (count, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw.view("V16").ravel()


def _phones(catalog: _Catalog, rng: np.random.Generator, count: int) -> np.ndarray:
    """Phone numbers in the locale's formats: '#' any digit, '%' 1-9, '$' 2-9."""
    chosen = rng.integers(0, len(catalog.phone_formats), count)
    width = max(len(f) for f in catalog.phone_formats)
    digits = rng.random((count, width))
    out = np.zeros((count, width), dtype=np.uint8)
    for index, template in enumerate(catalog.phone_formats):
        rows = np.flatnonzero(chosen == index)
        matrix = np.tile(np.frombuffer(template, dtype=np.uint8), (len(rows), 1))
        for mark, low in ((b"#", 0), (b"%", 1), (b"$", 2)):
            columns = [i for i, c in enumerate(template) if c == mark[0]]
            if columns:
                drawn = low + (digits[np.ix_(rows, columns)] * (10 - low)).astype(np.uint8)
                matrix[:, columns] = ord("0") + drawn
        out[rows, : len(template)] = matrix
    return bytestrings.from_matrix(out)


def _vins(catalog: _Catalog, car_ids: np.ndarray, make: np.ndarray, model: np.ndarray,
          year: np.ndarray) -> np.ndarray:
    """Realistic VINs: the make's WMI, a per-model descriptor, a valid check digit, the model
    year code, and the car id spread over positions 8, 11 and 12-17 (so unique by construction
    up to 33 * 33 * 10**6 cars)."""
    serial, high = (car_ids - 1) % 10**6, (car_ids - 1) // 10**6
    alphabet = np.frombuffer(_VIN_ALPHABET, dtype=np.uint8)
    vin = np.empty((len(car_ids), 17), dtype=np.uint8)
    vin[:, 0:3] = catalog.wmi[make]
    vin[:, 3:7] = catalog.vds[model]
    vin[:, 7] = alphabet[high // 33 % 33]
    vin[:, 9] = np.frombuffer(_VIN_YEAR_CODES, dtype=np.uint8)[(year - 1980) % 30]
    vin[:, 10] = alphabet[high % 33]
    vin[:, 11:17] = ord("0") + serial[:, None] // 10 ** np.arange(5, -1, -1) % 10
    vin[:, 8] = ord("0")
    check = (_VIN_VALUES[vin] * _VIN_WEIGHTS).sum(axis=1) % 11
    vin[:, 8] = np.where(check == 10, ord("X"), ord("0") + check)
    return bytestrings.from_matrix(vin)


def _services_batch(catalog: _Catalog) -> Batch:
    rows = catalog.service_rows
    return Batch("services", {
        "id": np.arange(1, len(rows) + 1),
        "category": bytestrings.encode([row[0] for row in rows]),
        "name": bytestrings.encode([row[1] for row in rows]),
        "min_price": catalog.min_price,
        "max_price": catalog.max_price,
    })


def _block_batches(catalog: _Catalog, revisit: np.ndarray, referrals: _Referrals, seed: int,
                   block: int, first_id: int, count: int, first_transaction_id: int
                   ) -> Iterator[Batch]:
    """The customers, cars and transactions of one block of customers."""
    registered, owner, day = _plan_block(catalog, revisit, seed, block, count)
    rng = _rng(seed, _Stream.DETAIL, block)
    ids = np.arange(first_id, first_id + count)

    first = rng.choice(len(catalog.first_names), count, p=catalog.first_p)
    last = rng.choice(len(catalog.last_names), count, p=catalog.last_p)
    domain = rng.integers(0, len(catalog.domains), count)
    yield Batch("customers", {
        "id": ids,
        "uuid": _uuids(rng, count),
        "first_name": catalog.first_names[first],
        "last_name": catalog.last_names[last],
        "email": bytestrings.concat([catalog.first_slugs[first], b".", catalog.last_slugs[last],
                                     bytestrings.decimal(ids), b"@", catalog.domains[domain]]),
        "phone": _phones(catalog, rng, count),
        "registered_on": _dates(registered),
    })

    make = rng.integers(0, len(catalog.make_names), count)
    model = catalog.model_offsets[make] + (rng.random(count) * catalog.model_counts[make]).astype(
        np.int64)
    scenario = catalog.scenario
    registration_year = _dates(registered).astype("datetime64[Y]").astype(np.int64) + 1970
    newest = np.minimum(scenario.last_model_year, registration_year + 1)
    year = scenario.first_model_year + (
        rng.random(count) * (newest - scenario.first_model_year + 1)).astype(np.int64)
    yield Batch("cars", {
        "id": ids,
        "customer_id": ids,
        "make": catalog.make_names[make],
        "model": catalog.model_names[model],
        "year": year,
        "vin": _vins(catalog, ids, make, model, year),
    })

    transactions = len(owner)
    field = rng.integers(0, len(catalog.service_counts), transactions)
    service = catalog.service_offsets[field] + (
        rng.random(transactions) * catalog.service_counts[field]).astype(np.int64)
    price = rng.integers(catalog.min_price[service], catalog.max_price[service] + 1)
    transaction_ids = np.arange(first_transaction_id, first_transaction_id + transactions)

    # Free services: each rewarded customer's earliest reward-field transaction on or after
    # the day it counts from gets price 0.
    lo, hi = np.searchsorted(referrals.rewarded, [first_id - 1, first_id - 1 + count])
    eligible_from = np.full(count, np.iinfo(np.int64).max)
    eligible_from[referrals.rewarded[lo:hi] - (first_id - 1)] = referrals.rewarded_from[lo:hi]
    eligible = catalog.is_reward_service[service] & (day >= eligible_from[owner])
    owners, position = np.unique(owner[eligible], return_index=True)
    rewarded_rows = np.flatnonzero(eligible)[position]
    price[rewarded_rows] = 0
    referrals.reward_id[lo + np.searchsorted(referrals.rewarded[lo:hi] - (first_id - 1),
                                             owners)] = transaction_ids[rewarded_rows]

    yield _transactions_batch(transaction_ids, _uuids(rng, transactions), ids[owner], service,
                              day, price)


def _transactions_batch(ids: np.ndarray, uuids: np.ndarray, customer_ids: np.ndarray,
                        service: np.ndarray, day: np.ndarray, price: np.ndarray) -> Batch:
    """Transactions on each customer's one car, whose id is the customer's."""
    return Batch("transactions", {
        "id": ids,
        "uuid": uuids,
        "customer_id": customer_ids,
        "car_id": customer_ids,
        "service_id": service + 1,
        "transaction_date": _dates(day),
        "price": price,
    })


def _reward_batches(catalog: _Catalog, referrals: _Referrals, seed: int,
                    first_transaction_id: int) -> Iterator[Batch]:
    """New free transactions for rewarded customers who had none to make free, then the links.

    Both come in chunks of BLOCK_CUSTOMERS rows, each chunk with its own random stream, so
    memory stays flat however many referrals there are.
    """
    missing = np.flatnonzero(referrals.reward_id == 0)
    referrals.reward_id[missing] = first_transaction_id + np.arange(len(missing))
    for chunk, start in enumerate(range(0, len(missing), BLOCK_CUSTOMERS)):
        rng = _rng(seed, _Stream.REWARD, chunk)
        rows = missing[start:start + BLOCK_CUSTOMERS]
        count = len(rows)
        customer_ids = referrals.rewarded[rows] + 1
        service = catalog.reward_services[rng.integers(0, len(catalog.reward_services), count)]
        uuids = _uuids(rng, count)
        day = rng.integers(referrals.rewarded_from[rows] + 1, catalog.end_day + 1)
        yield _transactions_batch(referrals.reward_id[rows], uuids, customer_ids, service, day,
                                  np.zeros(count, dtype=np.int64))
    for start in range(0, len(referrals.referrer), BLOCK_CUSTOMERS):
        chunk = slice(start, start + BLOCK_CUSTOMERS)
        referrer, referred = referrals.referrer[chunk], referrals.referred[chunk]
        yield Batch("referral_links", {
            "id": np.arange(start + 1, start + len(referrer) + 1),
            "referrer_id": referrer + 1,
            "referred_id": referred + 1,
            "referred_on": _dates(referrals.day[chunk]),
            "referrer_reward_id": referrals.reward_of(referrer),
            "referred_reward_id": referrals.reward_of(referred),
        })


def generate(scenario: Scenario, seed: int, customers: int) -> Iterator[Batch]:
    """Every row of the dataset, as batches in foreign-key order."""
    catalog = _Catalog(scenario)
    low, high = scenario.revisit_rate
    rates = _rng(seed, _Stream.RUN).uniform(low, high, len(catalog.cohort_starts))
    # Window k draws int(n_k * U_k) visits with replacement from cohorts 0..k: a customer
    # of cohort c expects sum(U_k for k >= c) later visits.
    revisit = np.cumsum(rates[::-1])[::-1]

    # (block number, index of its first customer, its number of customers)
    blocks = [(block, start, min(BLOCK_CUSTOMERS, customers - start))
              for block, start in enumerate(range(0, customers, BLOCK_CUSTOMERS))]
    window = _WindowCustomers()
    first_transaction_ids = []
    next_transaction_id = 1
    for block, start, count in blocks:
        registered, owner, day = _plan_block(catalog, revisit, seed, block, count)
        window.add_block(catalog, start, registered, owner, day)
        first_transaction_ids.append(next_transaction_id)
        next_transaction_id += len(owner)
    referrals = _pair_referrals(catalog, seed, window)
    del window

    yield _services_batch(catalog)
    for block, start, count in blocks:
        yield from _block_batches(catalog, revisit, referrals, seed, block, start + 1, count,
                                  first_transaction_ids[block])
    yield from _reward_batches(catalog, referrals, seed, next_transaction_id)
