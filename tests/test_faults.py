"""Faults found by an adversarial round, one section per finding: secrets in URLs, sizes that
cannot be met, waits without end, the truth about COMMIT, URLs that lie, exports, full disks,
exit codes and pipes. Damaged schemas and concurrent schema commands are in test_damage.py,
readers and lock holders in test_readers.py, scenario files in test_scenario.py and column
limits in test_limits.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from support import (
    POSTGRES_ADMIN_URL,
    admin_connection,
    invoke,
    ok,
    one_line_error,
    reaped,
    scoped_engine,
    seeder_process,
    small_disk,
)

from seeder.backends.postgresql import PostgresBackend

SECRET = "Zq8secret"
REFUSED = "127.0.0.1:1"  # nothing listens on port 1: connection refused at once


@pytest.fixture(autouse=True)
def _no_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEEDER_DATABASE_URL", raising=False)


# --- 1. secrets in URLs, on every output path --------------------------------------------------


def _server_url(database: str, form: str, host: str = "127.0.0.1:5432") -> str:
    """A URL to `database` on `host` carrying SECRET in one of the ways users write secrets."""
    user = make_url(POSTGRES_ADMIN_URL).username or "postgres"
    return {
        "password": f"postgresql://{user}:{SECRET}@{host}/{database}",
        "password option": f"postgresql://{user}@{host}/{database}?password={SECRET}",
        "sslpassword option": f"postgresql://{user}@{host}/{database}?sslpassword={SECRET}",
        "both options, mixed case": (f"postgresql://{user}@{host}/{database}"
                                     f"?PassWord={SECRET}&sslpassword={SECRET}"),
        "unencoded @ in the password": f"postgresql://{user}:p@{SECRET}@{host}/{database}",
    }[form]


SECRET_FORMS = ["password", "password option", "sslpassword option",
                "both options, mixed case", "unencoded @ in the password"]
COMMANDS = [
    ("init-db",),
    ("init-db",),  # the second says there is nothing to do
    ("info",),
    ("info", "--json"),
    ("populate", "--customers", "50", "--seed", "1"),
    ("populate", "--customers", "50", "--seed", "1"),  # refused: already holds a dataset
    ("populate", "--customers", "50", "--replace"),
    ("reset-db",),  # the prompt, answered no
    ("reset-db", "--yes"),
]


def _everything_printed(result: Result) -> str:
    return result.output + result.stderr + repr(result.exception)


@pytest.mark.parametrize("form", SECRET_FORMS)
def test_no_command_prints_a_secret_on_success_or_refusal(form: str,
                                                          postgres_database_url: str) -> None:
    url = _server_url(make_url(postgres_database_url).database, form)
    for args in COMMANDS:
        result = invoke(url, *args, input="n\n")
        assert SECRET not in _everything_printed(result), (args, _everything_printed(result))


@pytest.mark.parametrize("form", SECRET_FORMS)
@pytest.mark.parametrize("failure", ["refused", "missing database", "not initialised",
                                     "bad option"])
def test_no_error_prints_a_secret(form: str, failure: str, postgres_database_url: str) -> None:
    database = make_url(postgres_database_url).database
    url = {
        "refused": _server_url("shop", form, host=REFUSED),
        "missing database": _server_url(f"{database}_missing", form),
        "not initialised": _server_url(database, form),
        "bad option": _server_url(database, form) + ("&" if "?" in _server_url(database, form)
                                                    else "?") + "port=abc",
    }[failure]
    failing = [("info",), ("info", "--json"), ("populate", "--customers", "50", "--seed", "1"),
               ("reset-db", "--yes")]
    if failure != "not initialised":
        failing.append(("init-db",))
    for args in failing:
        result = invoke(url, *args)
        error = one_line_error(result)
        assert SECRET not in _everything_printed(result), (args, error)


def test_a_failing_subprocess_prints_no_secret(tmp_path: Path) -> None:
    """The real entry point, with logging and warnings as a user's terminal shows them."""
    for form in SECRET_FORMS:
        process = seeder_process("--database-url", _server_url("shop", form, host=REFUSED),
                          "populate", "--customers", "5", cwd=tmp_path)
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 1
        assert SECRET not in stdout + stderr
        assert "Traceback" not in stderr
        assert stderr.splitlines()[-1].startswith("seeder: error:")


# --- 2. sizes that cannot be met ----------------------------------------------------------------


def test_a_size_beyond_the_limits_is_refused_before_any_work(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shop.db"
    ok(invoke(url, "init-db"))
    started = time.monotonic()
    error = one_line_error(invoke(url, "populate", "--customers", "1000000000000", "--seed",
                                  "1"))
    assert time.monotonic() - started < 5
    assert "1,000,000,000,000 customers is more than the 1,089,000,000 there can be" in error


@pytest.mark.parametrize("signal_number, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_planning_answers_a_signal_within_two_seconds(tmp_path: Path, signal_number: int,
                                                      status: int) -> None:
    url = f"sqlite:///{tmp_path}/shop.db"
    ok(invoke(url, "init-db"))
    # 50 million customers take a minute to plan, before anything is written.
    with reaped(seeder_process("--database-url", url, "populate", "--customers", "50000000",
                               "--seed", "1", cwd=tmp_path)) as process:
        time.sleep(3)
        assert process.poll() is None
        process.send_signal(signal_number)
        started = time.monotonic()
        _, stderr = process.communicate(timeout=30)
        answered = time.monotonic() - started
    assert process.returncode == status
    assert answered < 2.5
    assert stderr.strip().splitlines() == [
        "seeder: error: interrupted; the transaction was rolled back and the database is "
        "unchanged"]


# --- 3. waits without end: a server that stops answering ----------------------------------------


def _backend_of(database: str) -> int:
    with admin_connection() as admin:
        row = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND "
                            "query LIKE 'COPY %%'", (database,)).fetchone()
    return row[0] if row else 0


def test_a_frozen_server_does_not_hold_the_process(postgres_database_url: str,
                                                   tmp_path: Path) -> None:
    url = postgres_database_url
    ok(invoke(url, "init-db"))
    with reaped(seeder_process("--database-url", url, "populate", "--customers", "300000",
                               "--seed", "1", "--batch-size", "500", cwd=tmp_path)) as process:
        frozen = 0
        try:
            deadline = time.monotonic() + 60
            while not (frozen := _backend_of(make_url(url).database)):
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "populate never started its COPY"
                time.sleep(0.02)
            os.kill(frozen, signal.SIGSTOP)  # the server process stops answering mid-COPY
            time.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            _, stderr = process.communicate(timeout=30)
            answered = time.monotonic() - started
        finally:
            if frozen:
                os.kill(frozen, signal.SIGCONT)
    assert process.returncode == 143
    assert answered < 5
    assert stderr.strip().splitlines()[-1] == (
        "seeder: error: interrupted; the database did not answer within 2 s, so the "
        "connection was closed and the transaction rolled back with it")
    with scoped_engine(url) as engine:
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM customers")) == 0


# --- 4. the truth about COMMIT ------------------------------------------------------------------


def test_a_connection_lost_during_commit_is_an_unknown_outcome(
        postgres_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_database_url
    ok(invoke(url, "init-db"))
    real_create_engine = PostgresBackend.create_engine

    def create_engine(self, engine_url):
        engine = real_create_engine(self, engine_url)

        @event.listens_for(engine, "commit")
        def lose_the_connection(connection) -> None:
            pid = connection.connection.driver_connection.info.backend_pid
            with admin_connection() as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

        return engine

    monkeypatch.setattr(PostgresBackend, "create_engine", create_engine)
    error = one_line_error(invoke(url, "populate", "--customers", "100", "--seed", "1"))
    assert error.endswith("the connection was lost during COMMIT, so whether the data was "
                          "written is unknown: check with `seeder info`")
    assert "nothing was written" not in error


# --- 5. URLs that lie ---------------------------------------------------------------------------


@pytest.mark.parametrize("url, message", [
    ("postgresql://postgres@127.0.0.1:5433/postgres%00x", "has a control character in its "
     "database name (percent-encoded, such as %00); remove it"),
    ("postgresql://postgres@127.0.0.1:5432", "names no database; add it, as in "
     "postgresql://postgres@127.0.0.1:5432/DATABASE"),
    ("postgresql://postgres@127.0.0.1:abc/shop", "has a port that is not a number"),
    ("sqlite:///shop.db?timeout=abc", "the database URL option timeout=abc is not a number"),
    ("sqlite:///shop.db?check_same_thread=maybe", "the database URL option "
     "check_same_thread=maybe is not"),
])
def test_urls_that_would_mislead_are_refused(url: str, message: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (("init-db",), ("info",), ("populate", "--customers", "5", "--seed", "1")):
        assert message in one_line_error(invoke(url, *args)), args
    assert list(tmp_path.iterdir()) == []


# --- 7. exports ---------------------------------------------------------------------------------


def test_an_export_that_fills_the_disk_leaves_the_earlier_one(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "600k") as disk:
        out = disk / "data"
        ok(invoke("sqlite:///unused.db", "export", "--customers", "300", "--seed", "1",
                  "--out", str(out)))
        earlier = {file.name: file.read_bytes() for file in out.iterdir()}
        error = one_line_error(invoke("sqlite:///unused.db", "export", "--customers", "20000",
                                      "--seed", "2", "--out", str(out)))
        assert error == (f"seeder: error: cannot write to {out}: No space left on device; "
                         f"the earlier export in {out}, if any, is untouched")
        assert {file.name: file.read_bytes() for file in out.iterdir()} == earlier
        assert sorted(path.name for path in disk.iterdir()) == ["data"]


def test_an_interrupted_export_leaves_the_earlier_one(tmp_path: Path) -> None:
    out = tmp_path / "data"
    ok(invoke("sqlite:///unused.db", "export", "--customers", "300", "--seed", "1",
              "--out", str(out)))
    earlier = {file.name: file.read_bytes() for file in out.iterdir()}
    with reaped(seeder_process("export", "--customers", "3000000", "--seed", "2", "--out",
                               str(out), cwd=tmp_path)) as process:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".data.*.partial/transactions.csv")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1] == (
        f"seeder: error: interrupted; nothing was written, and the earlier export in {out}, if "
        "any, is untouched")
    assert {file.name: file.read_bytes() for file in out.iterdir()} == earlier
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]


# --- 8. SQLite on a full disk -------------------------------------------------------------------


def test_sqlite_populate_on_a_full_disk_says_to_keep_the_journal(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "1m") as disk:
        url = f"sqlite:///{disk}/shop.db"
        ok(invoke(url, "init-db"))
        error = one_line_error(invoke(url, "populate", "--customers", "20000", "--seed", "1"))
        assert "database or disk is full; free some space (leave any -journal file beside " \
               "the database where it is: SQLite restores the file from it the next time " \
               "the database is opened)" in error
        assert error.endswith("nothing was written")


def test_init_db_on_a_full_disk_removes_what_it_created(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "8k") as disk:
        (disk / "filler").write_bytes(b"x" * (disk.stat().st_size or 1))
        with contextlib.suppress(OSError):
            with open(disk / "filler", "ab") as filler:
                while True:
                    filler.write(b"x" * 4096)
                    filler.flush()
        error = one_line_error(invoke(f"sqlite:///{disk}/shop.db", "init-db"))
        assert "database or disk is full" in error or "disk I/O error" in error
        assert sorted(path.name for path in disk.iterdir()) == ["filler"]


# --- 11. exit codes and pipes -------------------------------------------------------------------


def test_output_into_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shop.db"
    ok(invoke(url, "init-db"))
    ok(invoke(url, "populate", "--customers", "100", "--seed", "1"))
    reader, writer = os.pipe()
    os.close(reader)  # `| head` that has already exited
    with os.fdopen(writer, "w") as closed_pipe:
        process = seeder_process("--database-url", url, "info", cwd=tmp_path, stdout=closed_pipe)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert stderr == ""


def test_output_to_a_full_device_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shop.db"
    ok(invoke(url, "init-db"))
    with open("/dev/full", "w") as full:
        process = seeder_process("--database-url", url, "populate", "--customers", "100",
                                 "--seed", "1", cwd=tmp_path, stdout=full)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert stderr.strip().splitlines() == [
        "seeder: error: cannot write the output: No space left on device (the populate "
        "command itself completed)"]
    facts = json.loads(ok(invoke(url, "info", "--json")).output)
    assert facts["row_counts"]["customers"] == 100  # the populate itself went through
