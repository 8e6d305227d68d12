"""The ingest ledger: what was ingested, with which counts, and the commit protocol.

Folder `<home>/lake/_ledger/`:
- `batches/<id>.json`  one committed commit (an ingest batch or a compaction): its sources
  (path, size, mtime, sha256, counts: records = raw + quarantined + duplicates) and the
  files it published. A source is "ingested" exactly when a committed batch lists it.
- `pending/<id>.json`  a commit whose files are staged and about to be published.
- `retired/<id>.json`  files a compaction replaced, deleted after the grace period.
- `manifest.json`      the live files per event type (`ingest.lake`).
- `.lock`              held (flock) by the one process changing the lake.

Commit protocol, crash-safe at every step:
1. Write every output (Parquet, quarantine) under `_staging/<id>/`, fsync. A crash here
   leaves only staging litter: the next run deletes it and ingests the sources again.
2. Write `pending/<id>.json` (atomic rename): from here on the commit *will* happen.
3. Rename the staged files into the lake (`ingest.lake.publish`, skipping files already
   there), fsync their folders. 4. Write `batches/<id>.json`, remove the pending file.
A crash after 2 is rolled forward by `recover()` at the start of the next run, which
repeats 3 and 4: the lake ends exactly as one clean run would have left it, and no file a
reader may have seen is ever replaced or removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bidlake.paths import Home
from ingest import lake


@dataclass
class SourceRecord:
    """One source of a committed batch and what became of its records."""

    path: str
    size: int
    mtime_ns: int
    sha256: str
    event_type: str | None
    kind: str  # jsonl, jsonl.gz, pb, pb.gz or "?"
    status: str  # "ingested" | "file_quarantined"
    records: int = 0  # records read (lines or frames)
    raw: int = 0  # written to the raw lake
    quarantined: int = 0  # written to the quarantine table
    duplicates: int = 0  # dropped: same event_id already in the batch or the lake
    error_code: str = ""  # file-level problem, if any
    message: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class Output:
    path: str  # relative to `<home>/lake/`
    rows: int
    bytes: int


@dataclass
class Commit:
    """An ingest batch or a compaction: the unit that is published atomically."""

    commit_id: str
    kind: str  # "ingest" | "compaction"
    created_at_ms: int
    sources: list[SourceRecord] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    retire: list[str] = field(default_factory=list)  # relative to `lake/raw/` (compaction)
    dedup_horizon_hours: int | None = None

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Commit:
        raw_sources = data.get("sources", [])
        raw_outputs = data.get("outputs", [])
        assert isinstance(raw_sources, list) and isinstance(raw_outputs, list)
        return cls(
            commit_id=str(data["commit_id"]),
            kind=str(data["kind"]),
            created_at_ms=int(data["created_at_ms"]),  # type: ignore[call-overload]
            sources=[SourceRecord(**s) for s in raw_sources],
            outputs=[Output(**o) for o in raw_outputs],
            retire=list(data.get("retire", [])),  # type: ignore[call-overload]
            dedup_horizon_hours=data.get("dedup_horizon_hours"),  # type: ignore[arg-type]
        )


@dataclass
class Index:
    """What the ledger knows about sources, for "already ingested?" questions."""

    by_identity: dict[tuple[str, int, int], str]  # (path, size, mtime_ns) -> commit id
    by_content: dict[tuple[str | None, str], str]  # (event type, sha256) -> path


class LakeBusy(RuntimeError):
    pass


class Ledger:
    def __init__(self, home: Home) -> None:
        self.home = home
        self.root = home.ledger
        self.batches = self.root / "batches"
        self.pending = self.root / "pending"
        self.retired_dir = self.root / "retired"

    # ---- locking

    @contextlib.contextmanager
    def lock(self, wait: bool = True) -> Iterator[None]:
        """Hold the lake's writer lock: one ingest or compaction at a time.

        flock is released by the kernel when the process dies, so a crash never leaves a
        stale lock behind.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as handle:
            flags = fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB)
            try:
                fcntl.flock(handle.fileno(), flags)
            except BlockingIOError:
                raise LakeBusy(
                    f"another ingest or compaction holds {self.root / '.lock'}"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # ---- reading

    def commits(self) -> list[Commit]:
        if not self.batches.is_dir():
            return []
        out = []
        for path in sorted(self.batches.glob("*.json")):
            out.append(Commit.from_json(json.loads(path.read_bytes())))
        out.sort(key=lambda c: (c.created_at_ms, c.commit_id))
        return out

    def index(self) -> Index:
        by_identity: dict[tuple[str, int, int], str] = {}
        by_content: dict[tuple[str | None, str], str] = {}
        for commit in self.commits():
            for source in commit.sources:
                by_identity[(source.path, source.size, source.mtime_ns)] = commit.commit_id
                if source.sha256:
                    by_content.setdefault((source.event_type, source.sha256), source.path)
        return Index(by_identity, by_content)

    def retired(self) -> set[str]:
        """Files compaction replaced that are still on disk (paths relative to raw/)."""
        out: set[str] = set()
        if self.retired_dir.is_dir():
            for path in self.retired_dir.glob("*.json"):
                out.update(json.loads(path.read_bytes())["files"])
        return out

    # ---- the commit protocol

    def staging(self, commit_id: str) -> Path:
        return lake.staging_root(self.home) / commit_id

    def prepare(self, commit: Commit) -> None:
        """Step 2: the staged outputs are complete; make the commit durable."""
        lake.write_json_atomic(self.pending / f"{commit.commit_id}.json", commit.to_json())

    def publish(self, commit: Commit) -> None:
        """Step 3: rename the staged outputs into the lake."""
        stage = self.staging(commit.commit_id)
        lake.publish(
            (stage / output.path, self.home.lake / output.path) for output in commit.outputs
        )

    def record(self, commit: Commit) -> None:
        """Step 4: the commit is in the ledger; then the bookkeeping that follows it."""
        if commit.retire:
            lake.write_json_atomic(
                self.retired_dir / f"{commit.commit_id}.json",
                {"retired_at_ms": commit.created_at_ms, "files": commit.retire},
            )
        lake.write_json_atomic(self.batches / f"{commit.commit_id}.json", commit.to_json())
        with contextlib.suppress(FileNotFoundError):
            (self.pending / f"{commit.commit_id}.json").unlink()
        shutil.rmtree(self.staging(commit.commit_id), ignore_errors=True)
        lake.write_manifest(self.home, self.retired())

    def commit(self, commit: Commit) -> None:
        self.prepare(commit)
        self.publish(commit)
        self.record(commit)

    def recover(self) -> list[str]:
        """Roll forward every pending commit; drop staging litter. Call with the lock held.

        Returns the ids of the commits completed now.
        """
        done = []
        if self.pending.is_dir():
            for path in sorted(self.pending.glob("*.json")):
                commit = Commit.from_json(json.loads(path.read_bytes()))
                stage = self.staging(commit.commit_id)
                missing = [
                    o.path
                    for o in commit.outputs
                    if not (self.home.lake / o.path).exists() and not (stage / o.path).exists()
                ]
                if missing:
                    # Cannot happen unless someone deleted staged files by hand: the
                    # commit cannot be completed, so undo what it published (its sources
                    # are not in the ledger and will be ingested again).
                    for o in commit.outputs:
                        with contextlib.suppress(FileNotFoundError):
                            (self.home.lake / o.path).unlink()
                    path.unlink()
                    shutil.rmtree(stage, ignore_errors=True)
                    continue
                self.publish(commit)
                self.record(commit)
                done.append(commit.commit_id)
        pending_ids = (
            {p.stem for p in self.pending.glob("*.json")} if self.pending.is_dir() else set()
        )
        staging = lake.staging_root(self.home)
        if staging.is_dir():
            for stage in staging.iterdir():
                if stage.name not in pending_ids:
                    shutil.rmtree(stage, ignore_errors=True)
        # A crash or a full disk between a ledger entry and the manifest's rewrite leaves
        # the manifest without the commit's files: list what is on disk again.
        if self.root.is_dir():
            lake.write_manifest(self.home, self.retired(), only_if_changed=True)
        return done

    def vacuum(self, grace_seconds: float, now_ms: int | None = None) -> list[Path]:
        """Delete retired files whose grace period is over. Call with the lock held."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        deleted: list[Path] = []
        if not self.retired_dir.is_dir():
            return deleted
        changed = False
        for path in sorted(self.retired_dir.glob("*.json")):
            entry = json.loads(path.read_bytes())
            if entry["retired_at_ms"] + grace_seconds * 1000 > now_ms:
                continue
            for rel in entry["files"]:
                target = self.home.raw / rel
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
                    deleted.append(target)
            path.unlink()
            changed = True
        if changed:
            lake.write_manifest(self.home, self.retired())
        return deleted
