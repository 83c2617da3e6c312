"""seeder: fill SQLite or PostgreSQL with a reproducible car-repair-shop dataset.

The Python API (the command line is one of its callers):

    import seeder
    seeder.init_db("sqlite:///shop.db")
    summary = seeder.populate("sqlite:///shop.db", customers=5000, seed=42)
"""

__version__ = "0.1.0"

from seeder.batch import Batch  # noqa: E402
from seeder.cancel import Cancellation  # noqa: E402
from seeder.commands import (  # noqa: E402
    SchemaChange,
    Summary,
    export,
    info,
    init_db,
    populate,
    reset_db,
)
from seeder.errors import (  # noqa: E402
    AlreadySeeded,
    Busy,
    Cancelled,
    CommitOutcomeUnknown,
    DatabaseError,
    DatabaseURLError,
    ExportError,
    InvalidArgument,
    LimitExceeded,
    ScenarioError,
    SchemaError,
    SeederError,
)
from seeder.generator import GENERATOR_VERSION, generate  # noqa: E402
from seeder.scenario import Referral, Scenario, load_scenario  # noqa: E402

__all__ = [
    "GENERATOR_VERSION",
    "AlreadySeeded",
    "Batch",
    "Busy",
    "Cancellation",
    "Cancelled",
    "CommitOutcomeUnknown",
    "DatabaseError",
    "DatabaseURLError",
    "ExportError",
    "InvalidArgument",
    "LimitExceeded",
    "Referral",
    "Scenario",
    "ScenarioError",
    "SchemaChange",
    "SchemaError",
    "SeederError",
    "Summary",
    "export",
    "generate",
    "info",
    "init_db",
    "load_scenario",
    "populate",
    "reset_db",
]
