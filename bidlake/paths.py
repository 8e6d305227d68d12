"""Where every piece of data lives, below one home folder (`BIDLAKE_HOME`).

Read at call time, never at import time, so a test or a Dagster run can point
`BIDLAKE_HOME` elsewhere before it asks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = "./data"
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Home:
    root: Path

    @property
    def landing(self) -> Path:
        """Closed tracking-log files waiting for ingest."""
        return self.root / "landing"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def raw(self) -> Path:
        """`raw/<event_type>/event_date=YYYY-MM-DD/event_hour=HH/<batch>.parquet`."""
        return self.lake / "raw"

    @property
    def quarantine(self) -> Path:
        return self.lake / "quarantine"

    @property
    def ledger(self) -> Path:
        return self.lake / "_ledger"

    @property
    def truth(self) -> Path:
        """The simulator's ground truth (true click/conversion probabilities)."""
        return self.root / "truth"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def catalog(self) -> Path:
        """Published read-only DuckDB catalogs for analysts."""
        return self.root / "catalog"

    @property
    def dagster(self) -> Path:
        return self.root / "dagster"


def home() -> Home:
    """The data home from `BIDLAKE_HOME` (default `./data`), as an absolute path."""
    return Home(Path(os.environ.get("BIDLAKE_HOME", DEFAULT_HOME)).expanduser().resolve())
