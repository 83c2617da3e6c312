"""Golden digests of every encoding of the data, and of a non-default locale.

    python tests/golden/encodings.py        # from the repository root: rewrite the golden file

tests/test_export.py compares these with the committed encodings_v{GENERATOR_VERSION}.json.
Only rewrite it when the data changed on purpose, together with a GENERATOR_VERSION bump.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

from seeder.backends.postgresql import copy_binary
from seeder.formats import csv_lines, python_rows
from seeder.generator import GENERATOR_VERSION, generate
from seeder.models import DATA_TABLES
from seeder.scenario import Scenario

SEED, CUSTOMERS = 20240101, 25_000  # more than one block of customers
LOCALE, LOCALE_CUSTOMERS = "de_DE", 5_000
GOLDEN = Path(__file__).parent / f"encodings_v{GENERATOR_VERSION}.json"
TABLES = {table.name: table for table in DATA_TABLES}


def encoding_digests() -> dict[str, dict[str, str]]:
    """SHA-256 per table of the CSV lines, the binary COPY payloads and the row tuples (as
    repr), batch after batch, and of the CSV lines in LOCALE."""
    digests: dict[str, dict[str, hashlib._Hash]] = defaultdict(
        lambda: defaultdict(hashlib.sha256))
    for batch in generate(customers=CUSTOMERS, seed=SEED):
        digests["csv"][batch.table].update(csv_lines(batch))
        digests["copy_binary"][batch.table].update(copy_binary(batch, TABLES[batch.table]))
        digests["rows"][batch.table].update(repr(python_rows(batch)).encode())
    for batch in generate(customers=LOCALE_CUSTOMERS, seed=SEED, scenario=Scenario(locale=LOCALE)):
        digests[f"csv_{LOCALE}"][batch.table].update(csv_lines(batch))
    return {kind: {table: digest.hexdigest() for table, digest in sorted(tables.items())}
            for kind, tables in digests.items()}


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(encoding_digests(), indent=2) + "\n")
    sys.stdout.write(f"wrote {GOLDEN}\n")
