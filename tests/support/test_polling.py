from __future__ import annotations

import itertools

import pytest

from tests.support.polling import NeverHappened, eventually


def test_returns_the_first_truthy_value() -> None:
    counter = itertools.count()
    assert eventually(lambda: next(counter) >= 3 and "ok", interval=0) == "ok"


def test_fails_loudly_at_the_deadline_with_the_last_value() -> None:
    with pytest.raises(NeverHappened, match=r"version 7: not true after .*last seen: 0"):
        eventually(lambda: 0, timeout=0.05, interval=0.01, what="version 7")


def test_stops_when_the_process_died() -> None:
    with pytest.raises(NeverHappened, match="died"):
        eventually(lambda: False, timeout=5, alive=lambda: False)
