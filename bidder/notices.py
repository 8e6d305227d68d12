"""Which notices the bidder has already counted: shared by a host's workers, kept over restarts.

A win, click or conversion notice is counted once. The bidder *claims* a key for it
(`win:<bid>`, `click:<bid>`, `conversion:<bid>:<order>`) for as long as a repeat could still
arrive; the first claim wins and every later one is a duplicate. Checks that a notice
follows another ("a click needs a won bid") ask whether a key is claimed.

- `SqliteClaims` — the embedded default (`--state memory`): one SQLite file in the data
  home, in WAL mode, shared by every worker of the host and surviving restarts. A claim is
  one `INSERT … ON CONFLICT DO UPDATE … WHERE expired` statement, atomic across processes.
  `synchronous=NORMAL`: a killed process loses nothing it committed; a power cut can lose
  the last claims before the OS wrote them (a repeated notice then counts twice).
- `RedisClaims` — a fleet (`--state redis://…`): `SET key NX PX ttl`, shared by every bidder
  on the same Redis and prefix. The win claim itself is made inside the budget store's win
  script (atomic with the spend), under the same key name.
- `MemoryClaims` — one process, nothing kept: for tests and tools.

Memory is bounded by the windows: wins are remembered for the click window, clicks for the
conversion window, and expired keys are swept.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


class NoticeClaims:
    async def claim(self, key: str, ttl_ms: int, now_ms: int) -> bool:
        """Claim `key` until `now_ms + ttl_ms`; True when no live claim existed."""
        raise NotImplementedError

    async def claimed(self, key: str, now_ms: int) -> bool:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class MemoryClaims(NoticeClaims):
    def __init__(self) -> None:
        self._expires: dict[str, int] = {}
        self._sweep_at = 0

    async def claim(self, key: str, ttl_ms: int, now_ms: int) -> bool:
        self._sweep(now_ms)
        if self._expires.get(key, 0) > now_ms:
            return False
        self._expires[key] = now_ms + ttl_ms
        return True

    async def claimed(self, key: str, now_ms: int) -> bool:
        return self._expires.get(key, 0) > now_ms

    def _sweep(self, now_ms: int) -> None:
        if now_ms >= self._sweep_at:
            self._expires = {k: v for k, v in self._expires.items() if v > now_ms}
            self._sweep_at = now_ms + 60_000


class SqliteClaims(NoticeClaims):
    SWEEP_EVERY_MS = 60_000

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit (isolation_level=None): each claim is its own atomic statement.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("pragma busy_timeout = 5000")
        self._db.execute("pragma journal_mode = wal")
        self._db.execute("pragma synchronous = normal")
        self._db.execute(
            "create table if not exists notice_claims ("
            " key text primary key, expires_ms integer not null) without rowid"
        )
        self._sweep_at = 0

    async def claim(self, key: str, ttl_ms: int, now_ms: int) -> bool:
        if now_ms >= self._sweep_at:
            self._db.execute("delete from notice_claims where expires_ms <= ?", (now_ms,))
            self._sweep_at = now_ms + self.SWEEP_EVERY_MS
        cursor = self._db.execute(
            "insert into notice_claims (key, expires_ms) values (?, ?)"
            " on conflict (key) do update set expires_ms = excluded.expires_ms"
            " where notice_claims.expires_ms <= ?",
            (key, now_ms + ttl_ms, now_ms),
        )
        return cursor.rowcount == 1

    async def claimed(self, key: str, now_ms: int) -> bool:
        row = self._db.execute(
            "select 1 from notice_claims where key = ? and expires_ms > ?", (key, now_ms)
        ).fetchone()
        return row is not None

    async def close(self) -> None:
        self._db.close()


class RedisClaims(NoticeClaims):
    """Claims in Redis under `<prefix>:<key>`; the client is the budget store's."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def redis_key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    async def claim(self, key: str, ttl_ms: int, now_ms: int) -> bool:
        # Redis keeps its own clock for expiry; now_ms is for the other stores.
        return bool(await self.client.set(self.redis_key(key), b"1", nx=True, px=max(ttl_ms, 1)))

    async def claimed(self, key: str, now_ms: int) -> bool:
        return bool(await self.client.exists(self.redis_key(key)))
