"""Alembic environment: runs on the connection seeder passes in, or on seeder's configured URL."""

from alembic import context

from seeder.database import open_database
from seeder.models import Base
from seeder.urls import database_url

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    # `alembic -x url=...` or sqlalchemy.url in alembic.ini, else seeder's own rules
    # (--database-url is not available here: $SEEDER_DATABASE_URL, then sqlite:///seeder.db).
    return (context.get_x_argument(as_dictionary=True).get("url")
            or config.get_main_option("sqlalchemy.url")
            or database_url(None))


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    _run(connection)
else:
    with open_database(_database_url(), must_exist=False) as database, \
            database.transaction(write=True) as connection:
        _run(connection)
