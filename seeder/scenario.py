"""Scenario parameters: the notebook's numbers by default, any of them overridable from TOML."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

from seeder.errors import ScenarioError
from seeder.models import Car, Service
from seeder.pools import available_locales

# Names become column values: they must fit the columns on every backend.
_MAKE_LENGTH, _MODEL_LENGTH = Car.__table__.c.make.type.length, Car.__table__.c.model.type.length
_FIELD_LENGTH, _SERVICE_LENGTH = (Service.__table__.c.category.type.length,
                                  Service.__table__.c.name.type.length)
# Later visits per customer and cohort window; far above the notebook's 0.35, and low enough
# that a dataset cannot grow unboundedly large.
_MAX_REVISIT_RATE = 10.0

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


@dataclasses.dataclass(frozen=True)
class Scenario:
    """Everything that shapes the data except the seed and the number of customers."""

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
    referral: Referral = Referral()

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


def load_scenario(path: Path | None) -> Scenario:
    """The default scenario, with the values of the TOML file at `path` (if any) in place."""
    if path is None:
        return Scenario()
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise ScenarioError(f"cannot read scenario file {path}: {error.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ScenarioError(f"{path}: not valid TOML: not UTF-8 text (at line {line})") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{path}: not valid TOML: {error}") from None
    try:
        return _scenario_from(data)
    except _Invalid as error:
        raise ScenarioError(f"{path}: {error.key}: {error.reason}") from None


class _Invalid(Exception):
    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key, self.reason = key, reason


def _scenario_from(data: dict[str, Any]) -> Scenario:
    defaults = Scenario()
    _reject_unknown(data, Scenario, "")
    referral_data = data.get("referral", {})
    if not isinstance(referral_data, dict):
        raise _Invalid("referral", "must be a table")
    _reject_unknown(referral_data, Referral, "referral.")

    def value(table: dict[str, Any], key: str, kind: type, default: Any, name: str) -> Any:
        found = table.get(key, default)
        if kind is float and isinstance(found, int) and not isinstance(found, bool):
            found = float(found)
        if not isinstance(found, kind) or isinstance(found, bool) and kind is not bool:
            raise _Invalid(name, f"must be {_KIND_NAMES[kind]}, not {found!r}")
        return found

    def date(table: dict[str, Any], key: str, default: dt.date, name: str) -> dt.date:
        found = value(table, key, dt.date, default, name)
        if isinstance(found, dt.datetime):
            raise _Invalid(name, "must be a date like 2021-01-01, without a time")
        return found

    referral = Referral(
        start=date(referral_data, "start", defaults.referral.start, "referral.start"),
        end=date(referral_data, "end", defaults.referral.end, "referral.end"),
        share=value(referral_data, "share", float, defaults.referral.share, "referral.share"),
        reward_field=value(
            referral_data, "reward_field", str, defaults.referral.reward_field,
            "referral.reward_field",
        ),
    )
    rate = value(data, "revisit_rate", list, list(defaults.revisit_rate), "revisit_rate")
    scenario = Scenario(
        locale=value(data, "locale", str, defaults.locale, "locale"),
        start=date(data, "start", defaults.start, "start"),
        end=date(data, "end", defaults.end, "end"),
        first_model_year=value(data, "first_model_year", int, defaults.first_model_year,
                               "first_model_year"),
        last_model_year=value(data, "last_model_year", int, defaults.last_model_year,
                              "last_model_year"),
        cohort_months=value(data, "cohort_months", int, defaults.cohort_months, "cohort_months"),
        revisit_rate=_rate_range(rate),
        makes=_makes(data.get("makes", defaults.makes)),
        services=_services(data.get("services", defaults.services)),
        referral=referral,
    )
    _check_consistency(scenario)
    return scenario


_KIND_NAMES = {str: "a string", int: "an integer", float: "a number", dt.date: "a date",
               list: "a list", dict: "a table"}


def _reject_unknown(table: dict[str, Any], cls: type, prefix: str) -> None:
    known = {field.name for field in dataclasses.fields(cls)}
    for key in table:
        if key not in known:
            raise _Invalid(f"{prefix}{key}", f"unknown key (known: {', '.join(sorted(known))})")


def _rate_range(rate: list[Any]) -> tuple[float, float]:
    if (len(rate) != 2 or not all(isinstance(r, int | float) and not isinstance(r, bool)
                                  for r in rate)):
        raise _Invalid("revisit_rate", "must be two numbers [low, high]")
    low, high = float(rate[0]), float(rate[1])
    if not 0 <= low <= high <= _MAX_REVISIT_RATE:
        raise _Invalid("revisit_rate", f"must satisfy 0 <= low <= high <= {_MAX_REVISIT_RATE:g}")
    return low, high


def _makes(makes: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(makes, dict) or not makes:
        raise _Invalid("makes", "must be a non-empty table of make = [models]")
    for make, models in makes.items():
        if (not isinstance(models, list | tuple) or not models
                or not all(isinstance(model, str) and model for model in models)):
            raise _Invalid(f"makes.{make}", "must be a non-empty list of model names")
        _check_length(f"makes.{make}", make, _MAKE_LENGTH)
        for model in models:
            _check_length(f"makes.{make}", model, _MODEL_LENGTH)
    return {make: tuple(models) for make, models in makes.items()}


def _services(services: Any) -> dict[str, dict[str, tuple[int, int]]]:
    if not isinstance(services, dict) or not services:
        raise _Invalid("services", "must be a non-empty table of fields of service")
    result: dict[str, dict[str, tuple[int, int]]] = {}
    for field, priced in services.items():
        if not isinstance(priced, dict) or not priced:
            raise _Invalid(f"services.{field}", "must be a non-empty table of service = [min, max]")
        _check_length(f"services.{field}", field, _FIELD_LENGTH)
        result[field] = {}
        for name, bounds in priced.items():
            key = f"services.{field}.{name}"
            _check_length(key, name, _SERVICE_LENGTH)
            if (not isinstance(bounds, list | tuple) or len(bounds) != 2
                    or not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)):
                raise _Invalid(key, "must be two integers [min_price, max_price]")
            if not 0 <= bounds[0] <= bounds[1]:
                raise _Invalid(key, "must satisfy 0 <= min_price <= max_price")
            result[field][name] = (bounds[0], bounds[1])
    return result


def _check_length(key: str, name: str, limit: int) -> None:
    if len(name) > limit:
        raise _Invalid(key, f"{name[:20]!r}... is longer than {limit} characters")


def _check_consistency(scenario: Scenario) -> None:
    if scenario.locale not in available_locales():
        raise _Invalid("locale", f"{scenario.locale!r} is not a Faker locale (e.g. en_US, de_DE)")
    if scenario.start >= scenario.end:
        raise _Invalid("start", f"must be before end ({scenario.end})")
    if scenario.first_model_year > scenario.last_model_year:
        raise _Invalid("first_model_year", "must not be after last_model_year")
    if scenario.first_model_year > scenario.start.year + 1:
        raise _Invalid("first_model_year", "must not be after the first registration year + 1")
    if scenario.cohort_months <= 0:
        raise _Invalid("cohort_months", "must be a positive number of months")
    referral = scenario.referral
    if referral.start > referral.end:
        raise _Invalid("referral.start", f"must not be after referral.end ({referral.end})")
    if not (scenario.start <= referral.start and referral.end < scenario.end):
        raise _Invalid("referral", "the window must lie inside [start, end)")
    if not 0 <= referral.share <= 1:
        raise _Invalid("referral.share", "must be between 0 and 1")
    if referral.reward_field not in scenario.services:
        raise _Invalid("referral.reward_field", "must be one of the fields in [services]")
