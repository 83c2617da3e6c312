"""pytest plugin: every test that asks for `seeder_url` gets its own freshly seeded database.

Registered through the `pytest11` entry point, so installing seeder is enough. The dataset is
chosen with `@pytest.mark.seeder(customers=..., seed=..., scenario=...)`. Each distinct dataset
is built once per session and copied for every test that asks for it:

- with `--seeder-url URL` (or $SEEDER_TEST_URL), an admin URL of any database on a PostgreSQL
  server: a template database per dataset, and per test a clone made with
  `CREATE DATABASE ... TEMPLATE`;
- without it, a SQLite file per dataset in pytest's temporary directory, and per test a copy.

A test's database is dropped (deleted) when the test ends; whatever remains, templates
included, is dropped when the session ends, after failures and Ctrl-C too. Names carry a token
drawn per session, so sessions on one server (pytest-xdist workers, CI jobs) never collide.

Tests that do not ask for `seeder_url` see no change: the plugin only adds an option and a
marker, and sets up nothing until a test asks for the fixture.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import seeder

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

URL_VARIABLE = "SEEDER_TEST_URL"
DEFAULT_CUSTOMERS = 100
DEFAULT_SEED = 42
# Every database the plugin makes on a PostgreSQL server starts with this, then the session's
# token: what a killed session (SIGKILL, power loss) leaves behind is easy to find and drop.
NAME_PREFIX = "seeder_pytest_"
MARKER_ARGUMENTS = ("customers", "seed", "scenario")
# PostgreSQL's SQLSTATE object_in_use: CREATE DATABASE ... TEMPLATE while others use the template.
OBJECT_IN_USE = "55006"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("seeder").addoption(
        "--seeder-url", metavar="URL", default=None,
        help="admin URL of any database on a PostgreSQL server, where the seeder_url fixture "
             "builds each dataset once as a template and clones it per test (default: "
             f"${URL_VARIABLE}; without either, SQLite files in pytest's temporary directory)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"seeder(customers={DEFAULT_CUSTOMERS}, seed={DEFAULT_SEED}, scenario=None): the dataset "
        "in the seeder_url fixture's database; scenario is a seeder.Scenario or the path of a "
        "TOML file (relative to the test file's directory)",
    )


@pytest.fixture
def seeder_url(request: pytest.FixtureRequest, _seeder_datasets: Datasets) -> Iterator[str]:
    """The URL of a database that holds the test's dataset (see @pytest.mark.seeder), fresh
    for this test: what it changes, no other test sees. Dropped when the test ends."""
    dataset = _marked_dataset(request)
    with _failing("seeder_url"):
        database = _seeder_datasets.copy(dataset)
    yield database
    with _failing("seeder_url"):
        _seeder_datasets.discard(database)


@pytest.fixture(scope="session")
def _seeder_datasets(pytestconfig: pytest.Config,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[Datasets]:
    """Templates and copies of the session, all removed when the session ends (pytest tears
    session fixtures down in pytest_sessionfinish, which runs after Ctrl-C too)."""
    admin_url = pytestconfig.getoption("seeder_url") or os.environ.get(URL_VARIABLE)
    with _failing("seeder_url"):
        if admin_url:
            datasets: Datasets = PostgresDatasets(admin_url)
        else:
            datasets = SQLiteDatasets(tmp_path_factory.mktemp("seeder"))
    try:
        yield datasets
    finally:
        with _failing("seeder_url"):
            datasets.close()


@contextlib.contextmanager
def _failing(prefix: str) -> Iterator[None]:
    """A SeederError inside fails the test with its one-line message, without a traceback."""
    try:
        yield
    except seeder.SeederError as error:
        raise pytest.fail.Exception(f"{prefix}: {error}", pytrace=False) from None


@dataclasses.dataclass(frozen=True)
class Dataset:
    """What a populate is given; equal datasets share one template."""

    customers: int
    seed: int
    scenario: seeder.Scenario

    @property
    def key(self) -> str:
        # The generator's version is part of the data's identity: a template is never reused
        # for a seeder that would generate other rows. repr keeps 100 and "100" apart.
        text = "\0".join([repr(self.customers), repr(self.seed), seeder.GENERATOR_VERSION,
                          self.scenario.to_toml()])
        return hashlib.sha256(text.encode()).hexdigest()


def _marked_dataset(request: pytest.FixtureRequest) -> Dataset:
    marker = request.node.get_closest_marker("seeder")
    args, kwargs = (marker.args, marker.kwargs) if marker is not None else ((), {})
    usage = "use @pytest.mark.seeder(customers=N, seed=S, scenario=SCENARIO_OR_TOML_PATH)"
    if args:
        pytest.fail(f"@pytest.mark.seeder takes keyword arguments only; {usage}", pytrace=False)
    unknown = sorted(set(kwargs) - set(MARKER_ARGUMENTS))
    if unknown:
        pytest.fail(f"@pytest.mark.seeder has no argument {', '.join(unknown)}; {usage}",
                    pytrace=False)
    customers = kwargs.get("customers", DEFAULT_CUSTOMERS)
    seed = kwargs.get("seed", DEFAULT_SEED)
    with _failing("@pytest.mark.seeder"):
        scenario = _scenario(kwargs.get("scenario"), request.path.parent)
    return Dataset(customers, seed, scenario)


def _scenario(value: Any, test_directory: Path) -> seeder.Scenario:
    if value is None:
        return seeder.Scenario()
    if isinstance(value, seeder.Scenario):
        return value
    if isinstance(value, str | os.PathLike):
        return seeder.load_scenario(test_directory / value)
    raise seeder.InvalidArgument(
        f"scenario must be a seeder.Scenario or the path of a TOML file, not {value!r}")


class Datasets:
    """One template per distinct dataset, built when first asked for; a copy per test."""

    def __init__(self) -> None:
        self._templates: dict[str, str] = {}
        self._serial = 0

    def copy(self, dataset: Dataset) -> str:
        """The URL of a new database that holds `dataset`."""
        template = self._templates.get(dataset.key)
        if template is None:
            # generate() checks its arguments at once and makes rows only when asked: a bad
            # marker fails before any database is made.
            seeder.generate(customers=dataset.customers, seed=dataset.seed,
                            scenario=dataset.scenario)
            url = self._new_database(self._label("template"))
            seeder.init_db(url)
            seeder.populate(url, customers=dataset.customers, seed=dataset.seed,
                            scenario=dataset.scenario)
            template = self._templates[dataset.key] = self._seal(url)
        return self._copy(template, self._label("test"))

    def _label(self, kind: str) -> str:
        """A label no other database of this session has."""
        self._serial += 1
        return f"{kind}_{self._serial}"

    def _new_database(self, label: str) -> str:
        """The URL of a new, empty database, registered for removal."""
        raise NotImplementedError

    def _seal(self, url: str) -> str:
        """The populated database at `url` as a template, in the form _copy takes."""
        raise NotImplementedError

    def _copy(self, template: str, label: str) -> str:
        """The URL of a new copy of the template, registered for removal."""
        raise NotImplementedError

    def discard(self, url: str) -> None:
        """Remove a test's database."""
        raise NotImplementedError

    def close(self) -> None:
        """Remove every database still there, templates included."""
        raise NotImplementedError


class SQLiteDatasets(Datasets):
    """Files in a directory of pytest's; each copy is a file copy of the closed template."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self._directory = directory

    def _new_database(self, label: str) -> str:
        return f"sqlite:///{self._directory / label}.db"

    def _seal(self, url: str) -> str:
        # populate closed the file: a plain file copy is a consistent database.
        return url.removeprefix("sqlite:///")

    def _copy(self, template: str, label: str) -> str:
        path = self._directory / f"{label}.db"
        try:
            shutil.copyfile(template, path)
        except OSError as error:
            raise seeder.DatabaseError(f"cannot copy {template} to {path}: {error.strerror}; "
                                       "free some disk space") from None
        return f"sqlite:///{path}"

    def discard(self, url: str) -> None:
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self._directory)


class PostgresDatasets(Datasets):
    """Databases on one PostgreSQL server, made and dropped through an admin connection."""

    def __init__(self, admin_url: str) -> None:
        super().__init__()
        # Imported here, as the rest of seeder's database code: sessions that never ask for a
        # PostgreSQL database do not load it.
        from seeder.database import open_database

        self._url = _postgres_url(admin_url)
        self._token = secrets.token_hex(6)
        # Every database name this session has made or is making, in order.
        self._made: list[str] = []
        # URL handed out -> database name.
        self._names: dict[str, str] = {}
        # One admin connection for the session, closed (and its engine disposed) by close().
        self._session = contextlib.ExitStack()
        self._database = self._session.enter_context(open_database(self._url))
        self._admin = self._database.connection.execution_options(isolation_level="AUTOCOMMIT")

    def _new_database(self, label: str) -> str:
        name = self._register(label)
        self._execute(f"CREATE DATABASE {self._quote(name)}")
        return self._url_of(name)

    def _seal(self, url: str) -> str:
        # No one connects to a template after its build: a session connected to it would
        # make every clone fail (see _copy).
        name = self._names.pop(url)
        self._execute(f"ALTER DATABASE {self._quote(name)} ALLOW_CONNECTIONS false")
        return name

    def _copy(self, template: str, label: str) -> str:
        from sqlalchemy.exc import DBAPIError

        name = self._register(label)
        with self._database.errors():
            try:
                self._admin.exec_driver_sql(
                    f"CREATE DATABASE {self._quote(name)} TEMPLATE {self._quote(template)}")
            except DBAPIError as error:
                if getattr(error.orig, "sqlstate", None) != OBJECT_IN_USE:
                    raise
                raise seeder.DatabaseError(
                    f"cannot clone template database {template} on {self._database.display}: "
                    f"{self._database.backend.reason(error)}; close the connections to it "
                    "(tests get their own clone and must not connect to the template)") from None
        return self._url_of(name)

    def discard(self, url: str) -> None:
        name = self._names[url]
        self._drop(name)
        self._made.remove(name)
        del self._names[url]

    def close(self) -> None:
        failures = []
        for name in reversed(self._made):
            try:
                self._drop(name)
            except seeder.SeederError as error:
                failures.append(f"{name} ({error})")
        self._session.close()
        if failures:
            raise seeder.DatabaseError(f"could not drop {', '.join(failures)}; drop them by hand")

    def _register(self, label: str) -> str:
        """A name of this session's, recorded before the database exists, so that an
        interruption between CREATE and its return still leaves it to be dropped."""
        name = f"{NAME_PREFIX}{self._token}_{label}"
        self._made.append(name)
        return name

    def _drop(self, name: str) -> None:
        # FORCE ends the sessions a test left connected.
        self._execute(f"DROP DATABASE IF EXISTS {self._quote(name)} WITH (FORCE)")

    def _url_of(self, name: str) -> str:
        url = self._url.set(database=name).render_as_string(hide_password=False)
        self._names[url] = name
        return url

    def _quote(self, name: str) -> str:
        return self._admin.dialect.identifier_preparer.quote(name)

    def _execute(self, statement: str) -> None:
        with self._database.errors():
            self._admin.exec_driver_sql(statement)


def _postgres_url(admin_url: str) -> URL:
    from seeder.urls import display_url, parse_database_url

    url = parse_database_url(admin_url)
    if url.drivername.partition("+")[0] not in ("postgresql", "postgres"):
        raise seeder.DatabaseURLError(
            f"--seeder-url (or ${URL_VARIABLE}) {display_url(url)} is not a PostgreSQL URL; "
            "give postgresql://USER@HOST:PORT/DATABASE, or neither for SQLite files")
    return url
