"""The errors seeder raises for problems a user can cause or fix.

Every one is a `SeederError` whose message is one line saying what went wrong and what to do
next, with no password in it; the command line prints it as `seeder: error: MESSAGE` and exits
with `exit_code`. Code that calls the library catches `SeederError`, or one of its kinds.
"""

from __future__ import annotations


class SeederError(Exception):
    """A problem the user can fix; the message says what to do next."""

    exit_code = 1


class InvalidArgument(SeederError):
    """An argument that cannot work: a size, seed, shard or batch size out of range."""

    exit_code = 2


class DatabaseURLError(SeederError):
    """A database URL that cannot be used: unparseable, unsupported, or its driver missing."""


class ScenarioError(SeederError):
    """A scenario (file or object) with a value seeder cannot use."""


class LimitExceeded(SeederError):
    """A dataset that cannot be made: too many customers or rows for the ids and columns."""


class DatabaseError(SeederError):
    """The database refused or failed: unreachable, bad credentials, missing, full, read-only."""


class SchemaError(SeederError):
    """The database's schema is missing, at another revision, or damaged."""


class AlreadySeeded(SeederError):
    """The database already holds a dataset and replacing it was not asked for."""


class Busy(SeederError):
    """Another session holds what this one needs: a populate, or locks on seeder's tables."""


class Cancelled(SeederError):
    """The caller cancelled (Ctrl-C, SIGTERM); the transaction was rolled back."""

    exit_code = 130


class CommitOutcomeUnknown(SeederError):
    """The connection failed while COMMIT was under way: the data may or may not be there."""


class ExportError(SeederError):
    """Export files could not be written; any earlier export at the target is untouched."""


class QueryError(SeederError):
    """A learner's query that was refused (not a single read-only query) or that failed; the
    message is the database's own."""


class QueryTimeout(QueryError):
    """A learner's query that ran longer than the time limit and was stopped."""


class VariantError(SeederError):
    """The hidden variant datasets that a check compares against cannot be built: the database
    has no populate on record, or the user may not create the variant databases."""
