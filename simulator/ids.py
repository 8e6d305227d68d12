"""Event ids: unique by construction, deterministic per seed, random-looking.

An id is a 64-bit key printed as 16 hex digits. The key is a bijective mix
(splitmix64's finalizer) of a counter `(kind << 60) | (minute << 32) | seq`, where `minute`
is the minute since the Unix epoch of the bid request that started the chain and `seq`
its position within that minute; then XORed with a key derived from the seed.
So within one seed no two events of one kind can share an id (the mix is a bijection and
the counters differ), and two seeds collide only by 64-bit chance. Every later event of a
chain (bid, impression, click, conversion) takes the counter of its request with its own
`kind`, which is why ids need no state shared between chunks or processes.
"""

from __future__ import annotations

import numpy as np

REQUEST, BID, IMPRESSION, CLICK, CONVERSION = 1, 2, 3, 4, 5
# Requests of a replay: the same opportunities as `simulate`'s, under other ids, so a
# replay and a simulation of the same seed and window never collide in one lake.
REPLAY_REQUEST, REPLAY_CONVERSION = 6, 7

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MAX_MINUTE = 1 << 28  # the year 2480
_MAX_SEQ = 1 << 32


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a bijection of uint64 (xor-shifts and odd multiplies)."""
    x = x.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= _M1  # wraps modulo 2**64, which is what the mix wants
    x ^= x >> np.uint64(27)
    x *= _M2
    x ^= x >> np.uint64(31)
    return x


def seed_key(seed: int) -> np.uint64:
    return np.uint64(int(mix64(np.array([seed & (2**64 - 1)], dtype=np.uint64))[0]))


def event_keys(seed: int, kind: int, minute: int, seq: np.ndarray) -> np.ndarray:
    """uint64 keys of events of `kind` for requests `seq` of `minute` (minutes since epoch)."""
    if not 0 <= minute < _MAX_MINUTE:
        raise ValueError(f"minute {minute} out of range for ids")
    if len(seq) and int(seq.max()) >= _MAX_SEQ:
        raise ValueError("more than 2**32 requests in one minute")
    counter = (np.uint64(kind) << np.uint64(60)) | (np.uint64(minute) << np.uint64(32))
    return mix64(seq.astype(np.uint64) | counter) ^ seed_key(seed)


def hex_ids(keys: np.ndarray) -> list[str]:
    return [f"{k:016x}" for k in keys.tolist()]
