"""Budget, spend and frequency state: in process memory, or in Redis for a fleet.

Units: every amount here is in *CPM micros* (micros x 1000), the unit OpenRTB prices come
in: a won impression at clearing price P (CPM micros) adds P to spend, a daily budget of
B micros is a limit of B * 1000. Integer sums, no rounding at any step.

The guarantee — spend never passes the budget by more than one in-flight auction's worth
— comes from *reservations*: before the bidder answers with a bid of price P, it reserves
P (the most the impression can cost in a first- or second-price auction) against the
campaign's day, and the reservation succeeds only while `spent + reserved` is below the
limit. So every bid that can still win is counted before it is sent, and the last
reservation can pass the limit by at most its own price. A win notice turns the
reservation into spend (at the clearing price); a bid that loses gets no notice, so
reservations live in time buckets that expire after `reservation_ttl_s`. A win notice
later than that still adds its spend — that is the one way to overshoot by more, and why
the TTL is generous (exchanges send notices within seconds).

Frequency caps count impressions per (day, campaign, user) from win notices and are
checked in the same atomic step as the reservation. Repeated win notices for one bid
(exchanges retry) are counted once: the win is claimed in the store's `claims`
(bidder.notices) for `win_dedupe_s`, which the service sets to cover the click window, so
the same claim also says "this bid won" to the click and conversion endpoints.

`MemoryStore` keeps all of it in dicts (the event loop is single-threaded, so no locks).
`RedisStore` does each check-and-reserve and each win in one Lua script — atomic across
a fleet, one round trip — and keeps a local view of committed spend, refreshed every
`state_refresh_s`, for pacing (which tolerates a fraction of a second of staleness).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import NamedTuple

from bidder.notices import MemoryClaims, NoticeClaims, RedisClaims
from bidder.pacing import DAY_MS, day_of

log = logging.getLogger("bidder.budget")

BUCKET_MS = 5_000  # reservation bucket width: expiry is accurate to this
OK = ""
BUDGET_EXHAUSTED = "budget_exhausted"
PACING = "pacing"
FREQUENCY_CAP = "frequency_cap"


class Reservation(NamedTuple):
    campaign_id: str
    day: int
    bucket: int
    amount: int  # CPM micros


def _limit_reason(limit: int, budget: int) -> str:
    return BUDGET_EXHAUSTED if limit >= budget else PACING


class BudgetStore:
    """The interface both stores implement."""

    ttl_ms: int
    claims: NoticeClaims  # which notices were counted (bidder.notices)

    async def start(self, campaign_ids: list[str]) -> None:
        """Connect / start background refresh."""

    async def close(self) -> None:
        """Release connections and tasks."""

    def watch(self, campaign_ids: list[str]) -> None:
        """The campaigns whose spend this process should see (a reloaded book may add some)."""

    def committed(self, campaign_id: str, now_ms: int) -> int:
        """Spent + reserved for today (CPM micros), as this process currently sees it."""
        raise NotImplementedError

    def spent(self, campaign_id: str, now_ms: int) -> int:
        raise NotImplementedError

    async def reserve(
        self,
        campaign_id: str,
        user_id: str,
        amount: int,
        limit: int,
        budget: int,
        frequency_cap: int,
        now_ms: int,
    ) -> tuple[str, Reservation | None]:
        """Reserve `amount` if the campaign may still commit it; (reason, reservation)."""
        raise NotImplementedError

    async def release(self, reservation: Reservation) -> None:
        """Give back a reservation whose bid was never sent (deadline passed)."""

    async def record_win(
        self,
        bid_id: str,
        campaign_id: str,
        user_id: str,
        bid_time_ms: int,
        reserved: int,
        spend: int,
        now_ms: int,
    ) -> bool:
        """Count a win; False when this bid's win was already counted (a retry)."""
        raise NotImplementedError

    def _first_bucket(self, now_ms: int) -> int:
        return (now_ms - self.ttl_ms) // BUCKET_MS + 1


class _Buckets:
    """One campaign-day's reservations in time buckets, with their running total, so the
    hot path reads the live sum in O(1) and expires whole buckets as time moves on."""

    __slots__ = ("amounts", "first_live", "total")

    def __init__(self) -> None:
        self.amounts: dict[int, int] = {}
        self.total = 0
        self.first_live = 0

    def live(self, first: int) -> int:
        if first > self.first_live:
            for bucket in [b for b in self.amounts if b < first]:
                self.total -= self.amounts.pop(bucket)
            self.first_live = first
        return self.total

    def add(self, bucket: int, amount: int) -> None:
        self.amounts[bucket] = self.amounts.get(bucket, 0) + amount
        self.total += amount

    def take(self, bucket: int, amount: int) -> None:
        held = self.amounts.get(bucket)
        if held:
            taken = min(held, amount)
            self.amounts[bucket] = held - taken
            self.total -= taken


class MemoryStore(BudgetStore):
    def __init__(
        self,
        reservation_ttl_s: int = 60,
        win_dedupe_s: int = 900,
        claims: NoticeClaims | None = None,
    ) -> None:
        self.ttl_ms = reservation_ttl_s * 1000
        self.dedupe_ms = win_dedupe_s * 1000
        # Budgets are this process's; which notices were counted is shared (SQLite) when
        # the caller gives a shared claims store, so workers and restarts never bill twice.
        self.claims = claims if claims is not None else MemoryClaims()
        self._spent: dict[tuple[str, int], int] = {}
        self._reserved: dict[tuple[str, int], _Buckets] = {}
        self._freq: dict[tuple[int, str, str], int] = {}
        self._freq_day = -1

    async def close(self) -> None:
        await self.claims.close()

    def spent(self, campaign_id: str, now_ms: int) -> int:
        return self._spent.get((campaign_id, day_of(now_ms)), 0)

    def _live_reserved(self, key: tuple[str, int], now_ms: int) -> int:
        buckets = self._reserved.get(key)
        return 0 if buckets is None else buckets.live(self._first_bucket(now_ms))

    def committed(self, campaign_id: str, now_ms: int) -> int:
        key = (campaign_id, day_of(now_ms))
        return self._spent.get(key, 0) + self._live_reserved(key, now_ms)

    def frequency(self, campaign_id: str, user_id: str, now_ms: int) -> int:
        return self._freq.get((day_of(now_ms), campaign_id, user_id), 0)

    async def reserve(
        self,
        campaign_id: str,
        user_id: str,
        amount: int,
        limit: int,
        budget: int,
        frequency_cap: int,
        now_ms: int,
    ) -> tuple[str, Reservation | None]:
        return self.reserve_now(campaign_id, user_id, amount, limit, budget, frequency_cap, now_ms)

    def reserve_now(
        self,
        campaign_id: str,
        user_id: str,
        amount: int,
        limit: int,
        budget: int,
        frequency_cap: int,
        now_ms: int,
    ) -> tuple[str, Reservation | None]:
        """`reserve` without the coroutine: the memory store never waits."""
        day = day_of(now_ms)
        if (
            frequency_cap > 0
            and user_id
            and self.frequency(campaign_id, user_id, now_ms) >= frequency_cap
        ):
            return FREQUENCY_CAP, None
        key = (campaign_id, day)
        if self._spent.get(key, 0) + self._live_reserved(key, now_ms) >= limit:
            return _limit_reason(limit, budget), None
        bucket = now_ms // BUCKET_MS
        buckets = self._reserved.get(key)
        if buckets is None:
            buckets = self._reserved[key] = _Buckets()
        buckets.add(bucket, amount)
        return OK, Reservation(campaign_id, day, bucket, amount)

    async def release(self, reservation: Reservation) -> None:
        buckets = self._reserved.get((reservation.campaign_id, reservation.day))
        if buckets is not None:
            buckets.take(reservation.bucket, reservation.amount)

    async def record_win(
        self,
        bid_id: str,
        campaign_id: str,
        user_id: str,
        bid_time_ms: int,
        reserved: int,
        spend: int,
        now_ms: int,
    ) -> bool:
        if not await self.claims.claim(f"win:{bid_id}", self.dedupe_ms, now_ms):
            return False
        day = day_of(bid_time_ms)
        key = (campaign_id, day)
        self._spent[key] = self._spent.get(key, 0) + spend
        buckets = self._reserved.get(key)
        if buckets is not None:
            buckets.take(bid_time_ms // BUCKET_MS, reserved)
        if user_id:
            if day > self._freq_day:  # a new day: yesterday's counts can go
                self._freq = {k: v for k, v in self._freq.items() if k[0] >= day}
                self._freq_day = day
            fkey = (day, campaign_id, user_id)
            self._freq[fkey] = self._freq.get(fkey, 0) + 1
        self._forget_old_days(now_ms)
        return True

    def _forget_old_days(self, now_ms: int) -> None:
        oldest = day_of(now_ms) - 2  # keep yesterday for late notices
        if any(k[1] < oldest for k in self._spent):
            self._spent = {k: v for k, v in self._spent.items() if k[1] >= oldest}
            self._reserved = {k: v for k, v in self._reserved.items() if k[1] >= oldest}


# ---- Redis ------------------------------------------------------------------------------

# KEYS: spend, freq, current reservation bucket, older live buckets...
# ARGV: amount, limit, frequency_cap, campaign_id, bucket ttl seconds
# -> {code, committed}: code 0 reserved, 1 limit reached, 2 frequency cap
_RESERVE = """
local cap = tonumber(ARGV[3])
if cap > 0 and ARGV[4] ~= '' then
  local seen = tonumber(redis.call('HGET', KEYS[2], ARGV[4]) or '0')
  if seen >= cap then return {2, 0} end
end
local committed = tonumber(redis.call('GET', KEYS[1]) or '0')
for i = 3, #KEYS do
  committed = committed + tonumber(redis.call('GET', KEYS[i]) or '0')
end
if committed >= tonumber(ARGV[2]) then return {1, committed} end
redis.call('INCRBY', KEYS[3], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[5])
return {0, committed}
"""

# KEYS: win marker, spend, freq, reservation bucket of the bid
# ARGV: spend, reserved, campaign_id ('' = no user), dedupe seconds, day-key ttl seconds
# -> 1 counted, 0 duplicate
_WIN = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[4]) then return 0 end
redis.call('INCRBY', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[5])
if ARGV[3] ~= '' then
  redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
  redis.call('EXPIRE', KEYS[3], ARGV[5])
end
local left = tonumber(redis.call('GET', KEYS[4]) or '0')
if left > 0 then
  redis.call('DECRBY', KEYS[4], math.min(left, tonumber(ARGV[2])))
end
return 1
"""

# KEYS: reservation bucket; ARGV: amount
_RELEASE = """
local left = tonumber(redis.call('GET', KEYS[1]) or '0')
if left > 0 then redis.call('DECRBY', KEYS[1], math.min(left, tonumber(ARGV[1]))) end
return 1
"""

DAY_KEY_TTL_S = 3 * DAY_MS // 1000  # yesterday's keys stay for late notices and audits


class RedisStore(BudgetStore):
    """Budget state shared by every bidder process pointed at the same Redis and prefix."""

    def __init__(
        self,
        url: str,
        prefix: str = "bidlake:bidder",
        reservation_ttl_s: int = 60,
        win_dedupe_s: int = 900,
        refresh_s: float = 0.2,
    ) -> None:
        import redis.asyncio as aioredis  # only a fleet pays for the import

        self.ttl_ms = reservation_ttl_s * 1000
        self.dedupe_s = win_dedupe_s
        self.refresh_s = refresh_s
        self.prefix = prefix
        self.client = aioredis.Redis.from_url(url, decode_responses=False)
        self._reserve = self.client.register_script(_RESERVE)
        self._win = self.client.register_script(_WIN)
        self._release = self.client.register_script(_RELEASE)
        # The win script claims `<prefix>:win:<bid>` itself; clicks and conversions claim
        # their keys beside it, and ask for the win's, through the same client.
        self.claims = RedisClaims(self.client, prefix)
        self._campaigns: list[str] = []
        self._view: dict[str, tuple[int, int, int]] = {}  # campaign -> (day, spent, reserved)
        self._task: asyncio.Task[None] | None = None

    # keys
    def _spend_key(self, campaign_id: str, day: int) -> str:
        return f"{self.prefix}:spend:{day}:{campaign_id}"

    def _res_key(self, campaign_id: str, day: int, bucket: int) -> str:
        return f"{self.prefix}:res:{day}:{campaign_id}:{bucket}"

    def _freq_key(self, day: int, user_id: str) -> str:
        return f"{self.prefix}:fc:{day}:{user_id}"

    def _live_buckets(self, now_ms: int) -> range:
        return range(now_ms // BUCKET_MS, self._first_bucket(now_ms) - 1, -1)  # newest first

    async def start(self, campaign_ids: list[str]) -> None:
        self._campaigns = list(campaign_ids)
        await self.client.ping()  # fail at start, not on the first bid, when Redis is away
        await self.refresh()
        self._task = asyncio.create_task(self._refresh_loop(), name="budget-refresh")

    def watch(self, campaign_ids: list[str]) -> None:
        self._campaigns = list(campaign_ids)  # the next refresh reads them

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.aclose()  # type: ignore[attr-defined]  # types-redis 4.6 lags redis 8

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except Exception as exc:  # keep the last view; reservations stay exact
                log.warning("budget view refresh failed: %s", exc)

    async def refresh(self, now_ms: int | None = None) -> None:
        """Re-read today's spend and live reservations of every campaign."""
        import time

        now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
        day = day_of(now)
        buckets = list(self._live_buckets(now))
        keys: list[str] = []
        for cid in self._campaigns:
            keys.append(self._spend_key(cid, day))
            keys += [self._res_key(cid, day, b) for b in buckets]
        if not keys:
            return
        values = await self.client.mget(keys)
        per = 1 + len(buckets)
        view = {}
        for i, cid in enumerate(self._campaigns):
            chunk = values[i * per : (i + 1) * per]
            spent = int(chunk[0] or 0)
            reserved = sum(int(v or 0) for v in chunk[1:])
            view[cid] = (day, spent, reserved)
        self._view = view

    def _seen(self, campaign_id: str, now_ms: int) -> tuple[int, int]:
        day, spent, reserved = self._view.get(campaign_id, (-1, 0, 0))
        return (spent, reserved) if day == day_of(now_ms) else (0, 0)

    def committed(self, campaign_id: str, now_ms: int) -> int:
        spent, reserved = self._seen(campaign_id, now_ms)
        return spent + reserved

    def spent(self, campaign_id: str, now_ms: int) -> int:
        return self._seen(campaign_id, now_ms)[0]

    async def reserve(
        self,
        campaign_id: str,
        user_id: str,
        amount: int,
        limit: int,
        budget: int,
        frequency_cap: int,
        now_ms: int,
    ) -> tuple[str, Reservation | None]:
        day = day_of(now_ms)
        buckets = list(self._live_buckets(now_ms))
        keys = [
            self._spend_key(campaign_id, day),
            self._freq_key(day, user_id),
            *(self._res_key(campaign_id, day, b) for b in buckets),
        ]
        bucket_ttl_s = self.ttl_ms // 1000 + BUCKET_MS // 1000 + 1
        code, _committed = await self._reserve(
            keys=keys,
            args=[amount, limit, frequency_cap, campaign_id if user_id else "", bucket_ttl_s],
        )
        if code == 2:
            return FREQUENCY_CAP, None
        if code == 1:
            return _limit_reason(limit, budget), None
        return OK, Reservation(campaign_id, day, buckets[0], amount)

    async def release(self, reservation: Reservation) -> None:
        key = self._res_key(reservation.campaign_id, reservation.day, reservation.bucket)
        await self._release(keys=[key], args=[reservation.amount])

    async def record_win(
        self,
        bid_id: str,
        campaign_id: str,
        user_id: str,
        bid_time_ms: int,
        reserved: int,
        spend: int,
        now_ms: int,
    ) -> bool:
        day = day_of(bid_time_ms)
        keys = [
            f"{self.prefix}:win:{bid_id}",
            self._spend_key(campaign_id, day),
            self._freq_key(day, user_id),
            self._res_key(campaign_id, day, bid_time_ms // BUCKET_MS),
        ]
        counted = await self._win(
            keys=keys,
            args=[spend, reserved, campaign_id if user_id else "", self.dedupe_s, DAY_KEY_TTL_S],
        )
        return bool(counted)


def open_store(
    state: str,
    *,
    prefix: str,
    reservation_ttl_s: int,
    win_dedupe_s: int,
    refresh_s: float,
    claims: NoticeClaims | None = None,
) -> BudgetStore:
    """The store a `--state` setting names: "memory" or a redis:// URL.

    `claims` is used by the memory store (the Redis store claims in Redis).
    """
    if state == "memory":
        return MemoryStore(reservation_ttl_s, win_dedupe_s, claims)
    return RedisStore(state, prefix, reservation_ttl_s, win_dedupe_s, refresh_s)
