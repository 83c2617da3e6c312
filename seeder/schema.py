"""The Alembic migration chain, run against a connection seeder already holds.

Alembic is imported only by the functions that migrate: importing it costs more than a
small populate, which only needs to compare revisions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

from seeder.errors import SchemaError

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


# The views the migrations create, dependents first.
VIEWS = ("transaction_list", "customer_list")


def seeder_objects(connection: Connection) -> list[str]:
    """The names of seeder's tables and views (and Alembic's version table) that exist."""
    from seeder.models import Base

    inspector = inspect(connection)
    present = set(inspector.get_table_names()) | set(inspector.get_view_names())
    wanted = [*Base.metadata.tables, *VIEWS, "alembic_version"]
    return [name for name in wanted if name in present]


def damage(connection: Connection) -> list[str]:
    """What is missing from, or different in, seeder's tables and views compared with the
    models, in words ("index uq_customers_uuid is missing"); empty when the schema is whole.

    Objects a user added (their own tables, indexes or columns) are not damage.
    """
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from seeder.models import Base

    def ours(obj, name, type_, reflected, compare_to) -> bool:
        return type_ != "table" or name in Base.metadata.tables

    context = MigrationContext.configure(connection, opts={"include_object": ours})
    found = []
    for difference in _flatten(compare_metadata(context, Base.metadata)):
        kind, subject = difference[0], difference[1] if len(difference) > 1 else None
        if kind.startswith("add_"):
            found.append(f"{kind[4:].replace('_', ' ')} {_name(subject)} is missing")
        elif kind.startswith("modify_"):
            found.append(f"column {difference[2]}.{difference[3]} has another "
                         f"{kind[7:].replace('_', ' ')}")
    views = set(inspect(connection).get_view_names())
    found += [f"view {view} is missing" for view in VIEWS if view not in views]
    return found


def _flatten(differences: list) -> list[tuple]:
    # Column changes come as a list of tuples per column.
    flat = []
    for difference in differences:
        flat.extend(difference if isinstance(difference, list) else [difference])
    return flat


def _name(subject) -> str:
    table = getattr(subject, "table", None)
    name = getattr(subject, "name", None) or str(subject)
    return f"{table.name}.{name}" if table is not None and hasattr(subject, "type") else name


def drop_everything(connection: Connection) -> None:
    """Drop whatever seeder's views, tables (with their indexes) and version table exist,
    damaged or not."""
    from seeder.models import Base

    quote = connection.dialect.identifier_preparer.quote
    for view in VIEWS:
        connection.execute(text(f"DROP VIEW IF EXISTS {quote(view)}"))
    Base.metadata.drop_all(connection, checkfirst=True)
    connection.execute(text(f"DROP TABLE IF EXISTS {quote('alembic_version')}"))


RESET_HINT = "run `seeder reset-db --yes` to rebuild it (this deletes the data)"


def require_current(connection: Connection, display: str) -> None:
    """Stop unless the database is at the newest revision."""
    current, head = current_revision(connection), HEAD_REVISION
    if current != head:
        require_upgradable(connection, display, current)
        state = "is not initialised" if current is None else f"is at revision {current}, not {head}"
        raise SchemaError(f"{display} {state}; run `seeder init-db`")


def require_upgradable(connection: Connection, display: str, current: str | None) -> None:
    """Stop unless the migrations can take the database from `current` (its revision) to the
    newest: a revision this seeder knows, or none and no seeder objects left without one."""
    require_known(display, current)
    if current is None and (found := seeder_objects(connection)):
        raise SchemaError(f"{display} holds seeder's {', '.join(found)} but no schema "
                          f"revision; {RESET_HINT}")


def require_undamaged(connection: Connection, display: str) -> None:
    if found := damage(connection):
        raise SchemaError(f"{display} is at revision {HEAD_REVISION} but damaged: "
                          f"{'; '.join(found)}; {RESET_HINT}")


def require_known(display: str, current: str | None) -> None:
    if current is not None and current not in known_revisions():
        from seeder import __version__

        raise SchemaError(f"{display} is at revision {current}, which this seeder "
                          f"({__version__}) does not know; upgrade seeder")
