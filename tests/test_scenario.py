"""Scenario files: the notebook's numbers by default, TOML overrides that reach the generated
data, and one clear line (file, key, reason) for anything wrong in a file.
"""

from __future__ import annotations

import ast
import calendar
import dataclasses
import datetime as dt
import math
import os
import random
import re
import resource
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import seeder.scenario
from seeder import bytestrings
from seeder.cli import cli
from seeder.errors import ScenarioError
from seeder.formats import csv_lines
from seeder.generator import generate
from seeder.scenario import (
    DEFAULT_MAKES,
    DEFAULT_SERVICES,
    MAX_FILE_BYTES,
    Referral,
    Scenario,
    load_scenario,
)

Z = 6.0


def write(tmp_path: Path, content: str | bytes, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def rejection(path: Path) -> str:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return str(caught.value)


# --- defaults ----------------------------------------------------------------------------------


def test_no_file_means_the_notebook_defaults() -> None:
    scenario = load_scenario(None)
    assert scenario == Scenario()
    assert scenario.locale == "en_US"
    assert (scenario.start, scenario.end) == (dt.date(2021, 1, 1), dt.date(2024, 1, 1))
    assert (scenario.first_model_year, scenario.last_model_year) == (2016, 2023)
    assert scenario.cohort_months == 6
    assert scenario.revisit_rate == (0.05, 0.35)
    assert scenario.referral == Referral(dt.date(2022, 1, 1), dt.date(2022, 7, 1), 0.2, "oil")
    assert scenario.makes == DEFAULT_MAKES and len(scenario.makes) == 6
    assert scenario.makes["Ford"] == ("Mustang", "Focus", "F-150", "Transit", "Expedition", "Edge")
    assert scenario.services == DEFAULT_SERVICES and len(scenario.services) == 7
    assert sum(len(priced) for priced in scenario.services.values()) == 24
    assert scenario.services["engine"]["rebuild"] == (2500, 4000)
    assert scenario.services["oil"] == {"synth_change": (80, 150), "reg_change": (60, 110)}


def test_an_empty_file_means_the_defaults(tmp_path: Path) -> None:
    assert load_scenario(write(tmp_path, "")) == Scenario()


def test_the_scenario_is_stored_as_plain_json_data() -> None:
    plain = Scenario().to_dict()
    assert plain["start"] == "2021-01-01"
    assert plain["referral"]["end"] == "2022-07-01"
    assert plain["makes"]["Honda"] == ["Civic", "CR-V", "Accord", "Pilot"]
    assert plain["services"]["oil"]["reg_change"] == [60, 110]


def test_the_scenario_module_knows_nothing_of_the_orm_or_the_cli() -> None:
    """Scenarios are plain values; whether they fit the columns is seeder.limits' business."""
    tree = ast.parse(Path(seeder.scenario.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    for forbidden in ("sqlalchemy", "seeder.models", "seeder.cli", "seeder.commands", "click"):
        assert not {name for name in imported if name.split(".")[0] == forbidden
                    or name.startswith(f"{forbidden}.") or name == forbidden}, forbidden


# --- built in code -----------------------------------------------------------------------------


def test_a_scenario_built_in_code_equals_one_loaded_from_toml(tmp_path: Path) -> None:
    path = write(tmp_path, 'locale = "de_DE"\ncohort_months = 3\n[makes]\nKia = ["Rio"]\n')
    built = Scenario(locale="de_DE", cohort_months=3, makes={"Kia": ["Rio"]})
    assert built == load_scenario(str(path)) == load_scenario(path)
    assert built.makes == {"Kia": ("Rio",)}


def test_values_built_in_code_are_normalised_and_copied() -> None:
    makes = {"Kia": ["Rio"]}
    services = {"oil": {"change": [10, 20]}}
    scenario = Scenario(makes=makes, services=services, revisit_rate=[0, 1],
                        referral=Referral(share=1))
    assert scenario.makes == {"Kia": ("Rio",)} and scenario.makes is not makes
    assert scenario.services == {"oil": {"change": (10, 20)}}
    assert scenario.revisit_rate == (0.0, 1.0) and isinstance(scenario.revisit_rate[0], float)
    assert isinstance(scenario.referral.share, float)
    makes["Kia"].append("Soul")  # the caller's table is not the scenario's
    assert scenario.makes == {"Kia": ("Rio",)}
    assert Scenario().makes is not DEFAULT_MAKES and Scenario().services is not DEFAULT_SERVICES


BUILT_BADLY = [
    (lambda: Scenario(locale="xx_XX"), "locale"),
    (lambda: Scenario(locale=None), "locale"),
    (lambda: Scenario(start=dt.date(2024, 1, 1), end=dt.date(2021, 1, 1)), "start"),
    (lambda: Scenario(end="2024-01-01"), "end"),
    (lambda: Scenario(cohort_months=0), "cohort_months"),
    (lambda: Scenario(cohort_months=2**63 - 1), "cohort_months"),
    (lambda: Scenario(first_model_year=2016.0), "first_model_year"),
    (lambda: Scenario(revisit_rate=(0.3, 0.1)), "revisit_rate"),
    (lambda: Scenario(makes={"": ("M3",)}), "makes"),
    (lambda: Scenario(makes={"BMW": ("",)}), "makes.BMW"),
    (lambda: Scenario(services={"oil": {"": (1, 2)}}), "services.oil"),
    (lambda: Scenario(services={"oil": {"change": (2, 1)}}), "services.oil.change"),
    (lambda: Scenario(referral=Referral(share=1.5)), "referral.share"),
    (lambda: Scenario(referral=Referral(start=dt.date(2030, 1, 1), end=dt.date(2030, 2, 1))),
     "referral"),
    (lambda: Scenario(referral={"share": 0.1}), "referral"),
    (lambda: dataclasses.replace(Scenario(), cohort_months=-1), "cohort_months"),
    (lambda: dataclasses.replace(Scenario(), services={"tyres": {"rotate": (1, 2)}}),
     "referral.reward_field"),
]


@pytest.mark.parametrize("build, key", BUILT_BADLY)
def test_bad_values_built_in_code_are_rejected_with_key_and_reason(build, key: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        build()
    message = str(caught.value)
    assert message.startswith(f"{key}: "), message
    assert len(message) > len(key) + 7 and "\n" not in message, message


def test_known_locales_are_the_snapshot_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """The locales accepted are those with name and phone lists in package data."""
    monkeypatch.setattr(seeder.scenario, "available_locales", lambda: ("xx_XX",))
    assert Scenario(locale="xx_XX").locale == "xx_XX"
    with pytest.raises(ScenarioError, match="^locale: 'en_US' is not a known locale"):
        Scenario()


# --- cohort windows ----------------------------------------------------------------------------


def _windows_by_walking(start: dt.date, end: dt.date, months: int) -> int:
    """The cohort windows as the generator finds them: start, start + months, start +
    2 * months, ... (a day past the month's end is the month's last day), while before end."""
    count = 0
    while True:
        year, month = divmod(start.month - 1 + count * months, 12)
        year += start.year
        if year > dt.MAXYEAR:
            return count
        day = min(start.day, calendar.monthrange(year, month + 1)[1])
        if dt.date(year, month + 1, day) >= end:
            return count
        count += 1


def test_cohort_windows_are_counted_as_the_generator_walks_them() -> None:
    draw = random.Random(4)
    cases = [(dt.date(2021, 1, 1), dt.date(2024, 1, 1), 6), (dt.date(2021, 1, 31),
             dt.date(2021, 3, 1), 1), (dt.date(2021, 1, 31), dt.date(2021, 3, 31), 1),
             (dt.date(2021, 1, 1), dt.date(2021, 1, 2), 12)]
    for _ in range(300):
        start = dt.date(2000, 1, 1) + dt.timedelta(days=draw.randrange(3000))
        end = start + dt.timedelta(days=draw.randrange(1, 2000))
        cases.append((start, end, draw.randrange(1, 40)))
    for start, end, months in cases:
        scenario = Scenario(start=start, end=end, cohort_months=months,
                            first_model_year=start.year, last_model_year=start.year,
                            referral=Referral(start=start, end=start))
        assert scenario.cohort_windows == _windows_by_walking(start, end, months), (
            start, end, months)


def _late_scenario(cohort_months: int) -> Scenario:
    return Scenario(start=dt.date(9999, 1, 1), end=dt.date(9999, 12, 1),
                    cohort_months=cohort_months,
                    referral=Referral(start=dt.date(9999, 2, 1), end=dt.date(9999, 3, 1)))


def test_cohort_windows_must_end_before_the_last_date_there_is() -> None:
    """The generator computes the start of the window after the last; it must be a date."""
    scenario = _late_scenario(11)  # one window, the next would start on 9999-12-01
    batches = list(generate(customers=50, seed=1, scenario=scenario))
    assert sum(len(batch) for batch in batches if batch.table == "customers") == 50
    with pytest.raises(ScenarioError, match=r"^cohort_months: must be at most 11: "):
        _late_scenario(12)  # the next window would start in the year 10000
    with pytest.raises(ScenarioError, match=r"^end: is too late for 6-month cohort windows: "
                                            r"the last one, from 9999-07, "):
        Scenario(end=dt.date(9999, 12, 31))


# --- the scenario as TOML ----------------------------------------------------------------------


def test_the_default_scenario_round_trips_through_toml(tmp_path: Path) -> None:
    text = Scenario().to_toml()
    loaded = load_scenario(write(tmp_path, text))
    assert loaded == Scenario()
    assert list(loaded.makes) == list(DEFAULT_MAKES)
    assert [list(priced) for priced in loaded.services.values()] == [
        list(priced) for priced in DEFAULT_SERVICES.values()]
    # Readable order: the top-level keys, then [referral], [makes], [services.<field>].
    top, _, tables = text.partition("\n[")
    assert re.findall(r"^(\w+) =", top, re.MULTILINE) == [
        "locale", "start", "end", "first_model_year", "last_model_year", "cohort_months",
        "revisit_rate"]
    assert re.findall(r"^\[(.+)\]$", "[" + tables, re.MULTILINE) == [
        "referral", "makes", *(f"services.{field}" for field in DEFAULT_SERVICES)]


def test_an_overridden_scenario_round_trips_through_toml(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, CUSTOM))
    loaded = load_scenario(write(tmp_path, scenario.to_toml(), "again.toml"))
    assert loaded == scenario
    assert list(loaded.makes) == ["Tesla", "Kia"]
    assert loaded.services["tyres"] == {"rotate": (30, 40), "Winter, set": (200, 300)}


def test_the_round_tripped_default_makes_the_same_data(tmp_path: Path) -> None:
    loaded = load_scenario(write(tmp_path, Scenario().to_toml()))
    default = generate(customers=2_000, seed=11)
    for original, again in zip(default, generate(customers=2_000, seed=11, scenario=loaded),
                               strict=True):
        assert original.table == again.table
        assert csv_lines(original) == csv_lines(again), original.table

# --- overrides reach the data ------------------------------------------------------------------

CUSTOM = """\
locale = "de_DE"
start = 2019-01-01
end = 2020-01-01
first_model_year = 2015
last_model_year = 2020
cohort_months = 3
revisit_rate = [0.5, 0.5]

[makes]
Tesla = ["Model 3", "Model Y"]
Kia = ["Rio"]

[services.oil]
synth_change = [10, 20]
reg_change = [5, 5]

[services.tyres]
rotate = [30, 40]
"Winter, set" = [200, 300]

[referral]
start = 2019-03-01
end = 2019-05-31
share = 0.25
"""


def _columns(scenario: Scenario, seed: int, customers: int) -> dict[str, dict[str, np.ndarray]]:
    """Every generated column per table; transactions get a `created` flag for the reward
    transactions created after all the visits (a block's visits come right after its cars)."""
    parts: dict[str, dict[str, list[np.ndarray]]] = {}
    previous = None
    for batch in generate(customers=customers, seed=seed, scenario=scenario):
        columns = dict(batch.columns)
        if batch.table == "transactions":
            columns["created"] = np.full(len(batch), previous != "cars")
        for name, column in columns.items():
            parts.setdefault(batch.table, {}).setdefault(name, []).append(column)
        previous = batch.table
    return {table: {name: np.concatenate(chunks) for name, chunks in columns.items()}
            for table, columns in parts.items()}


def _days(column: np.ndarray) -> np.ndarray:
    return column.astype("datetime64[D]").astype(np.int64)


def _day(date: dt.date) -> int:
    return int(np.datetime64(date, "D").astype(np.int64))


def test_a_file_overrides_the_defaults(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, CUSTOM))
    assert scenario.locale == "de_DE"
    assert (scenario.start, scenario.end) == (dt.date(2019, 1, 1), dt.date(2020, 1, 1))
    assert scenario.cohort_months == 3
    assert scenario.revisit_rate == (0.5, 0.5)
    assert scenario.makes == {"Tesla": ("Model 3", "Model Y"), "Kia": ("Rio",)}
    assert scenario.services == {"oil": {"synth_change": (10, 20), "reg_change": (5, 5)},
                                 "tyres": {"rotate": (30, 40), "Winter, set": (200, 300)}}
    assert scenario.referral == Referral(dt.date(2019, 3, 1), dt.date(2019, 5, 31), 0.25, "oil")


def test_partial_tables_keep_the_other_defaults(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, "[referral]\nshare = 0.1\n"))
    assert scenario == Scenario(referral=Referral(share=0.1))


def test_the_overrides_shape_the_generated_data(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, CUSTOM))
    data = _columns(scenario, 5, 8_000)
    customers, cars, services = data["customers"], data["cars"], data["services"]
    transactions, links = data["transactions"], data["referral_links"]

    # Registrations in [start, end), visits up to end.
    registered = _days(customers["registered_on"])
    assert registered.min() >= _day(dt.date(2019, 1, 1))
    assert registered.max() < _day(dt.date(2020, 1, 1))
    tday = _days(transactions["transaction_date"])
    assert tday.max() <= _day(dt.date(2020, 1, 1))

    # Only the given makes and models; model years in the new range, <= registration year + 1.
    pairs = set(zip(bytestrings.decode(cars["make"]), bytestrings.decode(cars["model"]),
                    strict=True))
    assert pairs == {("Tesla", "Model 3"), ("Tesla", "Model Y"), ("Kia", "Rio")}
    assert cars["year"].min() >= 2015 and cars["year"].max() <= 2020
    assert (cars["year"] <= 2019 + 1).all()

    # The price list is the file's; prices within its bounds (0 for the rewards only).
    rows = list(zip(bytestrings.decode(services["category"]), bytestrings.decode(services["name"]),
                    services["min_price"].tolist(), services["max_price"].tolist(), strict=True))
    assert rows == [("oil", "synth_change", 10, 20), ("oil", "reg_change", 5, 5),
                    ("tyres", "rotate", 30, 40), ("tyres", "Winter, set", 200, 300)]
    service = transactions["service_id"] - 1
    price = transactions["price"]
    rewards = np.concatenate([links["referrer_reward_id"], links["referred_reward_id"]]) - 1
    assert np.array_equal(np.flatnonzero(price == 0), np.sort(rewards))
    paid = price > 0
    assert (price[paid] >= services["min_price"][service[paid]]).all()
    assert (price[paid] <= services["max_price"][service[paid]]).all()
    assert set(np.unique(price[paid & (service == 1)]).tolist()) == {5}

    # The referral window and share: a quarter of the customers active in the window refer one.
    window = (_day(dt.date(2019, 3, 1)), _day(dt.date(2019, 5, 31)))
    inside = (tday >= window[0]) & (tday <= window[1])
    active = np.unique(transactions["customer_id"][inside])
    assert len(links["id"]) == int(0.25 * len(active))
    referred_on = _days(links["referred_on"])
    assert referred_on.min() >= window[0] and referred_on.max() <= window[1]

    # Cohorts of 3 months, every U_k == 0.5: cohort c (of 4) has Poisson(0.5 * (4 - c)) later
    # visits, so the means are known exactly.
    created = transactions["created"]
    later = np.bincount(transactions["customer_id"][~created] - 1,
                        minlength=len(registered)) - 1
    starts = [_day(dt.date(2019, month, 1)) for month in (1, 4, 7, 10)]
    cohort = np.searchsorted(starts, registered, side="right") - 1
    for c in range(4):
        visits = later[cohort == c]
        expected = 0.5 * (4 - c)
        assert abs(visits.mean() - expected) <= Z * math.sqrt(expected / len(visits)), (
            c, visits.mean(), expected)

    # The locale: German names.
    from faker.providers.person.de_DE import Provider as GermanNames

    assert set(bytestrings.decode(customers["last_name"])) <= set(GermanNames.last_names)


def test_export_with_a_scenario_file(tmp_path: Path) -> None:
    path = write(tmp_path, CUSTOM)
    result = CliRunner().invoke(cli, ["export", "--customers", "200", "--seed", "3",
                                      "--scenario", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "services.csv").read_text() == (
        "id,category,name,min_price,max_price\n1,oil,synth_change,10,20\n2,oil,reg_change,5,5\n"
        '3,tyres,rotate,30,40\n4,tyres,"Winter, set",200,300\n')


# --- rejections --------------------------------------------------------------------------------


@pytest.mark.parametrize("content, key", [
    ("colour = 'red'\n", "colour"),
    ("[referral]\nbonus = 10\n", "referral.bonus"),
    ("Start = 2021-01-01\n", "Start"),
])
def test_unknown_keys_are_rejected_with_file_key_and_reason(tmp_path: Path, content: str,
                                                            key: str) -> None:
    path = write(tmp_path, content)
    message = rejection(path)
    assert str(path) in message
    assert key in message
    assert "unknown" in message


BAD_VALUES = [
    # order of the dates
    ("start = 2024-01-01\nend = 2021-01-01\n", "start"),
    ("start = 2022-01-01\nend = 2022-01-01\n", "start"),
    ("[referral]\nstart = 2022-07-01\nend = 2022-01-01\n", "referral.start"),
    ("[referral]\nstart = 2020-06-01\n", "referral"),
    ("[referral]\nend = 2024-01-01\n", "referral"),
    # prices
    ("[services.oil]\nsynth_change = [-5, 10]\n", "services.oil.synth_change"),
    ("[services.oil]\nsynth_change = [200, 100]\n", "services.oil.synth_change"),
    ("[services.oil]\nsynth_change = [10]\n", "services.oil.synth_change"),
    ("[services.oil]\nsynth_change = [10.5, 20]\n", "services.oil.synth_change"),
    ("[services.oil]\nsynth_change = 'cheap'\n", "services.oil.synth_change"),
    ("[services]\noil = [1, 2]\n", "services.oil"),
    ("[services.oil]\n", "services.oil"),
    ("services = {}\n", "services"),
    # the referral share and reward
    ("[referral]\nshare = 1.5\n", "referral.share"),
    ("[referral]\nshare = -0.1\n", "referral.share"),
    ("[referral]\nshare = '20%'\n", "referral.share"),
    ("[referral]\nreward_field = 'tyres'\n", "referral.reward_field"),
    ("[referral]\nreward_field = 3\n", "referral.reward_field"),
    ("referral = 3\n", "referral"),
    # revisit rates
    ("revisit_rate = [0.1]\n", "revisit_rate"),
    ("revisit_rate = [0.1, 0.2, 0.3]\n", "revisit_rate"),
    ("revisit_rate = [0.3, 0.1]\n", "revisit_rate"),
    ("revisit_rate = [-0.1, 0.1]\n", "revisit_rate"),
    ("revisit_rate = ['low', 'high']\n", "revisit_rate"),
    ("revisit_rate = 0.2\n", "revisit_rate"),
    ("revisit_rate = [1e6, 1e6]\n", "revisit_rate"),  # would not fit in memory
    # types
    ("start = '2021-01-01'\n", "start"),
    ("start = 2021-01-01T00:00:00\n", "start"),
    ("end = 12:00:00\n", "end"),
    ("cohort_months = '6'\n", "cohort_months"),
    ("cohort_months = 6.5\n", "cohort_months"),
    ("cohort_months = true\n", "cohort_months"),
    ("cohort_months = 0\n", "cohort_months"),
    ("locale = 5\n", "locale"),
    ("first_model_year = '2016'\n", "first_model_year"),
    ("first_model_year = 2021\nlast_model_year = 2020\n", "first_model_year"),
    ("first_model_year = 2030\nlast_model_year = 2031\n", "first_model_year"),
    # makes
    ("makes = ['BMW']\n", "makes"),
    ("makes = {}\n", "makes"),
    ("[makes]\nBMW = 'M3'\n", "makes.BMW"),
    ("[makes]\nBMW = []\n", "makes.BMW"),
    ("[makes]\nBMW = ['M3', 4]\n", "makes.BMW"),
    # empty names
    ('[makes]\n"" = ["M3"]\n', "makes"),
    ("[makes]\nBMW = ['M3', '']\n", "makes.BMW"),
    ('[services.oil]\n"" = [1, 2]\n', "services.oil"),
    ('[services.""]\nchange = [1, 2]\n', "services"),
    # out of range: these used to crash the generator, or could never be generated
    ("cohort_months = 9223372036854775807\n", "cohort_months"),
    ("end = 9999-12-31\n", "end"),
    (f"[referral]\nshare = {'9' * 400}\n", "referral.share"),
    ("[referral]\nshare = nan\n", "referral.share"),
    ("revisit_rate = [0.1, inf]\n", "revisit_rate"),
    (f"first_model_year = {'1' * 5000}\n", ""),  # more digits than Python reads
    (f"makes = {'[' * 100_000}{']' * 100_000}\n", ""),  # deeper than the parser goes
]


@pytest.mark.parametrize("content, key", BAD_VALUES)
def test_bad_values_are_rejected_with_file_and_key(tmp_path: Path, content: str,
                                                   key: str) -> None:
    path = write(tmp_path, content)
    message = rejection(path)
    prefix = f"{path}: {key}: " if key else f"{path}: "
    assert message.startswith(prefix), message
    assert len(message) > len(prefix) + 5, "no reason given"
    assert "\n" not in message and len(message) < len(prefix) + 200, message


def test_an_unknown_faker_locale_is_rejected_when_loading(tmp_path: Path) -> None:
    """A locale Faker does not know must be a bad value like any other, not a crash later."""
    path = write(tmp_path, "locale = 'xx_XX'\n")
    message = rejection(path)
    assert message.startswith(f"{path}: locale: "), message


def test_malformed_toml_is_rejected_with_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "start = 2021-01-01\nend = 2024-01-01\nmakes = { BMW = [M3] }\n")
    message = rejection(path)
    assert str(path) in message
    assert "line 3" in message
    assert "\n" not in message


def test_a_file_that_is_not_utf8_is_rejected_with_the_line(tmp_path: Path) -> None:
    """TOML is UTF-8; a Latin-1 file (common from Windows editors) is malformed input."""
    path = write(tmp_path, b'locale = "en_US"\n[makes]\n"Citro\xebn" = ["C3"]\n')
    message = rejection(path)
    assert str(path) in message
    assert "line 3" in message


def test_a_missing_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    message = rejection(path)
    assert str(path) in message


# --- reading files -----------------------------------------------------------------------------


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    """Windows editors start UTF-8 files with one."""
    path = write(tmp_path, b"\xef\xbb\xbfcohort_months = 3\n")
    assert load_scenario(path) == Scenario(cohort_months=3)


def test_a_file_of_the_largest_size_is_read_one_byte_more_is_refused(tmp_path: Path) -> None:
    setting = b"cohort_months = 3\n"
    comment = b"#" + b"x" * (MAX_FILE_BYTES - len(setting) - 2) + b"\n"
    assert load_scenario(write(tmp_path, setting + comment)) == Scenario(cohort_months=3)
    path = write(tmp_path, setting + b"#" + comment)
    assert rejection(path) == (f"{path}: larger than {MAX_FILE_BYTES:,} bytes, far more than a "
                               "scenario needs; is it the right file?")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert rejection(tmp_path) == f"cannot read scenario file {tmp_path}: not a regular file"


_LOAD = """
import sys
from seeder.errors import ScenarioError
from seeder.scenario import load_scenario
try:
    load_scenario(sys.argv[1])
except ScenarioError as error:
    print(error)
"""


def _rejection_in_a_child(path: Path | str) -> str:
    """load_scenario's error for `path`, from a child process that cannot take the test run
    down with it: a read that blocks is killed after a minute (TimeoutExpired fails the test),
    a read that never ends runs out of its 1 GiB of memory."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    child = subprocess.run([sys.executable, "-c", _LOAD, str(path)], capture_output=True,
                           text=True, timeout=60, preexec_fn=limit_memory, check=False)
    assert child.returncode == 0, child.stderr
    return child.stdout.strip()


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    os.mkfifo(path)
    assert _rejection_in_a_child(path) == f"cannot read scenario file {path}: not a regular file"


def test_a_device_is_refused_without_reading_it() -> None:
    assert _rejection_in_a_child("/dev/zero") == (
        "cannot read scenario file /dev/zero: not a regular file")


def test_a_huge_file_is_refused_after_reading_a_little(tmp_path: Path) -> None:
    path = tmp_path / "disk.img"
    with path.open("wb") as file:
        file.truncate(1 << 30)  # sparse: takes no disk space
    assert _rejection_in_a_child(path).startswith(f"{path}: larger than {MAX_FILE_BYTES:,} bytes")


# --- through the command line ------------------------------------------------------------------


CLI_CASES = {
    "unknown key": "colour = 'red'\n",
    "bad value": "[referral]\nshare = 1.5\n",
    "start after end": "start = 2024-01-01\nend = 2021-01-01\n",
    "malformed": "start = 2021-01-01\nend = = 2024-01-01\n",
    "not utf-8": b'[makes]\n"Citro\xebn" = ["C3"]\n',
    "unknown locale": "locale = 'xx_XX'\n",
}


@pytest.mark.parametrize("command", ["populate", "export"])
@pytest.mark.parametrize("case", list(CLI_CASES))
def test_the_cli_prints_one_line_and_exits_1(tmp_path: Path, command: str, case: str) -> None:
    path = write(tmp_path, CLI_CASES[case])
    args = ["--customers", "10", "--seed", "1", "--scenario", str(path)]
    if command == "populate":
        args = ["--database-url", f"sqlite:///{tmp_path}/never.db", "populate", "--dry-run",
                *args]
    else:
        args = ["export", "--out", str(tmp_path / "out"), *args]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seeder: error: "), result.stderr
    assert str(path) in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "never.db").exists()


def test_the_cli_dry_run_with_a_good_scenario(tmp_path: Path) -> None:
    path = write(tmp_path, CUSTOM)
    result = CliRunner().invoke(cli, ["--database-url", f"sqlite:///{tmp_path}/never.db",
                                      "populate", "--dry-run", "--customers", "100", "--seed", "1",
                                      "--scenario", str(path)])
    assert result.exit_code == 0, result.output
    assert "customers" in result.stdout and "nothing was written" in result.stdout
    assert not (tmp_path / "never.db").exists()


# --- seeder scenario ---------------------------------------------------------------------------


def _cli(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), prog_name="seeder")
    assert result.exit_code == 0, result.output
    return result.output


def test_the_printed_default_scenario_makes_the_default_dataset(tmp_path: Path) -> None:
    printed = write(tmp_path, _cli("scenario"))
    _cli("export", "--customers", "2000", "--seed", "4", "--out", str(tmp_path / "default"))
    _cli("export", "--customers", "2000", "--seed", "4", "--scenario", str(printed),
         "--out", str(tmp_path / "printed"))
    for table in ("customers", "cars", "services", "transactions", "referral_links"):
        assert (tmp_path / "printed" / f"{table}.csv").read_bytes() == \
            (tmp_path / "default" / f"{table}.csv").read_bytes(), table


def test_a_file_prints_as_the_effective_scenario(tmp_path: Path) -> None:
    overrides = write(tmp_path, 'locale = "de_DE"\n[referral]\nshare = 0.5\n')
    effective = tomllib.loads(_cli("scenario", str(overrides)))
    default = tomllib.loads(_cli("scenario"))
    assert effective["locale"] == "de_DE"
    assert effective["referral"]["share"] == 0.5
    effective["locale"], effective["referral"]["share"] = "en_US", 0.2
    assert effective == default
