from __future__ import annotations

import numpy as np

from simulator import ids


def test_ids_are_unique_within_a_seed_and_deterministic() -> None:
    seq = np.arange(100_000)
    keys = np.concatenate(
        [ids.event_keys(5, kind, minute, seq) for kind in (1, 2) for minute in (10, 11)]
    )
    assert len(np.unique(keys)) == len(keys)
    assert np.array_equal(ids.event_keys(5, 1, 10, seq), ids.event_keys(5, 1, 10, seq))
    assert not np.array_equal(ids.event_keys(6, 1, 10, seq), ids.event_keys(5, 1, 10, seq))


def test_hex_ids_are_16_hex_digits() -> None:
    out = ids.hex_ids(ids.event_keys(0, 1, 29_000_000, np.arange(3)))
    assert all(len(x) == 16 and int(x, 16) >= 0 for x in out)


def test_mix_is_a_bijection_on_a_sample() -> None:
    x = np.arange(1 << 18, dtype=np.uint64) << np.uint64(20)
    assert len(np.unique(ids.mix64(x))) == len(x)
