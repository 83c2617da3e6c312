"""seeder: fill SQLite, PostgreSQL or MySQL/MariaDB with a reproducible car-repair-shop dataset.

The Python API (the command line is one of its callers):

    import seeder
    seeder.init_db("sqlite:///shop.db")
    summary = seeder.populate("sqlite:///shop.db", customers=5000, seed=42)

The SQL exercises and their checker are in seeder.exercises (check, reference_answer,
drop_variants); the pytest plugin is seeder.pytest_plugin.

Names are imported on first use, so that importing seeder (or its pytest plugin) does not load
NumPy and SQLAlchemy until something needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "Batch": "seeder.batch",
    "Cancellation": "seeder.cancel",
    "SchemaChange": "seeder.commands",
    "Summary": "seeder.loading",
    "export": "seeder.commands",
    "info": "seeder.commands",
    "init_db": "seeder.commands",
    "populate": "seeder.loading",
    "reset_db": "seeder.commands",
    "AlreadySeeded": "seeder.errors",
    "Busy": "seeder.errors",
    "Cancelled": "seeder.errors",
    "CommitOutcomeUnknown": "seeder.errors",
    "DatabaseError": "seeder.errors",
    "DatabaseURLError": "seeder.errors",
    "ExportError": "seeder.errors",
    "QueryError": "seeder.errors",
    "QueryTimeout": "seeder.errors",
    "VariantError": "seeder.errors",
    "InvalidArgument": "seeder.errors",
    "LimitExceeded": "seeder.errors",
    "ScenarioError": "seeder.errors",
    "SchemaError": "seeder.errors",
    "SeederError": "seeder.errors",
    "GENERATOR_VERSION": "seeder.generator",
    "generate": "seeder.generator",
    "Referral": "seeder.scenario",
    "Scenario": "seeder.scenario",
    "load_scenario": "seeder.scenario",
}
__all__ = [
    "AlreadySeeded",
    "Batch",
    "Busy",
    "Cancellation",
    "Cancelled",
    "CommitOutcomeUnknown",
    "DatabaseError",
    "DatabaseURLError",
    "ExportError",
    "GENERATOR_VERSION",
    "InvalidArgument",
    "LimitExceeded",
    "QueryError",
    "QueryTimeout",
    "Referral",
    "Scenario",
    "ScenarioError",
    "SchemaChange",
    "SchemaError",
    "SeederError",
    "Summary",
    "VariantError",
    "export",
    "generate",
    "info",
    "init_db",
    "load_scenario",
    "populate",
    "reset_db",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'seeder' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from seeder.batch import Batch
    from seeder.cancel import Cancellation
    from seeder.commands import SchemaChange, export, info, init_db, reset_db
    from seeder.errors import (
        AlreadySeeded,
        Busy,
        Cancelled,
        CommitOutcomeUnknown,
        DatabaseError,
        DatabaseURLError,
        ExportError,
        InvalidArgument,
        LimitExceeded,
        QueryError,
        QueryTimeout,
        ScenarioError,
        SchemaError,
        SeederError,
        VariantError,
    )
    from seeder.generator import GENERATOR_VERSION, generate
    from seeder.loading import Summary, populate
    from seeder.scenario import Referral, Scenario, load_scenario
