"""Named random streams, so that changing the architecture never changes the traffic.

Every source of randomness (arrivals, token counts, user ids, each tier's service times, the load
balancer's coin flips) has its own numpy stream, derived from the scenario seed and the stream's
name. Two scenarios with the same seed that differ only in, say, the number of replicas therefore
see exactly the same requests at exactly the same times: the comparison between them measures the
architecture and nothing else (common random numbers).
"""

import zlib
from itertools import chain
from typing import Callable

import numpy as np

BLOCK = 1024  # draws per numpy call: amortises the call, small enough to stay cache-friendly


def stream(seed: int, name: str) -> np.random.Generator:
    """Return the generator for stream `name` under `seed`; the same pair always gives the same numbers."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(key,))))


def endless(draw_block: Callable[[], list]) -> Callable[[], object]:
    """Return a function giving one value per call from blocks that `draw_block()` makes on demand.

    The blocks are chained in C (itertools), so a value costs no Python frame: this runs several
    times per simulated request.
    """
    return chain.from_iterable(iter(draw_block, None)).__next__
