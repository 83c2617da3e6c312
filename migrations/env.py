"""Alembic environment: runs on the connection seeder passes in, or on seeder's configured URL."""

from alembic import context

from seeder.config import create_seeder_engine, resolve_database_url
from seeder.models import Base

config = context.config
target_metadata = Base.metadata


def _database_url():
    # `alembic -x url=...` or sqlalchemy.url in alembic.ini, else seeder's own rules
    # (--database-url is not available here: $SEEDER_DATABASE_URL, then sqlite:///seeder.db).
    return resolve_database_url(
        context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
        or None
    )


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
    with create_seeder_engine(_database_url()).connect() as connection:
        _run(connection)
