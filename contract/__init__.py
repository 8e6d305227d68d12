"""The event contract: what every part that writes or reads events agrees on.

- `events.proto` and its generated `events_pb2`: the five event types and their fields;
- `events`: the contract in Python (event types, columns, vocabularies);
- `encoding`: the two wire forms (JSON lines, length-delimited protobuf);
- `landing_names`: the one grammar of landing-file names;
- `log_writer`: the hourly log-file writer the bidder and the simulator use;
- `codegen`: regenerates `events_pb2` and `docs/event-contract.md` (`make proto`).

Imported by the simulator, the bidder and ingest alike; it imports none of them, and never
pyarrow (the lake's Arrow schemas are in `ingest.lake_schema`).
"""
