"""The committed generated code and schema document must match `events.proto`."""

from __future__ import annotations

from pathlib import Path

from contract import codegen


def test_generated_python_is_current(tmp_path: Path) -> None:
    codegen.generate_python(tmp_path)
    for name in ("events_pb2.py", "events_pb2.pyi"):
        committed = codegen.PROTO.with_name(name).read_text()
        assert (tmp_path / name).read_text() == committed, f"{name} is stale: run `make proto`"


def test_schema_document_is_current() -> None:
    expected = codegen.render_doc(codegen.descriptor_set())
    assert codegen.DOC.read_text() == expected, "docs/event-contract.md is stale: `make proto`"


def test_schema_document_lists_every_field_with_a_meaning() -> None:
    from contract.events import EVENT_TYPES, columns

    doc = codegen.DOC.read_text()
    rows = [line for line in doc.splitlines() if line.startswith("| ") and "`" in line]
    # Every field of every event type has a row, so the loop below cannot pass vacuously.
    assert len(rows) >= sum(len(columns(t)) for t in EVENT_TYPES) > 0
    for row in rows:
        assert not row.rstrip().endswith("|  |"), f"field without a meaning: {row}"
