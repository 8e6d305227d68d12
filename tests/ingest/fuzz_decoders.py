"""Fuzz the JSONL and protobuf decoders with atheris (libFuzzer, coverage-guided).

    .venv/bin/python -m tests.ingest.fuzz_decoders -runs=20000 [-seed=1] [corpus_dir ...]

Each input picks an event type, block and chunk sizes and the record cap, then feeds the
rest of its bytes to both decoders (as a JSONL file and as a length-delimited protobuf
file) and checks the invariants of `tests/ingest/invariants.py`: no exception but a
`record_too_long` refusal exactly when a line or frame is over the cap, every record
accounted for, each reject's payload at its offset, valid rows in the lake's schema, no
difference when the same bytes arrive in one block, and valid rows that round-trip
through the contract's encoders (what would be stored is what was sent). A violation or
any other exception is a crash: libFuzzer stops, writes the input to `crash-<sha1>` in
the working folder and exits non-zero. Nothing is written anywhere else: the decoders
work in memory, so a fuzzing run cannot touch a lake.

`tests/ingest/test_fuzz.py` runs it for a few seconds in the suite.
"""

from __future__ import annotations

import sys

import atheris

# The heavy, uninstrumented imports first; then ingest and the contract, instrumented for
# coverage feedback (pyarrow, numpy and protobuf are C: instrumenting them buys nothing).
import numpy  # noqa: F401
import pyarrow
import pyarrow.compute
import pyarrow.json  # noqa: F401

with atheris.instrument_imports(include=["ingest", "contract", "tests.ingest.invariants"]):
    from contract.events import EVENT_TYPES
    from ingest.rules import file_window
    from tests.ingest.invariants import (
        check_jsonl,
        check_protobuf,
        check_round_trip,
        decode_jsonl,
        decode_protobuf,
        require,
        split,
    )

FILE_HOUR = 1_767_571_200_000 // 3_600_000  # 2026-01-05T00Z, the fixtures' hour
CAPS = (3, 64, 1 << 20)  # tiny caps reach the record_too_long paths with small inputs


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    event_type = EVENT_TYPES[fdp.ConsumeIntInRange(0, len(EVENT_TYPES) - 1)]
    sizes = [fdp.ConsumeIntInRange(0, 64) for _ in range(fdp.ConsumeIntInRange(1, 3))]
    if not any(sizes):
        sizes = [1]
    chunk_bytes = fdp.ConsumeIntInRange(1, 512)
    chunk_records = fdp.ConsumeIntInRange(1, 16)
    cap = CAPS[fdp.ConsumeIntInRange(0, len(CAPS) - 1)]
    payload = fdp.ConsumeBytes(fdp.remaining_bytes())
    window = file_window(event_type, FILE_HOUR)

    got = decode_jsonl(event_type, split(payload, sizes), window, chunk_bytes, chunk_records, cap)
    check_jsonl(event_type, payload, got, cap)
    whole = decode_jsonl(event_type, iter([payload]), window, max_line=cap)
    require(got.key() == whole.key(), "jsonl: block or chunk boundaries changed the result")
    check_round_trip(event_type, got.valid.to_pylist())

    got = decode_protobuf(event_type, split(payload, sizes), window, chunk_records, cap)
    check_protobuf(event_type, payload, got, cap)
    whole = decode_protobuf(event_type, iter([payload]), window, max_frame=cap)
    require(got.key() == whole.key(), "protobuf: block or chunk boundaries changed the result")
    check_round_trip(event_type, got.valid.to_pylist())


def main(argv: list[str]) -> None:
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
