"""What the test modules share: throwaway databases and running the CLI in-process.

PostgreSQL and MariaDB (or MySQL) are reached through admin URLs (defaults: the local servers,
override with $SEEDER_TEST_POSTGRES_URL and $SEEDER_TEST_MYSQL_URL). When a server cannot be
reached its cases are skipped, except under CI=true, where they fail: CI must test every
backend.

pytest puts tests/ on sys.path (it has no __init__.py), so test modules `from support import`.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from click.testing import CliRunner, Result
from psycopg import sql
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL, make_url

from seeder.backends import backend_for_url
from seeder.cli import cli
from seeder.exercises import drop_variants
from seeder.urls import parse_database_url

# The server the PostgreSQL cases create their throwaway databases on (any existing database
# works as the admin one; the user needs CREATEDB).
POSTGRES_ADMIN_URL = os.environ.get(
    "SEEDER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

MYSQL_ADMIN_URL = os.environ.get("SEEDER_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/mysql")

BACKENDS = ["sqlite", "postgresql", "mysql"]


# --- databases --------------------------------------------------------------------------------


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def admin_connection() -> psycopg.Connection:
    """An autocommit connection to POSTGRES_ADMIN_URL; skips the test (fails under CI=true)
    when the server cannot be reached."""
    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        _unreachable("PostgreSQL", POSTGRES_ADMIN_URL, " ".join(str(exc).split()),
                     "SEEDER_TEST_POSTGRES_URL")


def _unreachable(name: str, url: str, reason: str, variable: str) -> None:
    shown = make_url(url).render_as_string(hide_password=True)
    message = (f"{name} is not reachable at {shown} ({reason}); "
               f"start it or point {variable} at a server")
    if _in_ci():
        pytest.fail(f"CI=true requires {name}: {message}", pytrace=False)
    pytest.skip(message)


def mysql_admin_connection() -> pymysql.Connection:
    """An autocommit connection to MYSQL_ADMIN_URL; skips the test (fails under CI=true)
    when the server cannot be reached."""
    try:
        return mysql_connection(make_url(MYSQL_ADMIN_URL).set(database=None))
    except pymysql.Error as exc:
        _unreachable("MariaDB", MYSQL_ADMIN_URL, " ".join(str(exc).split()),
                     "SEEDER_TEST_MYSQL_URL")


def mysql_connection(url: str | URL) -> pymysql.Connection:
    """An autocommit PyMySQL connection to the URL's server and database, beside seeder's."""
    url = make_url(url)
    return pymysql.connect(host=url.host, port=url.port or 3306, user=url.username,
                           password=url.password or "", database=url.database,
                           autocommit=True, connect_timeout=5)


@contextlib.contextmanager
def new_database(backend: str, directory: Path) -> Iterator[str]:
    """A new empty database URL, as a user would write it: a file in `directory` on SQLite,
    a uniquely named database on PostgreSQL or MariaDB (dropped afterwards)."""
    if backend == "sqlite":
        yield f"sqlite:///{directory}/test.db"
        return
    if backend == "mysql":
        name = f"seeder_test_{uuid.uuid4().hex[:12]}"
        with mysql_admin_connection() as admin, admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}`")
        try:
            yield make_url(MYSQL_ADMIN_URL).set(database=name).render_as_string(
                hide_password=False)
        finally:
            with mysql_admin_connection() as admin, admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        return
    name = f"seeder_test_{uuid.uuid4().hex[:12]}"
    with admin_connection() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin_connection() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def seeder_engine(url: str) -> Engine:
    """An engine set up as seeder sets up its own (SQLite: foreign keys enforced)."""
    parsed = parse_database_url(url)
    backend = backend_for_url(parsed)
    return backend.create_engine(backend.driver_url(parsed))


def staging_schemas(url: str) -> list[str]:
    """The PostgreSQL staging schemas of populates (seeder_load_*) in the database."""
    engine = seeder_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.scalars(text(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'seeder_load_%'")))
    finally:
        engine.dispose()


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path`: a disk that fills up for real. Skipped where it
    cannot be mounted (not root), except under CI=true, where it fails."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        reason = f"cannot mount a small tmpfs: {mounted.stderr.strip()}"
        if _in_ci():
            pytest.fail(f"CI=true requires a full-disk test: {reason}")
        pytest.skip(reason)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


# --- the command line -------------------------------------------------------------------------


def invoke(url: str, *args: str, input: str | None = None) -> Result:
    """`seeder --database-url URL ARGS...`, run in-process."""
    return CliRunner().invoke(cli, ["--database-url", url, *args], input=input,
                              prog_name="seeder")


def ok(result: Result) -> Result:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 0, result.output
    return result


def one_line_error(result: Result) -> str:
    """The single `seeder: error:` line of a failed command, after checking how it failed."""
    assert result.exit_code != 0, result.output
    # A SeederError ends in SystemExit; anything else escaped the CLI (a traceback for users).
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return one_line_error_of(result.stderr)


def one_line_error_of(stderr: str) -> str:
    """The single `seeder: error:` line of a failed command's stderr (in-process or a
    process's)."""
    errors = [line for line in stderr.splitlines() if line.startswith("seeder: error:")]
    assert len(errors) == 1, stderr
    # Nothing else but the chosen seed (printed before a populate starts) may accompany it.
    others = [line for line in stderr.splitlines()
              if line.strip() and not line.startswith(("seeder: error:", "seed "))]
    assert others == [], stderr
    return errors[0]


def seeder_process(*args: str, cwd: Path, **popen: Any) -> subprocess.Popen:
    """`python -m seeder ARGS...` in its own process, as a user starts it (no
    $SEEDER_DATABASE_URL from the test's environment); text stdout and stderr piped."""
    env = {key: value for key, value in os.environ.items() if key != "SEEDER_DATABASE_URL"}
    return subprocess.Popen([sys.executable, "-m", "seeder", *args], cwd=cwd, env=env,
                            stdout=popen.pop("stdout", subprocess.PIPE),
                            stderr=subprocess.PIPE, text=True, **popen)


@contextlib.contextmanager
def reaped(process: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """The process, killed on the way out if a failed assertion left it running."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- learners' databases for the exercises ----------------------------------------------------


def populated_learners(stack: contextlib.ExitStack, tmp_path_factory: pytest.TempPathFactory,
                       *, customers: int, seed: int) -> Callable[[str], str]:
    """backend -> the URL of a learner's database, made by `seeder init-db` and `seeder
    populate` the first time a backend is asked for. `stack` drops each database on closing,
    after the hidden variants that checks built from it."""
    urls: dict[str, str] = {}

    def get(backend: str) -> str:
        if backend not in urls:
            url = stack.enter_context(new_database(backend, tmp_path_factory.mktemp(backend)))
            ok(invoke(url, "init-db"))
            ok(invoke(url, "populate", "--customers", str(customers), "--seed", str(seed)))
            stack.callback(drop_variants, url)  # before the database itself is dropped
            urls[backend] = url
        return urls[backend]

    return get


@contextlib.contextmanager
def scoped_engine(url: str) -> Iterator[Engine]:
    """seeder_engine(url) for the `with` block, disposed at its end."""
    engine = seeder_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
