"""The notebook's statistical model as a deterministic NumPy generator, in four stages.

Nothing here touches a database. `generate()` yields batches of rows per table, in foreign-key
order, with integer keys assigned here. The dataset is defined per block of BLOCK_CUSTOMERS
customers, and each stage is a pure function of the values the stages before it hand forward:

1. plan_block(catalog, seed, revisit, block) -> BlockPlan: registration days and the (owner,
   day) of every transaction of the block, from the PLAN stream of that block alone.
   summarize(...) reduces it to a BlockSummary: its number of transactions, and who in it is
   active in the referral window (first visit there) or registered inside it.
2. plan_dataset(catalog, seed, summaries) -> DatasetPlan: the global reduce. Transaction ids
   per block (from the counts), and the referral Pairing (from the window customers of every
   block and the REFERRAL stream).
3. block_rows(catalog, seed, dataset, block) -> BlockRows: the block's customers, cars and
   transactions, and which of its transactions became a rewarded customer's free service; a
   function of (seed, scenario, DatasetPlan, block number) only (the block's plan is drawn
   again from its PLAN stream, the details from its DETAIL stream).
4. reward_rows(catalog, seed, dataset, found) -> the created free transactions (for rewarded
   customers with no eligible transaction of their own, from REWARD streams per chunk) and the
   referral links; `found` is every block's BlockRows.reward_ids, in block order.

`revisit` (each cohort's expected later visits) comes from the RUN stream and the scenario.
Memory: stage 1's summaries hold 8 bytes per window-active customer and 8 per customer who
registered inside the window (int32 index and day); the pairing holds the pairs. Everything
else is per block (or per chunk of BLOCK_CUSTOMERS rewards) and freed before the next.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import unicodedata
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from seeder import bytestrings
from seeder.batch import Batch
from seeder.cancel import Cancellation
from seeder.errors import InvalidArgument, LimitExceeded
from seeder.pools import load_pools
from seeder.progress import PLANNING, Progress
from seeder.scenario import Scenario
from seeder.streams import Stream, rng

# Bump whenever the generated data changes for the same seed and scenario.
GENERATOR_VERSION = "1"
# Customers per block: part of the data's definition, unrelated to any batch size.
BLOCK_CUSTOMERS = 10_000
# The largest seed: seed_runs.seed is a BIGINT.
MAX_SEED = 2**63 - 1

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


def _day(date: dt.date) -> int:
    return (date - _EPOCH).days


def _dates(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]")


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _probabilities(weights: tuple[float, ...] | None) -> np.ndarray | None:
    """A weighted name list's draw probabilities; None (uniform) for a plain list."""
    if weights is None:
        return None
    array = np.array(weights, dtype=np.float64)
    return array / array.sum()


class Catalog:
    """Everything derived once from the scenario: day numbers, lookup tables, locale pools."""

    def __init__(self, scenario: Scenario) -> None:
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

        pools = load_pools(scenario.locale)
        first, last = pools.first_names, pools.last_names
        self.first_p = _probabilities(pools.first_name_weights)
        self.last_p = _probabilities(pools.last_name_weights)
        self.first_names = bytestrings.encode(first)
        self.last_names = bytestrings.encode(last)
        self.first_slugs = bytestrings.encode([_ascii_slug(n) or "customer" for n in first])
        self.last_slugs = bytestrings.encode([_ascii_slug(n) or "customer" for n in last])
        self.domains = bytestrings.encode(pools.safe_domains)
        formats = [f for f in pools.phone_formats
                   if not any(mark in f for mark in ("{", "!", "@", "^"))]
        # Some locales (en_PH) build numbers in code, not from formats; they get a plain one.
        self.phone_formats = [f.encode() for f in formats or ["###-###-####"]]


def _add_months(date: dt.date, months: int) -> dt.date:
    years, month = divmod(date.month - 1 + months, 12)
    year = date.year + years
    return dt.date(year, month + 1, min(date.day, calendar.monthrange(year, month + 1)[1]))


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


def _uuids(stream: np.random.Generator, count: int) -> np.ndarray:
    """Random version-4 UUIDs as 16-byte values."""
    raw = stream.integers(0, 256, (count, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw.view("V16").ravel()


def _phones(catalog: Catalog, chosen: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Phone numbers in the locale's formats (`chosen`, one per row), their marks filled from
    `digits` (uniform [0, 1) per position): '#' any digit, '%' 1-9, '$' 2-9."""
    out = np.zeros(digits.shape, dtype=np.uint8)
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


def _vins(catalog: Catalog, car_ids: np.ndarray, make: np.ndarray, model: np.ndarray,
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


def revisit_rates(catalog: Catalog, seed: int) -> np.ndarray:
    """Expected later visits per customer of each cohort, from the per-run window rates.

    Window k draws int(n_k * U_k) visits with replacement from cohorts 0..k: a customer of
    cohort c expects sum(U_k for k >= c) later visits.
    """
    low, high = catalog.scenario.revisit_rate
    rates = rng(seed, Stream.RUN).uniform(low, high, len(catalog.cohort_starts))
    return np.cumsum(rates[::-1])[::-1]


def block_sizes(customers: int) -> list[int]:
    """The number of customers of each block."""
    full, rest = divmod(customers, BLOCK_CUSTOMERS)
    return [BLOCK_CUSTOMERS] * full + ([rest] if rest else [])


@dataclasses.dataclass(frozen=True)
class BlockPlan:
    """A block's registration days, and every transaction's (owner, day), sorted by owner
    then day; owners are indexes into the block."""

    registered: np.ndarray
    owner: np.ndarray
    day: np.ndarray


def plan_block(catalog: Catalog, seed: int, revisit: np.ndarray, block: int,
               customers: int) -> BlockPlan:
    """Stage 1: the block's registrations and visit days, from its PLAN stream."""
    stream = rng(seed, Stream.PLAN, block)
    registered = catalog.start_day + stream.integers(0, catalog.end_day - catalog.start_day,
                                                     customers)
    cohort = np.searchsorted(catalog.cohort_starts, registered, side="right") - 1
    later = stream.poisson(revisit[cohort])
    later_owner = np.repeat(np.arange(customers), later)
    later_day = stream.integers(registered[later_owner] + 1, catalog.end_day + 1)
    owner = np.concatenate([np.arange(customers), later_owner])
    day = np.concatenate([registered, later_day])
    order = np.lexsort((day, owner))
    return BlockPlan(registered, owner[order], day[order])


@dataclasses.dataclass(frozen=True)
class BlockSummary:
    """What the global reduce needs of a block: its number of transactions, who is active in
    the referral window (first visit there) and who registered inside it (and when).
    Customer indexes are 0-based over the whole dataset and ascend."""

    transactions: int
    active: np.ndarray
    first_visit: np.ndarray
    new: np.ndarray
    registered: np.ndarray


def summarize(catalog: Catalog, plan: BlockPlan, first_index: int) -> BlockSummary:
    """Stage 1's hand-over: the block plan reduced to what pairing needs."""
    start, end = catalog.window
    inside = (plan.day >= start) & (plan.day <= end)
    owners, first = np.unique(plan.owner[inside], return_index=True)
    new = np.flatnonzero((plan.registered >= start) & (plan.registered <= end))
    return BlockSummary(
        transactions=len(plan.owner),
        active=(first_index + owners).astype(np.int32),
        first_visit=plan.day[inside][first].astype(np.int32),
        new=(first_index + new).astype(np.int32),
        registered=plan.registered[new].astype(np.int32),
    )


@dataclasses.dataclass(frozen=True)
class Pairing:
    """Referral pairs (0-based customer indexes) and each rewarded customer's reward rule."""

    referrer: np.ndarray
    referred: np.ndarray
    day: np.ndarray  # referred_on: the referred customer's registration day
    rewarded: np.ndarray  # sorted customer indexes of both sides
    rewarded_from: np.ndarray  # the day from which their free service counts


@dataclasses.dataclass(frozen=True)
class DatasetPlan:
    """Stage 2's result: everything global that a block's details depend on."""

    customers: int
    revisit: np.ndarray
    first_transaction_ids: np.ndarray  # per block
    transactions: int  # in all blocks, rewards created later excluded
    pairing: Pairing

    @property
    def blocks(self) -> int:
        return len(self.first_transaction_ids)

    def first_customer_index(self, block: int) -> int:
        return block * BLOCK_CUSTOMERS

    def block_customers(self, block: int) -> int:
        return min(BLOCK_CUSTOMERS, self.customers - block * BLOCK_CUSTOMERS)

    def rewarded_in_block(self, block: int) -> slice:
        """The positions in pairing.rewarded of the block's rewarded customers."""
        first = self.first_customer_index(block)
        lo, hi = np.searchsorted(self.pairing.rewarded, [first, first + self.block_customers(
            block)])
        return slice(int(lo), int(hi))


def plan_dataset(catalog: Catalog, seed: int, customers: int, summaries: Sequence[BlockSummary],
                 checkpoint: Callable[[], None] = lambda: None) -> DatasetPlan:
    """Stage 2: transaction ids per block and the referral pairing, from every block's summary."""
    counts = np.array([summary.transactions for summary in summaries], dtype=np.int64)
    first_ids = 1 + np.cumsum(counts) - counts
    return DatasetPlan(
        customers=customers,
        revisit=revisit_rates(catalog, seed),
        first_transaction_ids=first_ids,
        transactions=int(counts.sum()),
        pairing=pair_referrals(catalog, seed, summaries, checkpoint),
    )


def pair_referrals(catalog: Catalog, seed: int, summaries: Sequence[BlockSummary],
                   checkpoint: Callable[[], None] = lambda: None) -> Pairing:
    """Pick the referrers among window-active customers and pair each with a new customer.

    A referred customer registered inside the window, on or after the day of its referrer's
    first visit there, and recommended no one. Days are walked from the last to the first, so
    each referrer draws from every candidate still free that registered on or after its visit;
    a referrer left without one recommends no one. That happens only when the window's new
    customers run out: in tiny datasets, or with a share far above the default.
    """
    stream = rng(seed, Stream.REFERRAL)
    active = np.concatenate([s.active for s in summaries])
    first_visit = np.concatenate([s.first_visit for s in summaries])
    new = np.concatenate([s.new for s in summaries])
    registered = np.concatenate([s.registered for s in summaries])
    referrers = np.sort(stream.choice(active, int(len(active) * catalog.scenario.referral.share),
                                      replace=False))
    referrer_days = first_visit[np.searchsorted(active, referrers)]
    del active, first_visit
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
        checkpoint()
        lo, hi = np.searchsorted(candidate_days, [day, day + 1])
        pool = np.concatenate([pool, candidates[lo:hi]])
        lo, hi = np.searchsorted(referrer_days, [day, day + 1])
        wanted = min(hi - lo, len(pool))
        if wanted:
            picked = stream.choice(len(pool), wanted, replace=False)
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
    return Pairing(referrer, referred, day, rewarded[order], rewarded_from[order])


@dataclasses.dataclass(frozen=True)
class BlockRows:
    """Stage 3's result: a block's batches, and for each of its rewarded customers (in the
    order of DatasetPlan.rewarded_in_block) the id of the transaction made free, or 0."""

    batches: tuple[Batch, Batch, Batch]
    reward_ids: np.ndarray


@dataclasses.dataclass(frozen=True)
class _Draws:
    """A block's plan, and what its DETAIL stream gives before the prices, in stream order."""

    plan: BlockPlan
    first: np.ndarray  # index into the first names
    last: np.ndarray
    domain: np.ndarray
    uuids: np.ndarray
    phone_format: np.ndarray
    phone_digits: np.ndarray
    make: np.ndarray
    model: np.ndarray  # index into all models
    year: np.ndarray
    service: np.ndarray  # of each transaction, index into the price list


def _draw(catalog: Catalog, seed: int, dataset: DatasetPlan, block: int,
          stream: np.random.Generator) -> _Draws:
    count = dataset.block_customers(block)
    plan = plan_block(catalog, seed, dataset.revisit, block, count)
    first = stream.choice(len(catalog.first_names), count, p=catalog.first_p)
    last = stream.choice(len(catalog.last_names), count, p=catalog.last_p)
    domain = stream.integers(0, len(catalog.domains), count)
    uuids = _uuids(stream, count)
    phone_format = stream.integers(0, len(catalog.phone_formats), count)
    phone_digits = stream.random((count, max(len(f) for f in catalog.phone_formats)))
    make = stream.integers(0, len(catalog.make_names), count)
    model = catalog.model_offsets[make] + (
        stream.random(count) * catalog.model_counts[make]).astype(np.int64)
    scenario = catalog.scenario
    registration_year = _dates(plan.registered).astype("datetime64[Y]").astype(np.int64) + 1970
    newest = np.minimum(scenario.last_model_year, registration_year + 1)
    year = scenario.first_model_year + (
        stream.random(count) * (newest - scenario.first_model_year + 1)).astype(np.int64)
    transactions = len(plan.owner)
    field = stream.integers(0, len(catalog.service_counts), transactions)
    service = catalog.service_offsets[field] + (
        stream.random(transactions) * catalog.service_counts[field]).astype(np.int64)
    return _Draws(plan, first, last, domain, uuids, phone_format, phone_digits, make, model,
                  year, service)


def _free_rows(catalog: Catalog, dataset: DatasetPlan, block: int,
               draws: _Draws) -> tuple[np.ndarray, np.ndarray]:
    """The block's transactions made free (row indexes), and for each of its rewarded
    customers the row of theirs made free, or -1.

    Each rewarded customer's earliest reward-field transaction on or after the day it counts
    from gets price 0.
    """
    owner, day = draws.plan.owner, draws.plan.day
    rewarded = dataset.rewarded_in_block(block)
    rewarded_here = dataset.pairing.rewarded[rewarded] - dataset.first_customer_index(block)
    eligible_from = np.full(dataset.block_customers(block), np.iinfo(np.int64).max)
    eligible_from[rewarded_here] = dataset.pairing.rewarded_from[rewarded]
    eligible = catalog.is_reward_service[draws.service] & (day >= eligible_from[owner])
    owners, position = np.unique(owner[eligible], return_index=True)
    free_rows = np.flatnonzero(eligible)[position]
    row_of_rewarded = np.full(len(rewarded_here), -1, dtype=np.int64)
    row_of_rewarded[np.searchsorted(rewarded_here, owners)] = free_rows
    return free_rows, row_of_rewarded


def _reward_ids(dataset: DatasetPlan, block: int, row_of_rewarded: np.ndarray) -> np.ndarray:
    return np.where(row_of_rewarded >= 0,
                    dataset.first_transaction_ids[block] + row_of_rewarded, 0)


def block_rewards(catalog: Catalog, seed: int, dataset: DatasetPlan, block: int) -> np.ndarray:
    """Stage 3 without the rows: BlockRows.reward_ids of the block, from its draws alone
    (no text is built), for a process that writes other blocks (a shard)."""
    draws = _draw(catalog, seed, dataset, block, rng(seed, Stream.DETAIL, block))
    return _reward_ids(dataset, block, _free_rows(catalog, dataset, block, draws)[1])


def block_rows(catalog: Catalog, seed: int, dataset: DatasetPlan, block: int) -> BlockRows:
    """Stage 3: the customers, cars and transactions of one block."""
    stream = rng(seed, Stream.DETAIL, block)
    draws = _draw(catalog, seed, dataset, block, stream)
    plan = draws.plan
    count = len(plan.registered)
    first_id = dataset.first_customer_index(block) + 1
    ids = np.arange(first_id, first_id + count)
    price = stream.integers(catalog.min_price[draws.service],
                            catalog.max_price[draws.service] + 1)
    free_rows, row_of_rewarded = _free_rows(catalog, dataset, block, draws)
    price[free_rows] = 0
    first_transaction_id = dataset.first_transaction_ids[block]
    transaction_ids = np.arange(first_transaction_id, first_transaction_id + len(plan.owner))

    customers = Batch("customers", {
        "id": ids,
        "uuid": draws.uuids,
        "first_name": catalog.first_names[draws.first],
        "last_name": catalog.last_names[draws.last],
        "email": bytestrings.concat([
            catalog.first_slugs[draws.first], b".", catalog.last_slugs[draws.last],
            bytestrings.decimal(ids), b"@", catalog.domains[draws.domain]]),
        "phone": _phones(catalog, draws.phone_format, draws.phone_digits),
        "registered_on": _dates(plan.registered),
    })
    cars = Batch("cars", {
        "id": ids,
        "customer_id": ids,
        "make": catalog.make_names[draws.make],
        "model": catalog.model_names[draws.model],
        "year": draws.year,
        "vin": _vins(catalog, ids, draws.make, draws.model, draws.year),
    })
    transactions = _transactions_batch(transaction_ids, _uuids(stream, len(plan.owner)),
                                       ids[plan.owner], draws.service, plan.day, price)
    return BlockRows((customers, cars, transactions),
                     _reward_ids(dataset, block, row_of_rewarded))


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


def reward_rows(catalog: Catalog, seed: int, dataset: DatasetPlan, found: Sequence[np.ndarray],
                customers: range | None = None) -> Iterator[Batch]:
    """Stage 4: new free transactions for rewarded customers who had none to make free, then
    the links; only those of `customers` (0-based indexes; the created rewards of its
    customers, the links whose referred customer it holds) when given.

    Both come in chunks of BLOCK_CUSTOMERS rows, each chunk with its own random stream, so
    memory stays flat however many referrals there are; a chunk is drawn whole even when only
    some of its rows are kept.
    """
    pairing = dataset.pairing
    reward_ids = np.concatenate([np.empty(0, dtype=np.int64), *found])
    missing = np.flatnonzero(reward_ids == 0)
    reward_ids[missing] = dataset.transactions + 1 + np.arange(len(missing))
    for chunk, start in enumerate(range(0, len(missing), BLOCK_CUSTOMERS)):
        rows = missing[start:start + BLOCK_CUSTOMERS]
        kept = _within(pairing.rewarded[rows], customers)
        if not kept.any():
            continue
        stream = rng(seed, Stream.REWARD, chunk)
        count = len(rows)
        customer_ids = pairing.rewarded[rows] + 1
        service = catalog.reward_services[stream.integers(0, len(catalog.reward_services), count)]
        uuids = _uuids(stream, count)
        day = stream.integers(pairing.rewarded_from[rows] + 1, catalog.end_day + 1)
        yield _transactions_batch(reward_ids[rows][kept], uuids[kept], customer_ids[kept],
                                  service[kept], day[kept], np.zeros(kept.sum(), dtype=np.int64))
    for start in range(0, len(pairing.referrer), BLOCK_CUSTOMERS):
        chunk = slice(start, start + BLOCK_CUSTOMERS)
        kept = _within(pairing.referred[chunk], customers)
        if not kept.any():
            continue
        referrer, referred = pairing.referrer[chunk][kept], pairing.referred[chunk][kept]
        yield Batch("referral_links", {
            "id": np.arange(start + 1, start + len(kept) + 1)[kept],
            "referrer_id": referrer + 1,
            "referred_id": referred + 1,
            "referred_on": _dates(pairing.day[chunk][kept]),
            "referrer_reward_id": reward_ids[np.searchsorted(pairing.rewarded, referrer)],
            "referred_reward_id": reward_ids[np.searchsorted(pairing.rewarded, referred)],
        })


def _within(indexes: np.ndarray, customers: range | None) -> np.ndarray:
    if customers is None:
        return np.ones(len(indexes), dtype=bool)
    return (indexes >= customers.start) & (indexes < customers.stop)


@dataclasses.dataclass(frozen=True)
class Shard:
    """Part `index` (from 1) of `count`: a contiguous, balanced run of blocks with their
    customers, cars and transactions, the created rewards of those customers and the referral
    links whose referred customer is among them; shard 1 also holds the services. The union
    of the `count` shards is the whole dataset, row for row."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not (isinstance(self.count, int) and isinstance(self.index, int)
                and 1 <= self.index <= self.count):
            raise InvalidArgument(f"shard must be K/N with 1 <= K <= N, not "
                                  f"{self.index}/{self.count}")

    def blocks(self, blocks: int) -> range:
        return range((self.index - 1) * blocks // self.count, self.index * blocks // self.count)


def shard_customers(dataset: DatasetPlan, shard: Shard) -> range:
    """The 0-based indexes of the customers in the shard's blocks."""
    own = shard.blocks(dataset.blocks)
    return range(own.start * BLOCK_CUSTOMERS, min(own.stop * BLOCK_CUSTOMERS, dataset.customers))


def every_block_rewards(catalog: Catalog, seed: int, dataset: DatasetPlan,
                        found: dict[int, np.ndarray],
                        checkpoint: Callable[[], None]) -> list[np.ndarray]:
    """Every block's BlockRows.reward_ids, in block order: those `found` (block -> ids of the
    blocks whose rows were built), the others drawn without building rows (block_rewards)."""
    every = []
    for block in range(dataset.blocks):
        if block in found:
            every.append(found[block])
        else:
            checkpoint()
            every.append(block_rewards(catalog, seed, dataset, block))
    return every


def services_batch(catalog: Catalog) -> Batch:
    """The price list: one row per service of the scenario."""
    rows = catalog.service_rows
    return Batch("services", {
        "id": np.arange(1, len(rows) + 1),
        "category": bytestrings.encode([row[0] for row in rows]),
        "name": bytestrings.encode([row[1] for row in rows]),
        "min_price": catalog.min_price,
        "max_price": catalog.max_price,
    })


def plan(catalog: Catalog, seed: int, customers: int,
         checkpoint: Callable[[], None] = lambda: None,
         progress: Progress | None = None) -> DatasetPlan:
    """Stages 1 and 2 in this process: every block planned and summarised, then the reduce."""
    revisit = revisit_rates(catalog, seed)
    sizes = block_sizes(customers)
    summaries = []
    for block, count in enumerate(sizes):
        checkpoint()
        if progress is not None:
            progress(PLANNING, block, len(sizes))
        block_plan = plan_block(catalog, seed, revisit, block, count)
        summaries.append(summarize(catalog, block_plan, block * BLOCK_CUSTOMERS))
    if progress is not None:
        progress(PLANNING, len(sizes), len(sizes))
    return plan_dataset(catalog, seed, customers, summaries, checkpoint)


def rows(catalog: Catalog, seed: int, dataset: DatasetPlan,
         checkpoint: Callable[[], None] = lambda: None,
         shard: Shard | None = None) -> Iterator[Batch]:
    """Stages 3 and 4 in this process: every row (or a shard's), as batches in foreign-key
    order. A shard also needs every other block's reward ids, which it draws without building
    their rows (block_rewards)."""
    own = range(dataset.blocks) if shard is None else shard.blocks(dataset.blocks)
    if shard is None or shard.index == 1:
        yield services_batch(catalog)
    found: dict[int, np.ndarray] = {}
    for block in own:
        checkpoint()
        details = block_rows(catalog, seed, dataset, block)
        yield from details.batches
        found[block] = details.reward_ids
    yield from reward_rows(catalog, seed, dataset,
                           every_block_rewards(catalog, seed, dataset, found, checkpoint),
                           None if shard is None else shard_customers(dataset, shard))


def generate(*, customers: int, seed: int, scenario: Scenario | None = None,
             shard: Shard | tuple[int, int] | None = None, cancel: Cancellation | None = None,
             progress: Progress | None = None) -> Iterator[Batch]:
    """Every row of the dataset, as batches in foreign-key order; with `shard` (K, N), only
    shard K's part (see Shard).

    Arguments are checked at once. Planning (stages 1 and 2) runs when the first batch is
    asked for, reported as progress("planning", blocks done, blocks); then rows stream block
    by block. `cancel` is checked between blocks (Cancelled).
    """
    scenario = scenario if scenario is not None else Scenario()
    check_arguments(customers=customers, seed=seed, scenario=scenario)
    if shard is not None and not isinstance(shard, Shard):
        shard = Shard(*shard)
    catalog = Catalog(scenario)
    checkpoint = cancel.check if cancel is not None else lambda: None

    def batches() -> Iterator[Batch]:
        dataset = plan(catalog, seed, customers, checkpoint, progress)
        yield from rows(catalog, seed, dataset, checkpoint, shard)

    return batches()


def check_arguments(*, customers: int, seed: int, scenario: Scenario) -> None:
    """Refuse, before any work, a dataset that cannot be made: InvalidArgument for a number of
    customers that is not positive or a seed out of range, LimitExceeded beyond MAX_CUSTOMERS
    or when the scenario expects more than MAX_TRANSACTIONS_PER_CUSTOMER."""
    if isinstance(customers, bool) or not isinstance(customers, int) or customers < 1:
        raise InvalidArgument(f"customers must be a positive integer, not {customers!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidArgument(f"seed must be an integer from 0 to {MAX_SEED}, not {seed!r}")
    if customers > MAX_CUSTOMERS:
        raise LimitExceeded(
            f"{customers:,} customers is more than the {MAX_CUSTOMERS:,} there can be: each "
            "car's VIN carries its id, and VINs are unique up to 33 x 33 x 10^6 cars")
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
