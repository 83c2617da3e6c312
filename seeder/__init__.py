"""seeder: fill SQLite or PostgreSQL with a reproducible car-repair-shop dataset."""

__version__ = "0.1.0"
