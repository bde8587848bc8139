"""Named random streams, so that changing the architecture never changes the traffic.

Every source of randomness (arrivals, token counts, user ids, each tier's service times, the load
balancer's coin flips) has its own numpy stream, derived from the scenario seed and the stream's
name. Two scenarios with the same seed that differ only in, say, the number of replicas therefore
see exactly the same requests at exactly the same times: the comparison between them measures the
architecture and nothing else (common random numbers).
"""

import zlib

import numpy as np


def stream(seed: int, name: str) -> np.random.Generator:
    """Return the generator for stream `name` under `seed`; the same pair always gives the same numbers."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(key,))))
