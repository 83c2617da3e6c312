"""Independent random streams, each keyed by (seed, purpose, block).

Randomness never comes from one sequential stream: a block's values depend only on the seed,
the purpose and the block number, so blocks can be generated in any order, in any process.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    """What a stream is for; part of the data's definition (never renumber)."""

    RUN = 0  # once per run: the revisit rate of each cohort window
    PLAN = 1  # per block: registrations and visit days
    DETAIL = 2  # per block: names, contacts, cars, services, prices, UUIDs
    REFERRAL = 3  # once per run: who refers whom
    REWARD = 4  # per chunk of created rewards: their service, UUID and day


def rng(seed: int, stream: Stream, block: int = 0) -> np.random.Generator:
    """The generator of `stream` for `block` under `seed` (PCG64 from a SeedSequence)."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(int(stream), block)))
    )
