"""The pytest plugin (seeder/pytest_plugin.py), run in inner pytest sessions through `pytester`.

The inner sessions load the plugin the way users get it, through the `pytest11` entry point of
the installed package. Every case that touches a database runs on SQLite (no option) and on
PostgreSQL (`--seeder-url`, the server of support.POSTGRES_ADMIN_URL), which must be reachable
under CI=true.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from support import BACKENDS, POSTGRES_ADMIN_URL, admin_connection

from seeder.pytest_plugin import NAME_PREFIX, URL_VARIABLE

pytest_plugins = ["pytester"]

# The inner sessions' shared helpers: `shop` is the test's database as an engine, and each test
# that uses it appends what it saw (its URL and the populate that made the data) to seen.jsonl.
INNER_CONFTEST = '''
import json

import pytest
from sqlalchemy import create_engine, select

from seeder.models import SeedRun


def engine_for(url):
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


@pytest.fixture
def shop(request, seeder_url):
    engine = engine_for(seeder_url)
    with engine.connect() as connection:
        run = connection.execute(select(SeedRun.__table__)).one()
        seen = {"test": request.node.name, "url": seeder_url, "seed": run.seed,
                "customers": run.customers, "locale": run.scenario["locale"],
                "populated_at": run.started_at.isoformat()}
    with open(request.config.rootpath / "seen.jsonl", "a") as file:
        file.write(json.dumps(seen) + "\\n")
    yield engine
    engine.dispose()
'''


@pytest.fixture(autouse=True)
def _no_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_VARIABLE, raising=False)


# The plugin serves SQLite and PostgreSQL (it clones template databases; MySQL has no clone).
@pytest.fixture(params=[name for name in BACKENDS if name != "mysql"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        admin_connection().close()  # skips, or fails under CI=true, without a server
    return request.param


@pytest.fixture
def postgres_url() -> str:
    """The admin URL of the PostgreSQL server, once it answers (see support.admin_connection)."""
    admin_connection().close()
    return POSTGRES_ADMIN_URL


@pytest.fixture
def plugin_args(backend: str) -> list[str]:
    """The inner session's options that choose the backend."""
    return ["--seeder-url", POSTGRES_ADMIN_URL] if backend == "postgresql" else []


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(INNER_CONFTEST)
    return pytester


def seen(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    """What each inner test recorded, by test name."""
    lines = (pytester.path / "seen.jsonl").read_text().splitlines()
    return {record["test"]: record for record in map(json.loads, lines)}


def databases_of_session(url: str) -> list[str]:
    """Every PostgreSQL database of the inner session that made the database at `url`."""
    name = make_url(url).database
    token = name.removeprefix(NAME_PREFIX).split("_")[0]
    with admin_connection() as admin:
        rows = admin.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)",
                             (f"{NAME_PREFIX}{token}_",)).fetchall()
    return sorted(row[0] for row in rows)


def database_exists(backend: str, url: str) -> bool:
    if backend == "sqlite":
        return Path(make_url(url).database).exists()
    return make_url(url).database in databases_of_session(url)


# --- the dataset ------------------------------------------------------------------------------


def test_each_test_gets_the_marked_dataset_and_sees_no_other_tests_changes(
        inner: pytest.Pytester, plugin_args: list[str]) -> None:
    inner.makepyfile(test_shop='''
        import pytest
        from sqlalchemy import text

        @pytest.mark.seeder(customers=30, seed=5)
        def test_changes_everything(shop):
            with shop.begin() as connection:
                assert connection.scalar(text("SELECT count(*) FROM customers")) == 30
                connection.execute(text("DELETE FROM referral_links"))
                connection.execute(text("UPDATE customers SET first_name = 'Changed'"))

        @pytest.mark.seeder(customers=30, seed=5)
        def test_sees_the_dataset_as_made(shop):
            with shop.connect() as connection:
                assert connection.scalar(text("SELECT count(*) FROM referral_links")) > 0
                changed = "SELECT count(*) FROM customers WHERE first_name = 'Changed'"
                assert connection.scalar(text(changed)) == 0
    ''')
    inner.runpytest(*plugin_args).assert_outcomes(passed=2)
    first, second = seen(inner).values()
    assert (first["seed"], first["customers"]) == (5, 30)
    assert first["url"] != second["url"]
    # One populate made both tests' data: the template was built once and copied.
    assert first["populated_at"] == second["populated_at"]


def test_each_distinct_dataset_is_built_once(inner: pytest.Pytester,
                                             plugin_args: list[str]) -> None:
    inner.mkdir("tests")
    # locale en_GB: a scenario that differs from the default; the file is found beside the test
    # file, not in the directory pytest runs in.
    (inner.path / "tests" / "british.toml").write_text('locale = "en_GB"\n')
    (inner.path / "tests" / "test_datasets.py").write_text('''
import pytest

from seeder import Scenario

@pytest.mark.seeder(customers=20, seed=1)
def test_a(shop): pass

@pytest.mark.seeder(customers=20, seed=1)
def test_same_as_a(shop): pass

@pytest.mark.seeder(customers=20, seed=2)
def test_other_seed(shop): pass

@pytest.mark.seeder(customers=21, seed=1)
def test_other_size(shop): pass

@pytest.mark.seeder(customers=20, seed=1, scenario=Scenario(locale="en_GB"))
def test_scenario_object(shop): pass

@pytest.mark.seeder(customers=20, seed=1, scenario="british.toml")
def test_scenario_file_equal_to_the_object(shop): pass

def test_unmarked(shop): pass

@pytest.mark.seeder(customers=20, seed=2)
class TestMarkedClass:
    def test_in_class(self, shop): pass
''')
    inner.runpytest(*plugin_args).assert_outcomes(passed=8)
    records = seen(inner)
    made = {name: (r["customers"], r["seed"], r["locale"]) for name, r in records.items()}
    assert made == {
        "test_a": (20, 1, "en_US"),
        "test_same_as_a": (20, 1, "en_US"),
        "test_other_seed": (20, 2, "en_US"),
        "test_other_size": (21, 1, "en_US"),
        "test_scenario_object": (20, 1, "en_GB"),
        "test_scenario_file_equal_to_the_object": (20, 1, "en_GB"),
        "test_unmarked": (100, 42, "en_US"),
        "test_in_class": (20, 2, "en_US"),
    }
    builds: dict[str, list[str]] = {}
    for name, record in records.items():
        builds.setdefault(record["populated_at"], []).append(name)
    assert sorted(builds.values()) == sorted([
        ["test_a", "test_same_as_a"],
        ["test_other_seed", "test_in_class"],
        ["test_other_size"],
        ["test_scenario_object", "test_scenario_file_equal_to_the_object"],
        ["test_unmarked"],
    ])
    assert len({record["url"] for record in records.values()}) == len(records)


@pytest.mark.parametrize(("marker", "message"), [
    ("seeder(20)", "@pytest.mark.seeder takes keyword arguments only; use "
                   "@pytest.mark.seeder(customers=N, seed=S, scenario=SCENARIO_OR_TOML_PATH)"),
    ("seeder(customer=20)", "@pytest.mark.seeder has no argument customer; use *"),
    ("seeder(customers=0)", "seeder_url: customers must be a positive integer, not 0"),
    ("seeder(seed=-1)", "seeder_url: seed must be an integer from 0 to *, not -1"),
    ("seeder(scenario=12)", "@pytest.mark.seeder: scenario must be a seeder.Scenario or the "
                            "path of a TOML file, not 12"),
    ("seeder(scenario='missing.toml')", "@pytest.mark.seeder: cannot read scenario file "
                                        "*/missing.toml: No such file or directory"),
])
def test_bad_marker_fails_the_test_with_the_reason(pytester: pytest.Pytester, marker: str,
                                                   message: str) -> None:
    pytester.makepyfile(f'''
        import pytest

        @pytest.mark.{marker}
        def test_marked(seeder_url):
            pass
    ''')
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str()


# --- cleaning up ------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["pass", "assert False", "raise KeyboardInterrupt"])
def test_every_database_is_removed_when_the_session_ends(
        inner: pytest.Pytester, backend: str, plugin_args: list[str], ending: str) -> None:
    inner.makepyfile(test_end=f'''
        import pytest

        @pytest.mark.seeder(customers=20)
        def test_first(shop):
            pass

        @pytest.mark.seeder(customers=20)
        def test_second(shop):
            {ending}

        @pytest.mark.seeder(customers=21)
        def test_never_reached_after_an_interrupt(shop):
            pass
    ''')
    # (Without no_reraise_ctrlc, pytester passes the inner session's Ctrl-C on to this one.)
    result = inner.runpytest(*plugin_args, no_reraise_ctrlc=True)
    records = seen(inner)
    if ending == "raise KeyboardInterrupt":
        assert result.ret == pytest.ExitCode.INTERRUPTED
        assert list(records) == ["test_first", "test_second"]
    else:
        assert result.ret == (pytest.ExitCode.OK if ending == "pass"
                              else pytest.ExitCode.TESTS_FAILED)
    for record in records.values():
        assert not database_exists(backend, record["url"]), record
    if backend == "postgresql":
        assert databases_of_session(records["test_first"]["url"]) == []
    else:
        # The session's directory, templates and all, is gone.
        assert not Path(make_url(records["test_first"]["url"]).database).parent.exists()


def test_databases_are_removed_after_ctrl_c_while_a_template_is_built(
        pytester: pytest.Pytester, backend: str, plugin_args: list[str]) -> None:
    # Ctrl-C right after the template's populate, before the fixture hands anything out; in a
    # process of its own, as a user would press it.
    pytester.makeconftest('''
        import json

        import pytest

        import seeder

        populate = seeder.populate

        def populate_then_ctrl_c(url, **options):
            with open("built.txt", "a") as file:
                file.write(url + "\\n")
            populate(url, **options)
            raise KeyboardInterrupt

        @pytest.fixture(autouse=True)
        def interrupted(monkeypatch):
            monkeypatch.setattr(seeder, "populate", populate_then_ctrl_c)
    ''')
    pytester.makepyfile("def test_one(seeder_url): pass")
    result = pytester.runpytest_subprocess(*plugin_args)
    assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()
    [template_url] = (pytester.path / "built.txt").read_text().splitlines()
    assert not database_exists(backend, template_url)
    if backend == "postgresql":
        assert databases_of_session(template_url) == []


def test_a_tests_database_is_removed_when_the_test_ends(
        inner: pytest.Pytester, backend: str, plugin_args: list[str]) -> None:
    inner.makepyfile(test_order=f'''
        import json
        from pathlib import Path

        from sqlalchemy.engine import make_url

        def test_first(shop):
            pass

        def test_second(shop, request):
            first = json.loads((request.config.rootpath / "seen.jsonl").read_text().splitlines()[0])
            if {backend!r} == "sqlite":
                assert not Path(make_url(first["url"]).database).exists()
            else:
                with shop.connect() as connection:
                    names = connection.exec_driver_sql("SELECT datname FROM pg_database")
                    assert make_url(first["url"]).database not in names.scalars().all()
    ''')
    inner.runpytest(*plugin_args).assert_outcomes(passed=2)


# --- PostgreSQL -------------------------------------------------------------------------------


def test_url_from_the_environment_with_its_options(
        inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, postgres_url: str) -> None:
    admin = make_url(postgres_url).update_query_dict({"application_name": "plugin_test"})
    monkeypatch.setenv(URL_VARIABLE, admin.render_as_string(hide_password=False))
    inner.makepyfile("def test_one(shop): pass")
    inner.runpytest().assert_outcomes(passed=1)
    url = make_url(seen(inner)["test_one"]["url"])
    assert url.database.startswith(NAME_PREFIX)
    # The test's database is on the same server, reached the same way.
    assert url.set(database=admin.database) == admin


def test_clone_fails_clearly_when_the_template_is_in_use(inner: pytest.Pytester,
                                                         postgres_url: str) -> None:
    inner.makepyfile(test_in_use='''
        import psycopg
        from sqlalchemy.engine import make_url

        connections = []

        def test_connects_to_the_template(shop, seeder_url):
            clone = make_url(seeder_url)
            template = clone.database.rsplit("_test_", 1)[0] + "_template_1"
            # The plugin closed the template to connections; only this opens it again.
            with shop.begin() as connection:
                connection.exec_driver_sql(
                    f'ALTER DATABASE "{template}" ALLOW_CONNECTIONS true')
            connections.append(psycopg.connect(
                clone.set(database=template).render_as_string(hide_password=False)))

        def test_wants_a_clone(shop):
            pass
    ''')
    # PostgreSQL waits 5 s for the template's other sessions to leave before it gives up.
    result = inner.runpytest("--seeder-url", postgres_url)
    result.assert_outcomes(passed=1, errors=1)
    shown = make_url(postgres_url).render_as_string(hide_password=True)
    result.stdout.fnmatch_lines([
        f"seeder_url: cannot clone template database {NAME_PREFIX}*_template_1 on {shown}: "
        f'source database "{NAME_PREFIX}*_template_1" is being accessed by other users; '
        "close the connections to it (tests get their own clone and must not connect to the "
        "template)"])
    # The template and its lingering connection are gone all the same.
    assert databases_of_session(seen(inner)["test_connects_to_the_template"]["url"]) == []


@pytest.mark.parametrize(("url", "message"), [
    ("sqlite:///shop.db", "seeder_url: --seeder-url (or $SEEDER_TEST_URL) sqlite:///shop.db is "
                          "not a PostgreSQL URL; give postgresql://USER@HOST:PORT/DATABASE, or "
                          "neither for SQLite files"),
    ("postgresql://postgres:hunter2@127.0.0.1:1/postgres",
     "seeder_url: cannot use postgresql://postgres:***@127.0.0.1:1/postgres: connection failed*"),
    ("postgresql://127.0.0.1:5432", "seeder_url: the database URL postgresql://127.0.0.1:5432 "
                                    "names no database; add it, *"),
])
def test_unusable_url_fails_the_tests_that_ask_for_a_database(
        pytester: pytest.Pytester, url: str, message: str) -> None:
    pytester.makepyfile('''
        def test_needs_a_database(seeder_url): pass
        def test_plain(): pass
    ''')
    result = pytester.runpytest("--seeder-url", url)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([message])
    assert "hunter2" not in result.stdout.str()


def test_two_sessions_on_one_server_do_not_collide(pytester: pytest.Pytester,
                                                   postgres_url: str) -> None:
    """Two sessions at once (as pytest-xdist workers or two CI jobs) build the same dataset;
    each waits until both hold their databases, so equal names would have failed."""
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(test_together='''
        import os
        import time
        from pathlib import Path

        def test_together(shop):
            Path(f"ready_{os.getpid()}").touch()
            deadline = time.monotonic() + 60
            while len(list(Path().glob("ready_*"))) < 2:
                assert time.monotonic() < deadline, "the other session never got a database"
                time.sleep(0.1)
    ''')
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
               "--seeder-url", postgres_url]
    sessions = [pytester.popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
                for _ in range(2)]
    outputs = [session.communicate(timeout=120)[0].decode() for session in sessions]
    assert [session.returncode for session in sessions] == [0, 0], outputs
    urls = [json.loads(line)["url"] for line in
            (pytester.path / "seen.jsonl").read_text().splitlines()]
    assert len(set(urls)) == 2
    for url in urls:
        assert databases_of_session(url) == []


# --- tests that do not use the fixture --------------------------------------------------------


def test_tests_without_the_fixture_set_up_nothing(pytester: pytest.Pytester) -> None:
    # A server that refuses connections: any work at session start would fail the session.
    pytester.makepyfile("def test_plain(tmp_path): pass")
    result = pytester.runpytest("--setup-show",
                                "--seeder-url", "postgresql://postgres@127.0.0.1:1/postgres")
    result.assert_outcomes(passed=1)
    set_up = [line for line in result.outlines if "SETUP" in line]
    assert set_up != []
    assert not [line for line in set_up if "seeder" in line], set_up


def test_importing_the_plugin_loads_no_database_code() -> None:
    """pytest imports the plugin in every session of a project that has seeder installed."""
    code = ("import sys, seeder.pytest_plugin; "
            "print([m for m in ('numpy', 'sqlalchemy', 'psycopg') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
