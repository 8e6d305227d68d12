"""Counted notices: claims shared by processes and kept over restarts (bidder.notices)."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
from pathlib import Path

from bidder.notices import MemoryClaims, SqliteClaims


def test_memory_claims_expire() -> None:
    async def go() -> None:
        claims = MemoryClaims()
        assert await claims.claim("win:b1", 1_000, 0)
        assert not await claims.claim("win:b1", 1_000, 999)
        assert await claims.claimed("win:b1", 999)
        assert not await claims.claimed("win:b1", 1_000)
        assert await claims.claim("win:b1", 1_000, 1_000)  # expired: a new claim

    asyncio.run(go())


def test_sqlite_claims_survive_a_restart(tmp_path: Path) -> None:
    async def go() -> None:
        first = SqliteClaims(tmp_path / "n.sqlite3")
        assert await first.claim("win:b1", 60_000, 0)
        await first.close()
        second = SqliteClaims(tmp_path / "n.sqlite3")
        assert not await second.claim("win:b1", 60_000, 10)
        assert await second.claimed("win:b1", 10)
        assert await second.claim("win:b1", 60_000, 60_000)  # expired
        await second.close()

    asyncio.run(go())


def _claim_all(path: str, keys: list[str], out: mp.Queue) -> None:
    async def go() -> int:
        claims = SqliteClaims(path)
        won = 0
        for key in keys:
            won += await claims.claim(key, 60_000, 0)
        await claims.close()
        return won

    out.put(asyncio.run(go()))


def test_sqlite_claims_are_shared_by_processes(tmp_path: Path) -> None:
    """Two worker processes racing for the same 500 notices count each exactly once."""
    keys = [f"win:b{i}" for i in range(500)]
    path = str(tmp_path / "n.sqlite3")
    SqliteClaims(path)  # create the schema once, as the first worker would
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    workers = [ctx.Process(target=_claim_all, args=(path, keys, out)) for _ in range(2)]
    for w in workers:
        w.start()
    counts = [out.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    assert sum(counts) == len(keys)
