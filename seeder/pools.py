"""Per-locale name, domain and phone-format pools, snapshotted from Faker into package data.

The generated data is drawn from these pools, so they are part of the data's definition: they
ship as one gzip'd JSON file per locale in seeder/locales/, and the Faker installed beside
seeder (any version, or none) cannot change them. Running `python -m seeder.pools` (with the
Faker of the `test` extra installed) rewrites the files from Faker; tests/test_pools.py checks
that they still equal what that Faker gives.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import json
import warnings
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from seeder.errors import ScenarioError

_SUFFIX = ".json.gz"


@dataclasses.dataclass(frozen=True)
class LocalePools:
    """What the generator draws from for one locale, as Faker has it, in Faker's order.

    A name list with weights came from a Faker {name: weight} dict; weights of None mean a
    plain sequence (drawn uniformly; names may repeat). Phone formats are unfiltered.
    """

    first_names: tuple[str, ...]
    first_name_weights: tuple[float, ...] | None
    last_names: tuple[str, ...]
    last_name_weights: tuple[float, ...] | None
    safe_domains: tuple[str, ...]
    phone_formats: tuple[str, ...]


def _snapshot_dir() -> Traversable:
    return resources.files(__package__).joinpath("locales")


@functools.cache
def available_locales() -> tuple[str, ...]:
    """The locales that have pools, sorted."""
    return tuple(sorted(entry.name.removesuffix(_SUFFIX) for entry in _snapshot_dir().iterdir()
                        if entry.name.endswith(_SUFFIX)))


@functools.cache
def load_pools(locale: str) -> LocalePools:
    """The pools of `locale`, read from the package data."""
    if locale not in available_locales():
        raise ScenarioError(f"locale {locale!r} is not available; use one of "
                            f"seeder.pools.available_locales() (e.g. en_US, de_DE)")
    data = json.loads(gzip.decompress(_snapshot_dir().joinpath(locale + _SUFFIX).read_bytes()))
    return LocalePools(**{field.name: None if data[field.name] is None else tuple(data[field.name])
                          for field in dataclasses.fields(LocalePools)})


# --- building the snapshot from Faker (python -m seeder.pools) ---------------------------------


def _names_and_weights(pool) -> tuple[tuple[str, ...], tuple[float, ...] | None]:
    # The same test the generator always applied: only a dict (OrderedDict included) is weighted.
    if isinstance(pool, dict):
        return tuple(pool), tuple(pool.values())
    return tuple(pool), None


def _provider(fake, name: str):
    return next(p for p in fake.get_providers() if p.__provider__ == f"faker.providers.{name}")


def pools_from_faker(locale: str) -> LocalePools:
    """The pools of `locale` as the installed Faker has them."""
    from faker import Faker  # a build-time dependency only (the `test` extra)

    with warnings.catch_warnings():
        # Deprecated locales (fr_QC) still have to be snapshotted while Faker lists them.
        warnings.filterwarnings("ignore", message=r".* locale is deprecated")
        fake = Faker(locale)
    person = _provider(fake, "person")
    first_names, first_name_weights = _names_and_weights(person.first_names)
    last_names, last_name_weights = _names_and_weights(person.last_names)
    return LocalePools(
        first_names=first_names,
        first_name_weights=first_name_weights,
        last_names=last_names,
        last_name_weights=last_name_weights,
        safe_domains=tuple(_provider(fake, "internet").safe_domain_names),
        # Some locales (en_PH) have no formats: they build numbers in code.
        phone_formats=tuple(getattr(_provider(fake, "phone_number"), "formats", ())),
    )


def write_snapshot(directory: Path) -> list[Path]:
    """Replace the snapshot files in `directory` with the pools of every Faker locale."""
    from faker.config import AVAILABLE_LOCALES

    directory.mkdir(exist_ok=True)
    for stale in directory.glob("*" + _SUFFIX):
        stale.unlink()
    written = []
    for locale in AVAILABLE_LOCALES:
        text = json.dumps(dataclasses.asdict(pools_from_faker(locale)), ensure_ascii=False,
                          separators=(",", ":"))
        path = directory / (locale + _SUFFIX)
        # mtime=0: the same pools give the same bytes, so a rebuild shows no spurious change.
        path.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
        written.append(path)
    return written


if __name__ == "__main__":
    import faker

    files = write_snapshot(Path(__file__).parent / "locales")
    size = sum(path.stat().st_size for path in files)
    print(f"wrote {len(files)} locales from Faker {faker.VERSION}: {size:,} bytes")
