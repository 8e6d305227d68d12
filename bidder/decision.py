"""The bid decision: which campaign bids how much on each impression, or why none does.

For every imp of a request, each campaign of the book goes through the same stages, and
drops out at the first it fails, with a reason code of the contract's NoBidReason
vocabulary:

  1. format    — the campaign has a creative of a format the imp takes   -> unsupported
  2. match     — a creative fits the slot size; geo, device, UTC hour     -> no_matching_campaign
  3. blocks    — site/app domain blocklist, badv, bcat, wseat/bseat       -> blocked
  4. pacing    — committed spend below today's allowance (bidder.pacing)  -> pacing /
                                                                              budget_exhausted
  5. frequency — the user's impressions today below the campaign's cap   -> frequency_cap
  6. model     — pCTR (and pCVR for CPA) from the current models         -> no_model
  7. price     — value = CPC goal x pCTR, or CPA goal x pCTR x pCVR; bid CPM = value x 1000
                 x pacing factor, capped at the campaign's max bid; it must reach the
                 imp's floor (or an eligible deal's floor)                 -> below_floor
  8. reserve   — the atomic budget reservation (bidder.budget) for the best-priced
                 campaign; if it fails, the next best tries              -> pacing /
                                                                              budget_exhausted /
                                                                              frequency_cap

The highest bid wins the imp. When no campaign bids, the imp's reason is the one of the
campaign that got furthest (a later stage explains more than an earlier one). When the
request's time is up (tmax minus a margin, from arrival), the remaining imps are not
priced: reason timeout.

Pricing is value-based on purpose: in a second-price auction bidding the value is the
dominant strategy; in first-price auctions (`at` = 1) it overpays by the gap to the
second bid, and bid shading is left for later (it needs win-rate curves the lake will
have once the bidder has run for a while).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from bidder.bid_request import BidRequest, Deal, Imp, normalize_domain
from bidder.budget import BudgetStore, MemoryStore, Reservation
from bidder.models import Models
from bidder.pacing import Pacer
from bidlake.campaigns import Campaign, Creative
from ml.scorer import ScoringModel

log = logging.getLogger("bidder.decision")

UNSUPPORTED = "unsupported"
NO_MATCHING = "no_matching_campaign"
BLOCKED = "blocked"
BUDGET_EXHAUSTED = "budget_exhausted"
PACING = "pacing"
FREQUENCY_CAP = "frequency_cap"
NO_MODEL = "no_model"
BELOW_FLOOR = "below_floor"
TIMEOUT = "timeout"

# How far a campaign got before it dropped out; the imp reports the furthest.
_STAGE = {
    UNSUPPORTED: 0,
    NO_MATCHING: 1,
    BLOCKED: 2,
    BUDGET_EXHAUSTED: 3,
    PACING: 3,
    FREQUENCY_CAP: 4,
    NO_MODEL: 5,
    BELOW_FLOOR: 6,
}
FIXED_PRICE = 3  # deal auction type: the deal's floor is the price


@dataclass(frozen=True, slots=True)
class CampaignPlan:
    """A campaign prepared for the hot path: sets, normalized domains, budget in CPM micros."""

    campaign: Campaign
    budget: int  # daily budget x 1000 (CPM micros), times this process's share
    creatives: dict[str, tuple[Creative, ...]]  # format -> creatives
    adomains: frozenset[str]
    blocked_domains: frozenset[str]
    categories: frozenset[str]
    formats: frozenset[str]
    banners: tuple[tuple[tuple[int, int], Creative], ...]  # ((w, h), creative)

    @classmethod
    def of(cls, campaign: Campaign, budget_share: float = 1.0) -> CampaignPlan:
        creatives: dict[str, list[Creative]] = {}
        for creative in campaign.creatives:
            creatives.setdefault(creative.format, []).append(creative)
        return cls(
            campaign=campaign,
            budget=int(campaign.daily_budget_micros * 1000 * budget_share),
            creatives={k: tuple(v) for k, v in creatives.items()},
            adomains=frozenset(normalize_domain(d) for d in campaign.adomain),
            blocked_domains=frozenset(
                normalize_domain(d) for d in campaign.targeting.blocked_domains
            ),
            categories=frozenset(campaign.categories),
            formats=frozenset(creatives),
            banners=tuple(((c.width, c.height), c) for c in creatives.get("banner", ())),
        )


@dataclass(slots=True)
class Priced:
    plan: CampaignPlan
    creative: Creative
    ad_format: str
    width: int
    height: int
    pctr: float
    pcvr: float
    pacing_factor: float
    price_micros: int  # CPM micros
    value_micros: int  # expected value per mille before pacing and caps (ranks equal prices)
    deal_id: str
    model_version: str
    limit: int  # what the campaign may have committed by now (pacing allowance)


@dataclass(slots=True)
class ImpDecision:
    imp: Imp
    event: dict[str, object]  # the bid_request event, complete
    bid: Priced | None = None
    reason: str = ""
    reservation: Reservation | None = None


def _fit(plan: CampaignPlan, imp: Imp, formats: tuple[str, ...]) -> tuple | None:
    """(creative, format, slot size) of the campaign's first creative that fits the imp,
    trying the imp's formats in order; None when none fits."""
    for fmt in formats:
        if fmt == "banner":
            sizes = imp.banner_size_set
            for size, creative in plan.banners:
                if size in sizes:
                    return creative, fmt, size
            if imp.banner_range is not None:
                for size, creative in plan.banners:
                    if imp.fits(fmt, size[0], size[1]) is not None:
                        return creative, fmt, size
        else:
            for creative in plan.creatives.get(fmt, ()):
                slot = imp.fits(fmt, creative.width, creative.height)
                if slot is not None:
                    return creative, fmt, slot
    return None


def _domain_blocked(domains: tuple[str, ...], blocked: frozenset[str]) -> bool:
    if not blocked:
        return False
    for domain in domains:
        while domain:
            if domain in blocked:
                return True
            _, _, domain = domain.partition(".")
    return False


class Engine:
    def __init__(
        self,
        plans: list[CampaignPlan],
        store: BudgetStore,
        models: Models,
        pacer: Pacer,
        *,
        currency: str = "USD",
        seat: str = "bidlake",
    ) -> None:
        self.plans = plans
        self.store = store
        self.models = models
        self.pacer = pacer
        self.currency = currency
        self.seat = seat
        self.formats = frozenset(f for p in plans for f in p.creatives)
        self._memory = store if isinstance(store, MemoryStore) else None
        self.synchronous = self._memory is not None  # decide_now() may be used
        self._broken_models: set[str] = set()  # model versions that scored NaN/inf, logged

    # ---- request-level stages (same for every imp) ----

    def _request_reason(self, req: BidRequest) -> str:
        if req.currencies and self.currency not in req.currencies:
            return UNSUPPORTED
        if (req.seats and self.seat not in req.seats) or self.seat in req.blocked_seats:
            return BLOCKED
        return ""

    def _campaign_reason(self, plan: CampaignPlan, req: BidRequest) -> str:
        """Targeting and blocks of one campaign for the request (stages 2-3, non-size)."""
        t = plan.campaign.targeting
        base = req.base
        if t.countries and base["country"] not in t.countries:
            return NO_MATCHING
        if t.device_types and base["device_type"] not in t.device_types:
            return NO_MATCHING
        if t.hours and req.utc_hour not in t.hours:
            return NO_MATCHING
        if _domain_blocked(req.domains, plan.blocked_domains):
            return BLOCKED
        if req.badv and not plan.adomains.isdisjoint(req.badv):
            return BLOCKED
        if req.bcat and not plan.categories.isdisjoint(req.bcat):
            return BLOCKED
        return ""

    # ---- the decision ----

    def decide_now(
        self,
        req: BidRequest,
        now_ms: int,
        deadline: float,
        into: list[ImpDecision] | None = None,
    ) -> list[ImpDecision]:
        """`decide` for the in-memory store, which never waits: no coroutine per imp."""
        assert self._memory is not None
        decisions = [] if into is None else into
        for decision, candidates, user_id in self._prepare(req, now_ms, deadline):
            decisions.append(decision)  # before reserving: see `decide`
            if candidates:
                self._reserve_now(decision, candidates, user_id, now_ms, deadline)
            self._finish(decision)
        return decisions

    async def decide(
        self,
        req: BidRequest,
        now_ms: int,
        deadline: float,
        into: list[ImpDecision] | None = None,
    ) -> list[ImpDecision]:
        """Decide every imp of `req`; `deadline` is a time.perf_counter() value.

        The decisions are appended to `into` (when given) as they are made, each before its
        reservation: if anything raises half-way, the caller still holds every reservation
        made so far and can release it."""
        if self._memory is not None:
            return self.decide_now(req, now_ms, deadline, into)
        decisions = [] if into is None else into
        for decision, candidates, user_id in self._prepare(req, now_ms, deadline):
            decisions.append(decision)
            if candidates:
                await self._reserve_shared(decision, candidates, user_id, now_ms, deadline)
            self._finish(decision)
        return decisions

    def _prepare(
        self, req: BidRequest, now_ms: int, deadline: float
    ) -> Iterator[tuple[ImpDecision, list[Priced], str]]:
        """Stages 1-7 for each imp: (decision, its priced candidates, user id)."""
        request_reason = self._request_reason(req)
        campaign_reasons = (
            [] if request_reason else [(p, self._campaign_reason(p, req)) for p in self.plans]
        )
        ctr = self.models.ctr.model
        cvr = self.models.cvr.model
        user_id = str(req.base["user_id"])
        for imp in req.imps:
            event = {**req.base, **imp.event_fields}
            event["event_id"] = f"{req.id}:{imp.id}"
            event["event_time"] = now_ms
            decision = ImpDecision(imp, event)
            candidates: list[Priced] = []
            if request_reason:
                decision.reason = request_reason
            elif time.perf_counter() >= deadline:
                decision.reason = TIMEOUT
            else:
                candidates = self._candidates(decision, campaign_reasons, user_id, ctr, cvr, now_ms)
            yield decision, candidates, user_id

    @staticmethod
    def _finish(decision: ImpDecision) -> ImpDecision:
        event = decision.event
        event["no_bid_reason"] = decision.reason
        bid = decision.bid
        if bid is not None:
            event["ad_format"] = bid.ad_format
            event["ad_width"] = bid.width
            event["ad_height"] = bid.height
            if bid.deal_id:
                event["deal_id"] = bid.deal_id
        return decision

    def _candidates(
        self,
        decision: ImpDecision,
        campaign_reasons: list[tuple[CampaignPlan, str]],
        user_id: str,
        ctr: ScoringModel | None,
        cvr: ScoringModel | None,
        now_ms: int,
    ) -> list[Priced]:
        """The imp's priced candidates, best first; when none, decision.reason says why."""
        imp = decision.imp
        formats = imp.formats
        foreign_floor = imp.bidfloor_micros > 0 and imp.bidfloor_currency != self.currency
        if foreign_floor or self.formats.isdisjoint(formats):
            decision.reason = UNSUPPORTED
            return []
        best_stage, best_reason = -1, UNSUPPORTED
        candidates: list[Priced] = []
        # The scorer's raw row: the event's fields plus the candidate's campaign, creative
        # and slot, overwritten for each campaign priced (one copy per imp, made only when
        # a campaign gets that far). Never logged: the event stays as the contract has it.
        raw: dict[str, object] | None = None
        for plan, reason in campaign_reasons:
            if reason == NO_MATCHING:
                # Targeting already failed: only whether it has the format matters (to
                # tell "unsupported" from "no match"); skip fitting creatives.
                stage = 1 if not plan.formats.isdisjoint(formats) else 0
                if stage > best_stage:
                    best_stage, best_reason = stage, (NO_MATCHING if stage else UNSUPPORTED)
                continue
            fit = _fit(plan, imp, formats)
            if fit is None:
                reason = NO_MATCHING if not plan.formats.isdisjoint(formats) else UNSUPPORTED
            elif not reason:
                if raw is None:
                    raw = dict(decision.event)
                priced = self._price(plan, fit, decision, raw, user_id, ctr, cvr, now_ms)
                if type(priced) is Priced:
                    candidates.append(priced)
                    continue
                reason = priced  # type: ignore[assignment]
            stage = _STAGE[reason]
            if stage > best_stage:
                best_stage, best_reason = stage, reason
        if not candidates:
            decision.reason = best_reason
            return candidates
        # Highest price wins; at equal prices (a fixed-price deal, two capped bids) the
        # campaign that values the impression most.
        candidates.sort(
            key=lambda c: (-c.price_micros, -c.value_micros, c.plan.campaign.campaign_id)
        )
        return candidates

    @staticmethod
    def _reserve_args(candidate: Priced, user_id: str, now_ms: int) -> tuple:
        campaign = candidate.plan.campaign
        return (
            campaign.campaign_id,
            user_id,
            candidate.price_micros,
            candidate.limit,
            candidate.plan.budget,
            campaign.frequency_cap_per_day,
            now_ms,
        )

    def _reserve_now(
        self,
        decision: ImpDecision,
        candidates: list[Priced],
        user_id: str,
        now_ms: int,
        deadline: float,
    ) -> None:
        """Stage 8 with the in-memory store: the best candidate that can reserve bids."""
        assert self._memory is not None
        reason = ""
        for candidate in candidates:
            if time.perf_counter() >= deadline:
                decision.reason = TIMEOUT
                return
            reason, reservation = self._memory.reserve_now(
                *self._reserve_args(candidate, user_id, now_ms)
            )
            if reservation is not None:
                decision.bid, decision.reservation, decision.reason = candidate, reservation, ""
                return
        decision.reason = reason

    async def _reserve_shared(
        self,
        decision: ImpDecision,
        candidates: list[Priced],
        user_id: str,
        now_ms: int,
        deadline: float,
    ) -> None:
        """Stage 8 with a shared store (Redis): a network hop per try, so each gets what is
        left of the deadline, and a slow Redis becomes a timeout no-bid, not a late one."""
        reason = ""
        for candidate in candidates:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                decision.reason = TIMEOUT
                return
            try:
                async with asyncio.timeout(remaining):  # no extra task, unlike wait_for
                    reason, reservation = await self.store.reserve(
                        *self._reserve_args(candidate, user_id, now_ms)
                    )
            except TimeoutError:
                decision.reason = TIMEOUT
                return
            if reservation is not None:
                decision.bid, decision.reservation, decision.reason = candidate, reservation, ""
                return
        decision.reason = reason

    def _price(
        self,
        plan: CampaignPlan,
        fit: tuple[Creative, str, tuple[int, int]],
        decision: ImpDecision,
        raw: dict[str, object],
        user_id: str,
        ctr: ScoringModel | None,
        cvr: ScoringModel | None,
        now_ms: int,
    ) -> Priced | str:
        """Stages 4-7 for one campaign: a priced candidate, or the reason it drops out."""
        imp = decision.imp
        campaign = plan.campaign
        committed = self.store.committed(campaign.campaign_id, now_ms)
        limit = self.pacer.allowance(plan.budget, now_ms)
        if committed >= limit:
            return BUDGET_EXHAUSTED if limit >= plan.budget else PACING
        cap = campaign.frequency_cap_per_day
        if (
            cap > 0
            and user_id
            and self._memory is not None
            and self._memory.frequency(campaign.campaign_id, user_id, now_ms) >= cap
        ):
            return FREQUENCY_CAP
        if ctr is None:
            return NO_MODEL
        cpa_model = cvr if campaign.goal == "cpa" else None
        is_cpa = cpa_model is not None
        if campaign.goal == "cpa" and cpa_model is None:
            return NO_MODEL
        creative, fmt, (width, height) = fit
        raw["campaign_id"] = campaign.campaign_id
        raw["creative_id"] = creative.creative_id
        raw["ad_format"] = fmt
        raw["ad_width"] = width
        raw["ad_height"] = height
        try:
            pctr = ctr.predict(raw)
            pcvr = cpa_model.predict(raw) if cpa_model is not None else 0.0
        except ValueError as exc:  # a value the model's transforms refuse
            log.warning("scoring failed for %s: %s", decision.event["event_id"], exc)
            return NO_MODEL
        if not (0.0 <= pctr <= 1.0 and 0.0 <= pcvr <= 1.0):  # NaN or inf: a broken model
            broken = f"{ctr.version}/{cpa_model.version if cpa_model is not None else ''}"
            if broken not in self._broken_models:  # once per model, not once per bid
                self._broken_models.add(broken)
                log.error(
                    "models %s give no probability (pctr=%r, pcvr=%r for %s): no_model",
                    broken,
                    pctr,
                    pcvr,
                    decision.event["event_id"],
                )
            return NO_MODEL
        value = campaign.goal_micros * (pctr * pcvr if is_cpa else pctr)  # micros / imp
        factor = self.pacer.factor(plan.budget, committed, now_ms)
        value_cpm = int(value * 1000.0)
        price = min(int(value_cpm * factor), campaign.max_bid_cpm_micros)
        if price <= 0:
            return BELOW_FLOOR
        deal_id = ""
        if imp.deals:
            deal = self._deal(imp, plan, price)
            if deal is not None:
                deal_id = deal.id
                if deal.auction_type == FIXED_PRICE:
                    price = deal.floor_micros
            elif imp.private_auction:
                return BELOW_FLOOR if self._eligible_deals(imp, plan) else BLOCKED
        if not deal_id and price < imp.bidfloor_micros:
            return BELOW_FLOOR
        version = (
            f"ctr:{ctr.version};cvr:{cpa_model.version}"
            if cpa_model is not None
            else f"ctr:{ctr.version}"
        )
        return Priced(
            plan,
            creative,
            fmt,
            width,
            height,
            pctr,
            pcvr,
            factor,
            price,
            value_cpm,
            deal_id,
            version,
            limit,
        )

    def _eligible_deals(self, imp: Imp, plan: CampaignPlan) -> list[Deal]:
        return [
            d
            for d in imp.deals
            if d.currency == self.currency
            and (not d.seats or self.seat in d.seats)
            and (not d.adomains or not d.adomains.isdisjoint(plan.adomains))
        ]

    def _deal(self, imp: Imp, plan: CampaignPlan, price: int) -> Deal | None:
        """The highest-floor deal this campaign may bid on at `price`, if any."""
        best = None
        for deal in self._eligible_deals(imp, plan):
            if deal.floor_micros <= price and (
                best is None or deal.floor_micros > best.floor_micros
            ):
                best = deal
        return best
