"""An atheris (libFuzzer) harness for `bidder.bid_request.parse_request`.

    .venv/bin/python tests/bidder/fuzz_bid_request.py -max_total_time=60 CORPUS_DIR

Bytes -> orjson (as the bidder decodes a body) -> parse_request. The property: parsing
either refuses the document with RequestError or returns a request whose every imp's
bid_request event encodes as a JSON line and as a protobuf frame. Anything else raised is
a crash (libFuzzer saves the input). `tests/bidder/test_parse_properties.py` runs it for a
few seconds on the OpenRTB fixtures as seeds.
"""

from __future__ import annotations

import sys

import atheris
import orjson

with atheris.instrument_imports():
    from bidder import bid_request
    from contract.encoding import json_line, protobuf_frame

NOW_MS = 1_767_614_400_000  # 2026-01-05T12:00:00Z


def events(req: bid_request.BidRequest) -> list[dict[str, object]]:
    """Every imp's bid_request event as the bidder logs it (before the decision fills in a
    creative; the decision only writes values from the campaign book)."""
    return [
        {
            **req.base,
            **imp.event_fields,
            "event_id": f"{req.id}:{imp.id}",
            "event_time": NOW_MS,
            "no_bid_reason": "unsupported",
        }
        for imp in req.imps
    ]


def one_input(data: bytes) -> None:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return
    try:
        req = bid_request.parse_request(doc, now_ms=NOW_MS)
    except bid_request.RequestError:
        return
    for event in events(req):
        json_line(event)
        protobuf_frame("bid_request", event)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
