"""The bidder's runtime: what lives from start-up to shutdown, and the endpoint handlers.

`Bidder.start()` (run by the ASGI lifespan) loads the campaign book and the models,
connects the budget store, opens the tracking logs and starts the background upkeep;
`stop()` undoes it in reverse, publishing the open log files. The handlers take bytes and
return an `Answer`; HTTP framing is bidder.app's business, deciding is bidder.decision's.

Every opportunity is logged as a bid_request event (with its no-bid reason, "" when it
bid), every bid as a bid event, and win / click / conversion notices as impression /
click / conversion events. Events are logged after the decision is final, so a bid that
missed the deadline is logged as a "timeout" no-bid, never as a bid.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import orjson

from bidder.bid_request import RequestError, parse_request
from bidder.budget import BudgetStore, Reservation, open_store
from bidder.campaign_reload import CampaignReloader
from bidder.decision import TIMEOUT, CampaignPlan, Engine, ImpDecision
from bidder.event_logs import BidderLogs
from bidder.lag import LoopLag
from bidder.metrics import Metrics, label
from bidder.models import FilePointer, Models, Pointer, RedisPointer
from bidder.notices import SqliteClaims
from bidder.pacing import Pacer
from bidder.response import bid_object, bid_response
from bidder.settings import Settings
from bidder.urls import (
    AUCTION_PRICE_MACRO,
    CONVERSION_VALUE_MACRO,
    Signer,
    Token,
    TokenError,
    has_control_characters,
    parse_amount_micros,
)
from bidlake.campaigns import Campaign

if TYPE_CHECKING:  # imported at start only with --events-to kafka://...
    from bidder.kafka_logs import KafkaLogs

log = logging.getLogger("bidder")

JSON = [(b"content-type", b"application/json")]
# OpenRTB asks bidders to name the protocol version they answer in.
BID = [*JSON, (b"x-openrtb-version", b"2.6")]
TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
PROMETHEUS = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
GIF = [(b"content-type", b"image/gif"), (b"cache-control", b"no-store")]
# The smallest transparent GIF: what a conversion pixel answers.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
CONVERSION_TYPES = frozenset({"", "purchase", "signup", "install", "lead"})
MAX_ORDER_ID = 128
FUTURE_SKEW_MS = 60_000  # clocks of a fleet agree within this; a later bid time is forged


class Answer(NamedTuple):
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""


def bad_request(reason: str) -> Answer:
    return Answer(400, JSON, orjson.dumps({"error": reason}))


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Bidder:
    def __init__(self, settings: Settings, clock: Callable[[], int] | None = None) -> None:
        self.settings = settings
        self.clock = clock or now_ms  # epoch ms; tests pin it (hour targeting, pacing)
        self.metrics = Metrics()
        key, retired = settings.tracking_keys()
        self.tracking_key = key
        self.signer = Signer(key.secret, retired)
        self.pacer = Pacer(settings.pacing_slack_hours, settings.pacing_min_factor)
        # Ids: a random per-process prefix and a counter — unique across a fleet without
        # coordination, and ~10x cheaper than uuid4 on the hot path.
        self._id_prefix = secrets.token_hex(6)
        self._ids = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        self._retiring: set[asyncio.Future[list[Path]]] = set()
        self._releasing: set[asyncio.Future[None]] = set()
        self.lag = LoopLag()
        self.run_dir = Path(settings.run_dir) if settings.run_dir else None
        self.started = False
        self.campaigns: dict[str, Campaign] = {}
        self.plans: list[CampaignPlan] = []
        self.book: CampaignReloader | None = None  # the campaign book and its hot reload
        self.models: Models | None = None
        self.store: BudgetStore | None = None
        self.logs: BidderLogs | KafkaLogs | None = None
        self.engine: Engine | None = None

    def new_id(self) -> str:
        return f"{self._id_prefix}{next(self._ids):x}"

    # ---- lifecycle ----

    async def start(self) -> None:
        s = self.settings
        # In-memory budgets are per process: with N workers each may spend 1/N of a
        # budget (the kernel spreads connections about evenly). Redis shares one budget.
        share = 1.0 / s.workers if s.state == "memory" else 1.0
        self.book = CampaignReloader.open(s.campaigns, share)
        self.campaigns = self.book.current.campaigns
        self.plans = list(self.book.current.plans)
        # A fleet follows the version promotion published in Redis (bidder.models).
        pointer: Pointer = (
            RedisPointer(s.state, s.redis_prefix, s.models_path)
            if s.models_from_redis
            else FilePointer(s.models_path)
        )
        self.models = Models.open(s.models_path, s.ctr_version, s.cvr_version, pointer=pointer)
        store = open_store(
            s.state,
            prefix=s.redis_prefix,
            reservation_ttl_s=s.reservation_ttl_s,
            # A win is remembered for the click window: the same claim dedupes repeated
            # win notices and tells the click endpoint that the bid won.
            win_dedupe_s=max(s.win_dedupe_s, s.click_window_s),
            refresh_s=s.state_refresh_s,
            claims=SqliteClaims(s.notices_path) if s.state == "memory" else None,
        )
        await store.start(list(self.campaigns))
        self.store = store
        logs: BidderLogs | KafkaLogs
        if s.events_to.startswith("kafka://"):
            from bidder.kafka_logs import KafkaLogs  # its open() loads librdkafka

            logs = KafkaLogs.from_settings(s)
        else:
            logs = BidderLogs(
                s.landing_path,
                s.resolved_writer_id(),
                fmt=s.log_format,
                compress=s.log_compress,
                max_events_per_file=s.max_events_per_file,
                rotate_s=s.log_rotate_s,
                flush_s=s.log_flush_s,
            )
        logs.open()
        self.logs = logs
        self.metrics.events = logs.events
        self.engine = Engine(
            self.plans, store, self.models, self.pacer, currency=s.currency, seat=s.seat
        )
        self._tasks = [
            asyncio.create_task(self._every(s.model_poll_s, self._poll_models), name="models"),
            asyncio.create_task(
                self._every(s.campaign_poll_s, self._poll_campaigns), name="campaigns"
            ),
            asyncio.create_task(self._every(1.0, self._upkeep), name="upkeep"),
            asyncio.create_task(self.lag.run(), name="loop-lag"),
        ]
        self._settle_heap()
        self.started = True
        log.info(
            "bidder ready: %d campaigns, ctr=%s cvr=%s, state=%s, logs=%s",
            len(self.plans),
            self.models.ctr.version or "-",
            self.models.cvr.version or "-",
            "memory" if s.state == "memory" else "redis",
            s.events_to if s.events_to.startswith("kafka://") else s.landing_path,
        )

    @staticmethod
    def _settle_heap(collect: bool = True) -> None:
        """Keep the cyclic GC off the long-lived heap (campaigns, models, memos).

        Requests allocate and free objects by the thousand; every full collection would
        walk the models' objects too. Freezing what exists after start-up (and after each
        model swap) takes it out of the collector's sweep, and a larger young-generation
        threshold makes collections rarer; together about 5 % of the CPU per request here
        (benchmarks/bidder), and fewer long pauses in the latency tail. The bidder creates
        no reference cycles on the hot path, so nothing waits longer to be freed.
        """
        if collect:
            gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 20, 20)

    async def _poll_models(self) -> None:
        assert self.models is not None
        ctr, cvr = self.models.ctr.model, self.models.cvr.model
        await self.models.poll()
        if self.models.ctr.model is not ctr or self.models.cvr.model is not cvr:
            self._settle_heap(collect=False)  # a full collection now would stall requests

    async def _poll_campaigns(self) -> None:
        """A new version of the campaign book: a new Engine over its plan set, swapped in
        with one assignment. A request reads `self.engine` once, at its start, so it
        decides with one book from start to end (bidder.campaign_reload)."""
        assert self.book is not None and self.engine is not None
        book = await self.book.poll()
        if book is None:
            return
        old = self.engine
        plans = list(book.plans)
        engine = Engine(
            plans, old.store, old.models, old.pacer, currency=old.currency, seat=old.seat
        )
        old.store.watch(list(book.campaigns))
        self.engine, self.plans, self.campaigns = engine, plans, book.campaigns
        self._settle_heap(collect=False)

    async def stop(self) -> None:
        self.started = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.book is not None:
            self.book.close()
        if self._retiring:
            await asyncio.gather(*self._retiring)
        if self.logs is not None:
            self.logs.close()
        if self.store is not None:
            await self.store.close()
        if self.models is not None:
            self.models.close()
        if self.run_dir is not None:
            with contextlib.suppress(OSError):
                self.metrics.dump(self.run_dir)

    async def _every(self, seconds: float, fn) -> None:  # type: ignore[no-untyped-def]
        while True:
            await asyncio.sleep(seconds)
            try:
                result = fn()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # upkeep must outlive one bad round
                log.exception("background task %s failed", getattr(fn, "__name__", fn))

    async def _upkeep(self) -> None:
        assert self.logs is not None
        retired = self.logs.tick(self.clock())
        if retired is not None:
            # Shielded: a shutdown that cancels the upkeep must still let the files of
            # the retired writer be published; stop() waits for it.
            task = asyncio.ensure_future(asyncio.to_thread(self.logs.retire, retired))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)
            await asyncio.shield(task)
        if self.run_dir is not None:
            self.metrics.dump(self.run_dir)

    # ---- /openrtb2/bid ----

    # The answer to a request whose handling hit a bug: a no-bid (the app counts it as
    # outcome "bid_internal_error"), never a 500 — see `_internal_error`.
    NO_BID_INTERNAL_ERROR = Answer(
        204, [(b"x-openrtb-version", b"2.6"), (b"x-bidlake-no-bid", b"internal_error")]
    )

    async def bid(self, body: bytes, exchange: str, t0: float) -> Answer:
        """Answer one BidRequest body; `t0` is its arrival (time.perf_counter())."""
        s = self.settings
        assert self.engine is not None and self.logs is not None
        decisions: list[ImpDecision] = []  # filled as imps are decided, before reserving
        try:
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                return bad_request(f"malformed JSON: {exc}")
            arrived_ms = self.clock()
            try:
                req = parse_request(
                    data,
                    now_ms=arrived_ms,
                    exchange=exchange,
                    default_exchange=s.default_exchange,
                    default_tmax_ms=s.default_tmax_ms,
                    account_currency=s.currency,
                )
            except RequestError as exc:
                return bad_request(str(exc))
            # The loop's current lag is time the request may already have waited unseen.
            deadline = t0 + (req.tmax_ms - s.tmax_margin_ms) / 1000.0 - self.lag.seconds
            engine = self.engine
            if engine.synchronous:
                engine.decide_now(req, arrived_ms, deadline, decisions)
            else:
                await engine.decide(req, arrived_ms, deadline, decisions)
            if time.perf_counter() >= deadline and any(d.bid for d in decisions):
                self._too_late(decisions)
            return self._answer(req.id, decisions, arrived_ms)
        except Exception:
            return self._internal_error(decisions)

    def _internal_error(self, decisions: list[ImpDecision]) -> Answer:
        """A bug on the bid path: log it loudly, give back every reservation the request
        made, and answer a no-bid. A 500 would make exchanges throttle the bidder, and one
        after a reservation would hold that budget until the reservation expired."""
        reserved = [d.reservation for d in decisions if d.reservation is not None]
        log.exception(
            "internal error on the bid path: answering no-bid, releasing %d reservation(s)",
            len(reserved),
        )
        for reservation in reserved:
            self._release_later(reservation)
        for d in decisions:
            d.bid, d.reservation = None, None
        return self.NO_BID_INTERNAL_ERROR

    def _release_later(self, reservation: Reservation) -> None:
        store = self.store
        assert store is not None
        task = asyncio.ensure_future(store.release(reservation))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    def _too_late(self, decisions: list[ImpDecision]) -> None:
        """The deadline passed while deciding: no bid goes out, reservations go back —
        in the background, since the answer is already due."""
        for d in decisions:
            if d.bid is not None:
                if d.reservation is not None:
                    self._release_later(d.reservation)
                d.bid, d.reservation, d.reason = None, None, TIMEOUT
                d.event["no_bid_reason"] = TIMEOUT

    def _answer(self, request_id: str, decisions: list[ImpDecision], at_ms: int) -> Answer:
        """The answer, and the request's events. What can fail is built first (tokens,
        bid objects, bid events, the response body); then the events are written (their
        numbers were range-checked by the parser, so they encode); the bids are counted
        last. An exception before the end leaves nothing counted (see `_internal_error`)."""
        s = self.settings
        logs, metrics = self.logs, self.metrics
        assert logs is not None
        bids = []
        bid_events = []
        for d in decisions:
            event = d.event
            priced = d.bid
            if priced is not None:
                campaign = priced.plan.campaign
                bid_id = self.new_id()
                token = Token(
                    bid_id=bid_id,
                    request_id=request_id,
                    campaign_id=campaign.campaign_id,
                    creative_id=priced.creative.creative_id,
                    user_id=str(event["user_id"]),
                    bid_time_ms=at_ms,
                    bid_price_micros=priced.price_micros,
                )
                bids.append(
                    bid_object(d, bid_id, self.signer.urls(token), s.base_url, s.creative_base_url)
                )
                bid_events.append(
                    {
                        "event_id": bid_id,
                        "event_time": at_ms,
                        "request_id": request_id,
                        "imp_id": d.imp.id,
                        "campaign_id": campaign.campaign_id,
                        "creative_id": priced.creative.creative_id,
                        "advertiser_id": campaign.advertiser_id,
                        "bid_price_micros": priced.price_micros,
                        "pctr": priced.pctr,
                        "pcvr": priced.pcvr,
                        "model_version": priced.model_version,
                        "pacing_factor": priced.pacing_factor,
                        "deal_id": priced.deal_id,
                    }
                )
        if bids:
            body = bid_response(request_id, self.new_id(), s.seat, s.currency, bids)
            answer = Answer(200, BID, body)
        else:
            reason = decisions[0].reason if decisions else ""
            answer = Answer(
                204, [(b"x-openrtb-version", b"2.6"), (b"x-bidlake-no-bid", reason.encode())]
            )
        for bid_event in bid_events:
            logs.write("bid", bid_event)
        for d in decisions:
            logs.write("bid_request", d.event)
        for d in decisions:
            if d.bid is not None:
                metrics.bid(d.bid.plan.campaign.campaign_id)
            metrics.imp(d.reason)
        return answer

    # ---- tracking endpoints ----

    def _age_problem(self, token: Token, now: int, window_s: int, what: str) -> str | None:
        """Why a notice is too old (or from the future) to count, or None."""
        age_ms = now - token.bid_time_ms
        if age_ms > window_s * 1000:
            return f"{what} for a bid {age_ms // 1000} s old; refused after {window_s} s"
        if age_ms < -FUTURE_SKEW_MS:
            return f"{what} for a bid timed {-age_ms // 1000} s in the future"
        return None

    async def win(self, query: bytes) -> Answer:
        assert self.store is not None and self.logs is not None
        s, t = self.settings, self.clock()
        try:
            token, params = self.signer.read(query, "win")
            price = params.get("price", "")
            if not price or price == AUCTION_PRICE_MACRO:
                raise TokenError("win notice without a clearing price (${AUCTION_PRICE} unset)")
            clearing = parse_amount_micros(price, "price")
            problem = self._age_problem(token, t, s.win_dedupe_s, "win notice")
            if problem:
                raise TokenError(problem)
        except TokenError as exc:
            self.metrics.track("win_rejected")
            return bad_request(str(exc))
        # A second-price exchange charges at most the bid, a first-price one exactly the
        # bid: a price above it is an exchange error or a forgery, and never billed.
        billed = min(clearing, token.bid_price_micros)
        counted = await self.store.record_win(
            token.bid_id,
            token.campaign_id,
            token.user_id,
            token.bid_time_ms,
            reserved=token.bid_price_micros,
            spend=billed,
            now_ms=t,
        )
        if not counted:
            self.metrics.track("win_duplicate")
            return Answer(200, TEXT, b"")
        if clearing > token.bid_price_micros:
            self.metrics.track("win_above_bid")
        self.metrics.track("win")
        self.logs.write(
            "impression",
            {
                "event_id": token.bid_id,  # one impression per won bid
                "event_time": t,
                "bid_id": token.bid_id,
                "request_id": token.request_id,
                "campaign_id": token.campaign_id,
                "creative_id": token.creative_id,
                "clearing_price_micros": billed,
                "user_id": token.user_id,
            },
        )
        return Answer(200, TEXT, b"")

    async def click(self, query: bytes) -> Answer:
        assert self.store is not None and self.logs is not None
        s, t = self.settings, self.clock()
        try:
            token, _ = self.signer.read(query, "click")
            problem = self._age_problem(token, t, s.click_window_s, "click")
            if problem:
                raise TokenError(problem)
        except TokenError as exc:
            self.metrics.track("click_rejected")
            return bad_request(str(exc))
        claims = self.store.claims
        # The user is sent on to the advertiser either way; only the count is refused.
        if not await claims.claimed(f"win:{token.bid_id}", t):
            self.metrics.track("click_not_won")
        elif not await claims.claim(f"click:{token.bid_id}", s.conversion_window_s * 1000, t):
            self.metrics.track("click_duplicate")
        else:
            self.metrics.track("click")
            self.logs.write(
                "click",
                {
                    "event_id": f"clk-{token.bid_id}",  # one click per bid
                    "event_time": t,
                    "bid_id": token.bid_id,
                    "campaign_id": token.campaign_id,
                    "user_id": token.user_id,
                },
            )
        campaign = self.campaigns.get(token.campaign_id)
        if campaign is None or not campaign.adomain:
            return Answer(204, [])
        landing = f"https://{campaign.adomain[0]}/?bidlake_bid={token.bid_id}"
        return Answer(302, [(b"location", landing.encode()), (b"cache-control", b"no-store")])

    async def conversion(self, query: bytes) -> Answer:
        assert self.store is not None and self.logs is not None
        s, t = self.settings, self.clock()
        try:
            token, params = self.signer.read(query, "conversion")
            problem = self._age_problem(token, t, s.conversion_window_s, "conversion")
            if problem:
                raise TokenError(problem)
            value = params.get("value", "")
            # An advertiser tag without a value (a signup) leaves the macro as it is.
            cap = int(s.max_conversion_value * 1_000_000)
            micros = (
                0
                if value in ("", CONVERSION_VALUE_MACRO)
                else parse_amount_micros(value, "value", cap)
            )
            kind = params.get("type", "").lower()
            if kind not in CONVERSION_TYPES:
                raise TokenError(
                    f"type must be one of {sorted(CONVERSION_TYPES - {''})}, got {kind!r}"
                )
            order = params.get("order", "")
            if len(order) > MAX_ORDER_ID:
                raise TokenError(f"order id longer than {MAX_ORDER_ID} characters")
            if has_control_characters(order):
                raise TokenError("order id has control characters")
        except TokenError as exc:
            self.metrics.track("conversion_rejected")
            return bad_request(str(exc))
        claims = self.store.claims
        window_ms = s.conversion_window_s * 1000
        # Credited to a click (post-click) or, failing one, to the won impression
        # (post-view): a conversion on a bid that never won counts nowhere.
        touched = await claims.claimed(f"click:{token.bid_id}", t) or await claims.claimed(
            f"win:{token.bid_id}", t
        )
        if not touched:
            self.metrics.track("conversion_not_won")
        elif not await claims.claim(f"conversion:{token.bid_id}:{order}", window_ms, t):
            self.metrics.track("conversion_duplicate")
        else:
            self.metrics.track("conversion")
            self.logs.write(
                "conversion",
                {
                    # One conversion per (bid, order id): the id says which, so ingest's
                    # dedupe by event_id holds the same line.
                    "event_id": f"cnv-{token.bid_id}-{order}" if order else f"cnv-{token.bid_id}",
                    "event_time": t,
                    "campaign_id": token.campaign_id,
                    "user_id": token.user_id,
                    "conversion_value_micros": micros,
                    "bid_id": token.bid_id,
                    "conversion_type": kind,
                },
            )
        return Answer(200, GIF, PIXEL)

    # ---- operations ----

    def health(self) -> Answer:
        return Answer(200, TEXT, b"ok\n")

    def ready(self) -> Answer:
        models = self.models
        detail = {
            "started": self.started,
            # A slot behind its pointer (a version that failed to load here) shows both.
            "models": {
                slot.name: {
                    "version": slot.version or None,
                    "wanted": slot.wanted_version or None,
                    "source": slot.source,
                    "error": slot.last_error or None,
                }
                for slot in (models.slots if models else ())
            },
            "campaigns": self.book.status() if self.book is not None else None,
        }
        ok = self.started and models is not None and models.ready
        return Answer(200 if ok else 503, JSON, orjson.dumps({"ready": ok, **detail}))

    @staticmethod
    def _book_metrics(book: CampaignReloader) -> list[str]:
        pid = os.getpid()
        return [
            "# HELP bidder_campaign_book_version The campaign book version this worker bids "
            "with (0: a JSON book file).",
            "# TYPE bidder_campaign_book_version gauge",
            f'bidder_campaign_book_version{{pid="{pid}"}} {book.current.number}',
            "# HELP bidder_campaign_book_reloads_total New book versions swapped in.",
            "# TYPE bidder_campaign_book_reloads_total counter",
            f'bidder_campaign_book_reloads_total{{pid="{pid}"}} {book.reloads}',
            "# HELP bidder_campaign_book_failures_total Polls or loads of the book that failed.",
            "# TYPE bidder_campaign_book_failures_total counter",
            f'bidder_campaign_book_failures_total{{pid="{pid}"}} {book.failures}',
        ]

    def metrics_text(self) -> Answer:
        if self.models is not None:
            self.metrics.models = {
                slot.name: (slot.version, slot.reloads, slot.failures) for slot in self.models.slots
            }
        extra: list[str] = [
            "# HELP bidder_event_loop_lag_seconds Recent worst lateness of the event loop "
            "(deadlines move earlier by it).",
            "# TYPE bidder_event_loop_lag_seconds gauge",
            f'bidder_event_loop_lag_seconds{{pid="{os.getpid()}"}} {self.lag.seconds:.6f}',
        ]
        if self.book is not None:
            extra += self._book_metrics(self.book)
        store = self.store
        if store is not None and self.plans:
            t = self.clock()
            committed = {
                p.campaign.campaign_id: store.committed(p.campaign.campaign_id, t)
                for p in self.plans
            }
            extra += [
                "# HELP bidder_campaign_committed_micros Today's spend plus reservations in "
                "micros, as this worker sees it.",
                "# TYPE bidder_campaign_committed_micros gauge",
            ]
            extra += [
                f'bidder_campaign_committed_micros{{campaign_id="{label(cid)}"}} {c // 1000}'
                for cid, c in committed.items()
            ]
            extra += [
                "# HELP bidder_campaign_pacing_factor The multiplier on value-based bids now.",
                "# TYPE bidder_campaign_pacing_factor gauge",
            ]
            extra += [
                f'bidder_campaign_pacing_factor{{campaign_id="{label(p.campaign.campaign_id)}"}} '
                f"{self.pacer.factor(p.budget, committed[p.campaign.campaign_id], t):.4f}"
                for p in self.plans
            ]
        return Answer(200, PROMETHEUS, self.metrics.render(self.run_dir, extra).encode())
