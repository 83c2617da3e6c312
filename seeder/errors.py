"""The one error type that user-facing commands raise; the CLI prints it as one line."""


class CommandError(Exception):
    """A problem the user can fix; its message says what to do next."""
