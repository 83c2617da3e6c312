"""Scenario files: the notebook's numbers by default, TOML overrides that reach the generated
data, and one clear line (file, key, reason) for anything wrong in a file.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from seeder import bytestrings
from seeder.cli import cli
from seeder.errors import ScenarioError
from seeder.generator import generate
from seeder.scenario import DEFAULT_MAKES, DEFAULT_SERVICES, Referral, Scenario, load_scenario

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
    # names longer than their columns (PostgreSQL would refuse them at load time)
    (f"[makes]\nBMW = ['{'M' * 51}']\n", "makes.BMW"),
    (f"[makes]\n{'B' * 51} = ['M3']\n", f"makes.{'B' * 51}"),
    (f"[services.oil]\n{'s' * 51} = [1, 2]\n", f"services.oil.{'s' * 51}"),
    (f"[services.{'o' * 51}]\nchange = [1, 2]\n", f"services.{'o' * 51}"),
]


@pytest.mark.parametrize("content, key", BAD_VALUES)
def test_bad_values_are_rejected_with_file_and_key(tmp_path: Path, content: str,
                                                   key: str) -> None:
    path = write(tmp_path, content)
    message = rejection(path)
    assert message.startswith(f"{path}: {key}: "), message
    assert len(message) > len(f"{path}: {key}: ") + 5, "no reason given"
    assert "\n" not in message


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
