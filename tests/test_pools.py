"""The locale pools shipped in seeder/locales/ against the Faker pinned in the `test` extra.

The reference extraction below is written out independently of seeder.pools: it reads Faker
exactly as the generator did before the snapshot existed, so the snapshot keeps the generated
data (and the golden digests) unchanged. When Faker's pin moves, rebuild the snapshot with
`python -m seeder.pools`; these tests then show what changed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import faker
import numpy as np
import pytest
from faker import Faker
from faker.config import AVAILABLE_LOCALES

from seeder.errors import ScenarioError
from seeder.pools import available_locales, load_pools


def _provider(fake: Faker, name: str):
    return next(p for p in fake.get_providers() if p.__provider__ == f"faker.providers.{name}")


def _faker_pools(locale: str) -> dict[str, list | None]:
    """Each pool as the generator read it from Faker: names, weights or None, raw formats."""
    fake = Faker(locale)
    person = _provider(fake, "person")
    pools: dict[str, list | None] = {}
    for kind in ("first", "last"):
        names = getattr(person, f"{kind}_names")
        pools[f"{kind}_names"] = list(names)
        pools[f"{kind}_name_weights"] = list(names.values()) if isinstance(names, dict) else None
    pools["safe_domains"] = list(_provider(fake, "internet").safe_domain_names)
    pools["phone_formats"] = list(getattr(_provider(fake, "phone_number"), "formats", ()))
    return pools


def _probabilities(weights: list | tuple | None) -> bytes | None:
    """The generator's draw probabilities, as raw float64 bytes (to compare bit for bit)."""
    if weights is None:
        return None
    array = np.array(list(weights), dtype=np.float64)
    return (array / array.sum()).tobytes()


def test_the_locales_are_fakers() -> None:
    assert list(available_locales()) == AVAILABLE_LOCALES


@pytest.mark.filterwarnings("ignore:fr_QC locale is deprecated")
def test_every_locale_snapshot_equals_what_faker_gives() -> None:
    differences = {}
    for locale in AVAILABLE_LOCALES:
        if locale not in available_locales():
            differences[locale] = ["no snapshot"]
            continue
        expected = _faker_pools(locale)
        snapshot = load_pools(locale)
        for field, value in expected.items():
            stored = getattr(snapshot, field)
            if (None if stored is None else list(stored)) != value:
                differences.setdefault(locale, []).append(field)
        for kind in ("first", "last"):
            field = f"{kind}_name_weights"
            if _probabilities(getattr(snapshot, field)) != _probabilities(expected[field]):
                differences.setdefault(locale, []).append(f"{kind} name probabilities")
    assert not differences, (f"pools that differ from Faker {faker.VERSION} (rebuild with "
                             f"`python -m seeder.pools` if the pin moved): {differences}")


def test_weighted_and_plain_name_lists_both_survive_the_snapshot() -> None:
    """en_US weighs its names; de_DE keeps plain lists with repeats (each repeat counts)."""
    american, german = load_pools("en_US"), load_pools("de_DE")
    assert american.first_name_weights is not None
    assert len(american.first_name_weights) == len(american.first_names)
    assert german.last_name_weights is None
    assert len(set(german.last_names)) < len(german.last_names)


def test_an_unknown_locale_is_a_scenario_error() -> None:
    with pytest.raises(ScenarioError, match=r"locale 'xx_XX' is not available"):
        load_pools("xx_XX")


def test_loading_needs_no_faker() -> None:
    script = textwrap.dedent("""
        import sys
        sys.modules["faker"] = None  # any import of faker now raises ImportError
        from seeder.pools import available_locales, load_pools
        pools = [load_pools(locale) for locale in available_locales()]
        print(len(pools), len(pools[0].first_names) > 0)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(len(AVAILABLE_LOCALES)), "True"]
