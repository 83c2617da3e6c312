"""`python -m seeder.exercises PATH` writes the exercise book (docs/exercises.md) to PATH."""

import sys
from pathlib import Path

from seeder.exercises import load_exercises, render_markdown

if len(sys.argv) != 2:
    sys.exit("usage: python -m seeder.exercises PATH")
Path(sys.argv[1]).write_text(render_markdown(load_exercises()), encoding="utf-8")
