"""Progress reports: what a long step is doing, as (phase, steps done, steps in all).

A caller hands in any callable of that shape; the library calls it from the thread doing the
work, at each step, and never prints. The phases, in the order a populate goes through them:
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]

PLANNING = "planning"  # blocks of customers planned (registrations and visits)
LOADING = "generating and loading"  # customers written with their cars and transactions
WRITING = "generating and writing"  # customers exported, in an export
INDEXING = "building keys and indexes"  # keys, indexes and foreign keys rebuilt
ANALYZING = "analyzing"  # tables analyzed for the query planner
SWAPPING = "swapping in"  # the new tables put in place of the old (PostgreSQL)
COMMITTING = "committing"


def ignore(phase: str, done: int, total: int) -> None:
    """A Progress that reports nowhere."""
