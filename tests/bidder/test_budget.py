"""Budget state: reservations, spend from wins, expiry, frequency caps, duplicate notices —
the same behaviour from the in-memory store and from Redis (a real redis-server), and the
fleet guarantee: processes sharing one Redis never overspend by more than one auction."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator, Callable

import pytest

from bidder.budget import (
    BUDGET_EXHAUSTED,
    FREQUENCY_CAP,
    OK,
    PACING,
    BudgetStore,
    MemoryStore,
    RedisStore,
)
from tests.bidder.conftest import iso_ms

NOON = iso_ms("2026-01-05T12:00:00Z")
_prefixes = itertools.count()

StoreFactory = Callable[[], BudgetStore]


@pytest.fixture(params=["memory", "redis"])
async def make_store(request: pytest.FixtureRequest) -> AsyncIterator[StoreFactory]:
    """Builds stores of one kind; Redis stores made by one factory share one key prefix
    (like the processes of a fleet), and each test gets a fresh prefix."""
    made: list[BudgetStore] = []
    prefix = f"test{next(_prefixes)}-{random.randrange(1 << 30)}"

    def factory() -> BudgetStore:
        if request.param == "memory":
            store: BudgetStore = MemoryStore(reservation_ttl_s=60, win_dedupe_s=900)
        else:
            url = request.getfixturevalue("redis_url")
            store = RedisStore(url, prefix=prefix, reservation_ttl_s=60, refresh_s=0.05)
        made.append(store)
        return store

    yield factory
    for store in made:
        await store.close()


async def started(factory: StoreFactory, campaigns: list[str] | None = None) -> BudgetStore:
    store = factory()
    await store.start(campaigns or ["c1"])
    return store


async def reserve(store: BudgetStore, amount: int, limit: int = 10_000, now: int = NOON, **kw):
    return await store.reserve(
        kw.get("campaign", "c1"),
        kw.get("user", "u1"),
        amount,
        limit,
        kw.get("budget", 10_000),
        kw.get("cap", 0),
        now,
    )


async def committed(store: BudgetStore, now: int = NOON) -> int:
    if isinstance(store, RedisStore):
        await store.refresh(now)
    return store.committed("c1", now)


@pytest.mark.anyio
async def test_reservations_stop_at_the_limit_and_overshoot_by_one_bid_at_most(
    make_store: StoreFactory,
) -> None:
    store = await started(make_store)
    results = [await reserve(store, 3_000) for _ in range(5)]
    reasons = [reason for reason, _ in results]
    # 0, 3000, 6000, 9000 are below 10,000: four reservations; the fifth sees 12,000.
    assert reasons == [OK, OK, OK, OK, BUDGET_EXHAUSTED]
    assert await committed(store) == 12_000  # over by less than one bid (3,000)


@pytest.mark.anyio
async def test_limit_below_budget_is_pacing(make_store: StoreFactory) -> None:
    store = await started(make_store)
    await reserve(store, 5_000, limit=4_000, budget=10_000)
    assert (await reserve(store, 1, limit=4_000, budget=10_000))[0] == PACING


@pytest.mark.anyio
async def test_win_turns_the_reservation_into_spend_at_the_clearing_price(
    make_store: StoreFactory,
) -> None:
    store = await started(make_store)
    _, reservation = await reserve(store, 4_000)
    assert reservation is not None
    assert await store.record_win(
        "b1", "c1", "u1", NOON, reserved=4_000, spend=2_500, now_ms=NOON + 300
    )
    assert await committed(store, NOON + 300) == 2_500
    if isinstance(store, RedisStore):
        await store.refresh(NOON + 300)
    assert store.spent("c1", NOON + 300) == 2_500


@pytest.mark.anyio
async def test_a_repeated_win_notice_counts_once(make_store: StoreFactory) -> None:
    store = await started(make_store)
    await reserve(store, 4_000)
    assert await store.record_win("b1", "c1", "u1", NOON, 4_000, 2_500, NOON + 10)
    assert not await store.record_win("b1", "c1", "u1", NOON, 4_000, 2_500, NOON + 20)
    assert await committed(store, NOON + 20) == 2_500


@pytest.mark.anyio
async def test_reservations_of_lost_auctions_expire(make_store: StoreFactory) -> None:
    store = await started(make_store)
    await reserve(store, 9_000)
    assert (await reserve(store, 1_000, now=NOON + 1_000))[0] == OK
    assert (await reserve(store, 1, now=NOON + 2_000))[0] == BUDGET_EXHAUSTED
    later = NOON + 70_000  # past the 60 s TTL: the lost bids no longer hold budget
    assert await committed(store, later) == 0
    assert (await reserve(store, 1_000, now=later))[0] == OK


@pytest.mark.anyio
async def test_released_reservation_frees_budget(make_store: StoreFactory) -> None:
    store = await started(make_store)
    _, reservation = await reserve(store, 9_000)
    assert reservation is not None
    await store.release(reservation)
    assert await committed(store) == 0


@pytest.mark.anyio
async def test_frequency_cap_counts_won_impressions_per_user_and_day(
    make_store: StoreFactory,
) -> None:
    store = await started(make_store)
    for i in range(2):
        assert (await reserve(store, 10, cap=2))[0] == OK
        assert await store.record_win(f"b{i}", "c1", "u1", NOON, 10, 10, NOON)
    assert (await reserve(store, 10, cap=2))[0] == FREQUENCY_CAP
    assert (await reserve(store, 10, cap=2, user="u2"))[0] == OK  # another user
    assert (await reserve(store, 10, cap=2, user=""))[0] == OK  # unknown users are not capped
    next_day = NOON + 86_400_000
    assert (await reserve(store, 10, cap=2, now=next_day))[0] == OK


@pytest.mark.anyio
async def test_spend_counts_against_the_day_of_the_bid(make_store: StoreFactory) -> None:
    store = await started(make_store)
    before_midnight = iso_ms("2026-01-05T23:59:59Z")
    await reserve(store, 5_000, now=before_midnight)
    await store.record_win("b1", "c1", "u1", before_midnight, 5_000, 5_000, before_midnight + 2_000)
    assert await committed(store, before_midnight + 500) == 5_000
    assert await committed(store, before_midnight + 2_000) == 0  # the new day starts empty


@pytest.mark.anyio
async def test_redis_fleet_shares_one_budget(redis_url: str) -> None:
    """Four stores (four bidder processes) reserving concurrently against one Redis: the
    campaign commits at most its budget plus one auction, not four times the budget."""
    prefix = f"fleet-{random.randrange(1 << 30)}"
    stores = [RedisStore(redis_url, prefix=prefix) for _ in range(4)]
    for store in stores:
        await store.start(["c1"])
    try:
        amounts = [random.Random(i).randrange(1_000, 5_000) for i in range(400)]

        async def bidder(store: RedisStore, share: list[int]) -> int:
            won = 0
            for amount in share:
                reason, _ = await store.reserve("c1", "", amount, 100_000, 100_000, 0, NOON)
                won += amount if reason == OK else 0
            return won

        totals = await asyncio.gather(
            *(bidder(store, amounts[i::4]) for i, store in enumerate(stores))
        )
        await stores[0].refresh(NOON)
        assert stores[0].committed("c1", NOON) == sum(totals)
        assert 100_000 <= sum(totals) < 100_000 + max(amounts)
    finally:
        for store in stores:
            await store.close()


@pytest.mark.anyio
async def test_memory_store_forgets_old_win_ids() -> None:
    store = MemoryStore(win_dedupe_s=10)
    assert await store.record_win("b1", "c1", "", NOON, 1, 1, NOON)
    assert not await store.record_win("b1", "c1", "", NOON, 1, 1, NOON + 9_000)
    assert await store.record_win("b1", "c1", "", NOON, 1, 1, NOON + 11_000)  # window passed
