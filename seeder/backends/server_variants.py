"""Hidden variants kept as databases on the learner's server (PostgreSQL, MySQL/MariaDB): what
the two backends share. Each says how to find, create and lock them; this module opens, fills,
lists and drops them the same way."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from seeder.backends import Fill
from seeder.database import Database, autocommit, open_database
from seeder.errors import VariantError


class ServerVariants:
    """Variants as databases on the learner's server, reached with the learner's URL with only
    the database name changed. Subclasses provide the SQL, refusals and locks below."""

    # Names of variant databases the learner may use, LIKE :prefix, ordered.
    NAMES_SQL: str

    def existing(self, connection: Connection, names: Sequence[str]) -> set[str]:
        """Which of the databases exist."""
        raise NotImplementedError

    def create_statement(self, connection: Connection) -> str:
        """CREATE DATABASE with a `{name}` to fill in, as the learner's database asks."""
        raise NotImplementedError

    def refusal(self, server: Connection, error: DBAPIError, names: Sequence[str]
                ) -> VariantError | None:
        """What to tell a learner whose user may not create databases; None for other errors."""
        raise NotImplementedError

    def exists_already(self, error: DBAPIError) -> bool:
        """Whether CREATE DATABASE failed because another check created it meanwhile."""
        return False

    def reserve(self, learner: Database, names: Sequence[str]) -> None:
        """Create the variant databases that do not exist yet."""
        connection = learner.connection
        with learner.errors():
            existing = self.existing(connection, names)
            create = self.create_statement(connection)
            connection.rollback()
        missing = [name for name in names if name not in existing]
        if not missing:
            return
        with autocommit(connection.engine.url) as server:
            for name in missing:
                try:
                    server.exec_driver_sql(create.format(name=quote(server, name)))
                except DBAPIError as error:
                    if (refusal := self.refusal(server, error, names)) is not None:
                        raise refusal from None
                    if not self.exists_already(error):
                        raise

    @contextlib.contextmanager
    def building(self, connection: Connection, name: str) -> Iterator[None]:
        """Hold the lock that lets one check at a time find out whether the variant is current
        and fill it; outside seeder's transactions, which would give up after a lock timeout."""
        raise NotImplementedError

    def open(self, learner_url: URL, name: str, current: Callable[[Connection], bool],
             fill: Fill, opened: contextlib.ExitStack) -> Connection:
        """A connection to the variant database, filled first unless it is current; a second
        check waits while one fills it."""
        url = learner_url.set(database=name)
        db = opened.enter_context(open_database(url))
        connection = db.connection
        with db.errors(), self.building(connection, name):
            try:
                is_current = current(connection)
                connection.rollback()
                if not is_current:
                    fill(url)
            finally:
                connection.rollback()  # a failed read leaves its transaction unusable
        return connection

    def names(self, learner_url: URL, prefix: str) -> list[str]:
        with autocommit(learner_url) as connection:
            return list(connection.scalars(text(self.NAMES_SQL),
                                           {"prefix": prefix.replace("_", r"\_") + "%"}))

    def drop(self, learner_url: URL, name: str) -> str:
        with autocommit(learner_url) as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quote(connection, name)}")
        return name


def quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)
