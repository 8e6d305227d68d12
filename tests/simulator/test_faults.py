from __future__ import annotations

import numpy as np
import pytest
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from contract.events import EVENT_MESSAGES, EVENT_TYPES, columns
from simulator import faults


def sample(event_type: str):
    """A message with every field set to a non-default value."""
    message = EVENT_MESSAGES[event_type]()
    for column in columns(event_type):
        if column.repeated:
            getattr(message, column.name).extend(["a", "b"])
        elif column.vocabulary:
            setattr(message, column.name, sorted(column.vocabulary - {""})[0])
        elif column.python_type is str:
            setattr(message, column.name, f"{column.name}-1")
        elif column.python_type is float:
            setattr(message, column.name, 0.125)
        else:
            setattr(message, column.name, 7)
    return message


def _event(event_type: str) -> dict[str, object]:
    return json_format.MessageToDict(
        sample(event_type),
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_jsonl_garbage_is_always_rejected(event_type: str) -> None:
    rng = np.random.default_rng(0)
    event = _event(event_type)
    for _ in range(300):
        payload = faults.garbage_jsonl(rng, event_type, event)
        assert b"\n" not in payload
        with pytest.raises((json_format.ParseError, ValueError)):
            json_format.Parse(payload, EVENT_MESSAGES[event_type]())


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_protobuf_garbage_is_always_rejected(event_type: str) -> None:
    rng = np.random.default_rng(0)
    message = sample(event_type)
    for _ in range(300):
        payload = faults.garbage_protobuf(rng, event_type, message)
        with pytest.raises(DecodeError):
            EVENT_MESSAGES[event_type].FromString(payload)


def test_plan_places_duplicates_after_their_original() -> None:
    rng = np.random.default_rng(1)
    events = [{"event_id": str(i), "event_time": i} for i in range(20_000)]
    plan = faults.plan(rng, "click", events, "jsonl", 0.05, 0.02)
    indices = [item for item in plan.order if isinstance(item, int)]
    garbage = [item for item in plan.order if isinstance(item, bytes)]
    assert len(indices) == 20_000 + plan.duplicates
    assert len(garbage) == plan.garbage
    assert abs(plan.duplicates / 20_000 - 0.05) < 0.006
    assert abs(plan.garbage / 20_000 - 0.02) < 0.004
    first_seen: dict[int, int] = {}
    for position, i in enumerate(indices):
        if i in first_seen:
            assert 0 < position - first_seen[i] <= faults.RETRY_WINDOW + plan.duplicates
        else:
            first_seen[i] = position
    assert sorted(first_seen) == list(range(20_000))  # originals keep their order
    assert list(first_seen) == sorted(first_seen)


def test_no_faults_no_extra_records() -> None:
    plan = faults.plan(np.random.default_rng(0), "click", [{"event_time": 1}] * 10, "jsonl", 0, 0)
    assert plan.order == list(range(10))
