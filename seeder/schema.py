"""The Alembic migration chain, run against a connection seeder already holds.

Alembic is imported only by the functions that migrate: importing it costs more than a
small populate, which only needs to compare revisions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

# The newest revision in migrations/versions; tests/test_schema.py checks it against Alembic.
HEAD_REVISION = "0003"


def migrations_dir() -> Path:
    """Where the migration scripts are: inside the installed package, or in a source checkout."""
    packaged = Path(__file__).parent / "migrations"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for seeder's migrations; env.py runs them on `connection` when given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def known_revisions() -> set[str]:
    """Every revision of this seeder's migration chain."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return {revision.revision for revision in script.walk_revisions()}


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None when seeder's schema is not there."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.scalar(text("SELECT version_num FROM alembic_version"))


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Migrate the database up to `revision`."""
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection, revision: str = "base") -> None:
    """Migrate the database down to `revision`; base removes everything seeder created."""
    from alembic import command

    command.downgrade(alembic_config(connection), revision)
