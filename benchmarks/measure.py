"""Helpers shared by the benchmark scripts: locate `seeder`, measure one child, print a table.

Standard library only: the scripts import this in the measuring process, whose RSS is the
floor of every child's peak RSS (Linux carries ru_maxrss across exec), so it must stay small.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


class CommandFailed(RuntimeError):
    """A measured child exited non-zero (or wrote the error marker to stderr)."""

    def __init__(self, command: list[str], returncode: int, stdout: str, stderr: str) -> None:
        super().__init__(f"command failed ({returncode}): {' '.join(command)}\n"
                         f"{stdout}\n{stderr}")
        self.command, self.returncode = command, returncode
        self.stdout, self.stderr = stdout, stderr


def seeder_command() -> list[str]:
    """The `seeder` console script of this interpreter's environment, else `python -m seeder`."""
    script = Path(sys.executable).with_name("seeder")
    if script.exists():
        return [str(script)]
    found = shutil.which("seeder")
    return [found] if found else [sys.executable, "-m", "seeder"]


def measure(command: list[str], stdin_path: Path | None = None,
            error_marker: str | None = None) -> dict:
    """Run one child; its wall time, user+sys CPU, peak RSS (MiB) from os.wait4, and stdout.

    stdin is the file at stdin_path, else /dev/null. Raises CommandFailed if the child exits
    non-zero, or if error_marker is given and occurs in its stderr.
    """
    with (tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err,
          open(stdin_path or os.devnull, "rb") as stdin):
        started = time.perf_counter()
        process = subprocess.Popen(command, stdin=stdin, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0 or (error_marker is not None and error_marker in stderr):
        raise CommandFailed(command, process.returncode, stdout, stderr)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "rss": usage.ru_maxrss / 1024, "stdout": stdout}


def table(headers: list[str], rows: list[list]) -> str:
    """A plain table: first column left-aligned, the rest right-aligned."""
    cells = [headers] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        lines.append("  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i])
                               for i, cell in enumerate(row)).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def run(main: Callable[[], None]) -> None:
    """Run a benchmark's main; a failed child ends it with the command and its stderr, not a
    traceback."""
    try:
        main()
    except CommandFailed as error:
        sys.exit(f"command failed ({error.returncode}): {' '.join(error.command)}\n"
                 f"{error.stderr}")
