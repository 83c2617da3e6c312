"""Cancellation handed in by the caller: the library never installs signal handlers itself.

The command line sets one from its SIGINT/SIGTERM handler; a test or an application may set it
from any thread. Long work checks it between steps, and a running database statement is
cancelled through the callback its backend registers for the duration of the statement.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from seeder.errors import Cancelled

CANCELLED_MESSAGE = "cancelled"


class Cancellation:
    """A flag that any thread (or a signal handler) may set, once."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        """Ask the work to stop; interrupts the running statement, if any, right away."""
        with self._lock:
            self._event.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    def check(self) -> None:
        """Raise Cancelled if cancellation was asked for."""
        if self._event.is_set():
            raise Cancelled(CANCELLED_MESSAGE)

    @contextlib.contextmanager
    def interrupts(self, callback: Callable[[], None]) -> Iterator[None]:
        """While inside, cancel() also calls `callback` (e.g. to cancel a statement)."""
        with self._lock:
            self._callbacks.append(callback)
            already = self._event.is_set()
        try:
            if already:
                callback()
            yield
        finally:
            with self._lock:
                self._callbacks.remove(callback)
