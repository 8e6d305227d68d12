"""Regenerates the committed protobuf code and the schema document from `events.proto`.

The generated `events_pb2.py`/`.pyi` are committed so that installing bidlake needs no
protoc; `tests/ingest/test_codegen.py` fails when they, or `docs/event-contract.md`, are
not what this module would produce from the current `.proto` (run `make proto`).
The schema document is built from the descriptor set *with source info*, so each field's
meaning is the comment written above it in the `.proto` — written once.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2

PROTO = Path(__file__).with_name("events.proto")
DOC = Path(__file__).resolve().parent.parent / "docs" / "event-contract.md"

_TYPE_NAMES = {
    descriptor_pb2.FieldDescriptorProto.TYPE_STRING: "string",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT64: "int64",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT32: "int32",
    descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE: "double",
    descriptor_pb2.FieldDescriptorProto.TYPE_BOOL: "bool",
}
_EVENT_TYPE = {
    "BidRequest": "bid_request",
    "Bid": "bid",
    "Impression": "impression",
    "Click": "click",
    "Conversion": "conversion",
}


def _protoc(args: list[str]) -> None:
    from grpc_tools import protoc  # dev dependency: only needed to regenerate

    code = protoc.main(["protoc", f"-I{PROTO.parent}", *args, str(PROTO)])
    if code != 0:
        raise RuntimeError(f"protoc failed ({code}) on {PROTO}")


def generate_python(out_dir: Path) -> None:
    _protoc([f"--python_out={out_dir}", f"--pyi_out={out_dir}"])


def descriptor_set() -> descriptor_pb2.FileDescriptorProto:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "events.pb"
        _protoc([f"--descriptor_set_out={out}", "--include_source_info"])
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return files.file[0]


def _comments(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    return {
        tuple(loc.path): " ".join(loc.leading_comments.split())
        for loc in file.source_code_info.location
        if loc.leading_comments
    }


def render_doc(file: descriptor_pb2.FileDescriptorProto) -> str:
    comments = _comments(file)
    lines = [
        "# Event contract v1",
        "",
        "Generated from `contract/events.proto` by `make proto`; do not edit by hand.",
        "Each event type is a folder of the raw lake, `lake/raw/<event_type>/`, and each field",
        "is a column of the same name. Money is integer micros; `*_price_micros` are CPM.",
        "",
    ]
    for m_index, message in enumerate(file.message_type):
        event_type = _EVENT_TYPE[message.name]
        lines += [
            f"## `{event_type}` ({message.name})",
            "",
            comments.get((4, m_index), ""),
            "",
            "| # | column | type | meaning |",
            "|---|---|---|---|",
        ]
        for f_index, field in enumerate(message.field):
            type_name = _TYPE_NAMES[field.type]
            if field.label == descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED:
                type_name = f"list<{type_name}>"
            meaning = comments.get((4, m_index, 2, f_index), "").replace("|", "\\|")
            lines.append(f"| {field.number} | `{field.name}` | {type_name} | {meaning} |")
        lines.append("")
    lines += ["## Vocabularies", "", "Allowed values of the categorical string fields.", ""]
    for e_index, enum in enumerate(file.enum_type):
        prefix = "".join(
            ("_" + ch if ch.isupper() and i else ch) for i, ch in enumerate(enum.name)
        ).upper()
        values = [v.name.removeprefix(prefix + "_").lower() for v in enum.value if v.number]
        doc = comments.get((5, e_index), "")
        lines.append(f"- **{enum.name}**: {', '.join(f'`{v}`' for v in values)}. {doc}".rstrip())
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    generate_python(PROTO.parent)
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(render_doc(descriptor_set()))
    print(f"wrote {PROTO.with_name('events_pb2.py')} and {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
