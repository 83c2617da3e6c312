"""Scenario parameters: the notebook's numbers by default, any of them overridable from TOML.

A `Scenario` checks its values whenever one is made, from a file (`load_scenario`) or in code
(`Scenario(locale="de_DE")`, `dataclasses.replace(scenario, cohort_months=3)`), and raises
ScenarioError naming the key and the reason. This module knows nothing of the database: whether
the values fit the columns they land in, and whether a dataset of some size can be made, is
checked where the data meets the schema, in seeder.limits.
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import os
import stat
import tomllib
from collections.abc import Mapping
from typing import Any

import tomli_w

from seeder.errors import ScenarioError
from seeder.pools import available_locales

# A scenario file is a few KB (the complete default scenario is 1.6 KB). Reading stops after
# this much, so a wrong path (a log, a disk image, /dev/zero) is refused at once.
MAX_FILE_BYTES = 1 << 20
# Later visits per customer and cohort window; far above the notebook's 0.35. (seeder.limits
# bounds what all the windows together imply.)
_MAX_REVISIT_RATE = 10.0
# The month of the last date Python has (9999-12-31), as a month number (year * 12 + month - 1).
_LAST_MONTH = dt.date.max.year * 12 + dt.date.max.month - 1

DEFAULT_MAKES: dict[str, tuple[str, ...]] = {
    "Hyundai": ("Tucson", "Accent", "Elantra", "Sonata", "Santa_Fe"),
    "Honda": ("Civic", "CR-V", "Accord", "Pilot"),
    "Volkswagen": ("Golf", "Tiguan", "Jetta"),
    "BMW": ("M4", "M2", "i5", "X4", "3"),
    "Volvo": ("XC60", "XC40", "S90", "XC90"),
    "Ford": ("Mustang", "Focus", "F-150", "Transit", "Expedition", "Edge"),
}

# field of service -> service -> inclusive (min, max) price, as in the notebook.
DEFAULT_SERVICES: dict[str, dict[str, tuple[int, int]]] = {
    "suspension": {
        "shock_replace": (500, 1200),
        "coil_spring": (550, 700),
        "strut": (100, 700),
        "control_arm": (200, 300),
        "ball_joint": (250, 350),
    },
    "brake": {
        "pad_replacement": (115, 250),
        "rotor_pad": (250, 500),
        "full_replace": (400, 900),
        "cleaning": (90, 200),
    },
    "wheel": {"install": (125, 200), "buy_install": (600, 1350), "balance": (90, 125)},
    "ac_heating": {
        "refrigerant_leak": (150, 500),
        "fan": (650, 800),
        "compressor": (400, 600),
        "filters": (60, 125),
    },
    "oil": {"synth_change": (80, 150), "reg_change": (60, 110)},
    "engine": {
        "rebuild": (2500, 4000),
        "spark_plug": (150, 400),
        "water_pump": (300, 700),
        "timing_belt": (400, 900),
    },
    "battery": {"change": (100, 300), "alternator": (300, 800)},
}



@dataclasses.dataclass(frozen=True)
class Referral:
    """The referral test: who recommends a friend, and the free service both of them get."""

    start: dt.date = dt.date(2022, 1, 1)
    end: dt.date = dt.date(2022, 7, 1)  # inclusive, as in the notebook
    share: float = 0.2
    reward_field: str = "oil"

    def __post_init__(self) -> None:
        _require_date("referral.start", self.start)
        _require_date("referral.end", self.end)
        if self.start > self.end:
            raise _invalid("referral.start", f"must not be after referral.end ({self.end})")
        share = _number("referral.share", self.share)
        if not 0 <= share <= 1:
            raise _invalid("referral.share", "must be between 0 and 1")
        _require_string("referral.reward_field", self.reward_field)
        object.__setattr__(self, "share", share)  # frozen: the one way to store the float


@dataclasses.dataclass(frozen=True)
class Scenario:
    """Everything that shapes the data except the seed and the number of customers.

    Made with bad values, it raises ScenarioError ("key: reason"). Lists become tuples, whole
    numbers for rates and shares become floats, and the tables are copied, so equal scenarios
    compare equal however they were written.
    """

    locale: str = "en_US"
    start: dt.date = dt.date(2021, 1, 1)  # registrations in [start, end)
    end: dt.date = dt.date(2024, 1, 1)  # later visits up to and including end
    first_model_year: int = 2016
    last_model_year: int = 2023
    cohort_months: int = 6
    revisit_rate: tuple[float, float] = (0.05, 0.35)
    makes: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=lambda: DEFAULT_MAKES)
    services: dict[str, dict[str, tuple[int, int]]] = dataclasses.field(
        default_factory=lambda: DEFAULT_SERVICES
    )
    referral: Referral = dataclasses.field(default_factory=Referral)

    def __post_init__(self) -> None:
        _require_string("locale", self.locale)
        if self.locale not in available_locales():
            raise _invalid("locale", f"{_shown(self.locale)} is not a known locale "
                                     "(e.g. en_US, de_DE)")
        _require_date("start", self.start)
        _require_date("end", self.end)
        if self.start >= self.end:
            raise _invalid("start", f"must be before end ({self.end})")
        first = _integer("first_model_year", self.first_model_year)
        if first > _integer("last_model_year", self.last_model_year):
            raise _invalid("first_model_year", "must not be after last_model_year")
        if first > self.start.year + 1:
            raise _invalid("first_model_year", "must not be after the first registration year + 1")
        if _integer("cohort_months", self.cohort_months) <= 0:
            raise _invalid("cohort_months", "must be a positive number of months")
        self._check_cohort_windows_end_in_time()
        # Frozen: object.__setattr__ is the one way to store the normalised values.
        object.__setattr__(self, "revisit_rate", _rate_range(self.revisit_rate))
        object.__setattr__(self, "makes", _makes(self.makes))
        object.__setattr__(self, "services", _services(self.services))
        referral = self.referral
        if not isinstance(referral, Referral):
            raise _invalid("referral", f"must be a Referral, not {_shown(referral)}")
        if not (self.start <= referral.start and referral.end < self.end):
            raise _invalid("referral", "the window must lie inside [start, end)")
        if referral.reward_field not in self.services:
            raise _invalid("referral.reward_field", "must be one of the fields in [services]")

    @property
    def cohort_windows(self) -> int:
        """How many cohorts there are: windows of cohort_months months from start, each
        beginning before end."""
        months = _month_number(self.end) - _month_number(self.start)
        whole, rest = divmod(months, self.cohort_months)
        # A window beginning `months` months after start is in end's month, on start's day
        # (or the month's last day): before end exactly when start's day is before end's.
        return whole + (1 if rest or self.start.day < self.end.day else 0)

    def _check_cohort_windows_end_in_time(self) -> None:
        """Every cohort window must end before 9999-12-31, the last date there is: the next
        window's start is computed, and must be a date."""
        room = _LAST_MONTH - _month_number(self.start)
        if self.cohort_months > room:
            raise _invalid("cohort_months", f"must be at most {room:,}: a cohort window from "
                                            f"start ({self.start}) must end before 9999-12-31")
        if self.cohort_windows * self.cohort_months > room:
            last = _month_number(self.start) + (self.cohort_windows - 1) * self.cohort_months
            raise _invalid("end", f"is too late for {self.cohort_months}-month cohort windows: "
                                  f"the last one, from {last // 12}-{last % 12 + 1:02}, would "
                                  "not end before 9999-12-31")

    def to_dict(self) -> dict[str, Any]:
        """The scenario as JSON-ready data, for the seed_runs table."""

        def plain(value: Any) -> Any:
            if isinstance(value, dict):
                return {key: plain(item) for key, item in value.items()}
            if isinstance(value, tuple | list):
                return [plain(item) for item in value]
            if isinstance(value, dt.date):
                return value.isoformat()
            return value

        return plain(dataclasses.asdict(self))

    def to_toml(self) -> str:
        """The complete scenario as TOML: the top-level keys, then [referral], [makes] and
        [services.<field>]. Given back to load_scenario it makes an equal Scenario, and so the
        same data."""
        top = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
               if field.name not in ("makes", "services", "referral")}
        return tomli_w.dumps({**top, "referral": dataclasses.asdict(self.referral),
                              "makes": self.makes, "services": self.services})


def load_scenario(path: str | os.PathLike[str] | None) -> Scenario:
    """The default scenario, with the values of the TOML file at `path` (if any) in place.

    Raises ScenarioError, naming the file, for a file that cannot be read (missing, not a
    regular file, larger than MAX_FILE_BYTES), that is not UTF-8 TOML (a byte-order mark is
    fine), or that holds an unknown key or a bad value (then the key and the reason follow).
    """
    if path is None:
        return Scenario()
    raw = _read(path)
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(f"{path}: larger than {MAX_FILE_BYTES:,} bytes, far more than a "
                            "scenario needs; is it the right file?")
    data = _parse(path, raw.removeprefix(codecs.BOM_UTF8))
    try:
        return _scenario_from(data)
    except ScenarioError as error:
        raise ScenarioError(f"{path}: {error}") from None


def _read(path: str | os.PathLike[str]) -> bytes:
    """Up to MAX_FILE_BYTES + 1 bytes of the regular file at `path`."""
    try:
        # O_NONBLOCK: opening a FIFO would otherwise wait for a writer. (Windows has no FIFOs.)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ScenarioError(f"cannot read scenario file {path}: not a regular file")
            with open(fd, "rb", closefd=False) as file:
                return file.read(MAX_FILE_BYTES + 1)
        finally:
            os.close(fd)
    except OSError as error:
        raise ScenarioError(f"cannot read scenario file {path}: {error.strerror}") from None


def _parse(path: str | os.PathLike[str], raw: bytes) -> dict[str, Any]:
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ScenarioError(f"{path}: not valid TOML: not UTF-8 text (at line {line})") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{path}: not valid TOML: {error}") from None
    except ValueError:  # tomllib passes on int()'s refusal of thousands of digits
        raise ScenarioError(f"{path}: an integer too long to read") from None
    except RecursionError:
        raise ScenarioError(f"{path}: arrays or tables nested too deeply to read") from None


def _scenario_from(data: dict[str, Any]) -> Scenario:
    _reject_unknown(data, Scenario, "")
    values = dict(data)
    if "referral" in values:
        referral = values["referral"]
        if not isinstance(referral, dict):
            raise _invalid("referral", "must be a table")
        _reject_unknown(referral, Referral, "referral.")
        values["referral"] = Referral(**referral)
    return Scenario(**values)


def _reject_unknown(table: dict[str, Any], cls: type, prefix: str) -> None:
    known = {field.name for field in dataclasses.fields(cls)}
    for key in table:
        if key not in known:
            raise _invalid(f"{prefix}{key}", f"unknown key (known: {', '.join(sorted(known))})")


def _invalid(key: str, reason: str) -> ScenarioError:
    return ScenarioError(f"{key}: {reason}")


def _shown(value: Any) -> str:
    """A value as quoted in a one-line message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _month_number(date: dt.date) -> int:
    return date.year * 12 + date.month - 1


def _require_string(key: str, value: Any) -> None:
    if not isinstance(value, str):
        raise _invalid(key, f"must be a string, not {_shown(value)}")


def _require_date(key: str, value: Any) -> None:
    if isinstance(value, dt.datetime):
        raise _invalid(key, "must be a date like 2021-01-01, without a time")
    if not isinstance(value, dt.date):
        raise _invalid(key, f"must be a date like 2021-01-01, not {_shown(value)}")


def _integer(key: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(key, f"must be an integer, not {_shown(value)}")
    return value


def _number(key: str, value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _invalid(key, f"must be a number, not {_shown(value)}")
    try:
        return float(value)
    except OverflowError:  # an integer beyond any float
        raise _invalid(key, f"{_shown(value)} is out of range") from None


def _require_name(key: str, name: Any, kind: str) -> None:
    if not isinstance(name, str):
        raise _invalid(key, f"{kind} names must be strings, not {_shown(name)}")
    if not name:
        raise _invalid(key, f"{kind} names must not be empty")


def _rate_range(rate: Any) -> tuple[float, float]:
    if not isinstance(rate, list | tuple) or len(rate) != 2:
        raise _invalid("revisit_rate", "must be two numbers [low, high]")
    low, high = (_number("revisit_rate", r) for r in rate)
    if not 0 <= low <= high <= _MAX_REVISIT_RATE:
        raise _invalid("revisit_rate", f"must satisfy 0 <= low <= high <= {_MAX_REVISIT_RATE:g}")
    return low, high


def _makes(makes: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(makes, Mapping) or not makes:
        raise _invalid("makes", "must be a non-empty table of make = [models]")
    result: dict[str, tuple[str, ...]] = {}
    for make, models in makes.items():
        _require_name("makes", make, "make")
        if not isinstance(models, list | tuple) or not models:
            raise _invalid(f"makes.{make}", "must be a non-empty list of model names")
        for model in models:
            _require_name(f"makes.{make}", model, "model")
        result[make] = tuple(models)
    return result


def _services(services: Any) -> dict[str, dict[str, tuple[int, int]]]:
    if not isinstance(services, Mapping) or not services:
        raise _invalid("services", "must be a non-empty table of fields of service")
    result: dict[str, dict[str, tuple[int, int]]] = {}
    for field, priced in services.items():
        _require_name("services", field, "field")
        if not isinstance(priced, Mapping) or not priced:
            raise _invalid(f"services.{field}",
                           "must be a non-empty table of service = [min_price, max_price]")
        result[field] = {}
        for name, bounds in priced.items():
            _require_name(f"services.{field}", name, "service")
            key = f"services.{field}.{name}"
            if (not isinstance(bounds, list | tuple) or len(bounds) != 2
                    or not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)):
                raise _invalid(key, "must be two integers [min_price, max_price]")
            if not 0 <= bounds[0] <= bounds[1]:
                raise _invalid(key, "must satisfy 0 <= min_price <= max_price")
            result[field][name] = (bounds[0], bounds[1])
    return result
