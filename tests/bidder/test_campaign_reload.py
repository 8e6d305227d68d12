"""The campaign book's hot reload (bidder.campaign_reload): a change to the book reaches the
bids within `campaign_poll_s` plus the load time, with no restart, atomically; measured
under load — a real bidder (the app through a TestClient) answering a steady loop of bid
requests while, from another thread, a campaign is paused and budgets change.

The measured delays are printed (`pytest -s` shows them); docs/campaigns.md quotes them.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from bidder.app import BidderApp, create_app
from bidder.campaign_reload import CampaignReloader, FileSource
from bidder.settings import Settings
from bidlake.campaign_book.store import CampaignStore
from bidlake.campaigns import DEFAULT_PATH
from tests.bidder.test_service import NOON, local, request

POLL_S = 1.0  # the default of campaign_poll_s: measure the bound as deployed
SLACK_S = 0.5  # load time, a busy 2-core CI box, the TestClient's own latency


@pytest.fixture
def app(settings: Settings, home: Path) -> BidderApp:
    # No `campaigns` setting: the book's database in the test home, seeded on first use.
    return create_app(settings.with_overrides(campaign_poll_s=POLL_S), clock=lambda: NOON)


def winner(response: httpx.Response) -> str:
    """The campaign that won the request's one imp, or "" for a no-bid."""
    if response.status_code == 204:
        return ""
    assert response.status_code == 200, response.text
    return str(response.json()["seatbid"][0]["bid"][0]["cid"])


class Load:
    """A steady loop of bid requests on one client, for as long as a measurement needs."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.sent = 0

    def bid(self) -> httpx.Response:
        self.sent += 1
        body = orjson.dumps(request(f"load-{self.sent}", user=f"u-{self.sent % 97}"))
        return self.client.post("/openrtb2/bid", content=body)

    def measure(
        self,
        change: Callable[[], object],
        reflects: Callable[[httpx.Response], bool],
        what: str,
        hold_s: float = 0.3,
    ) -> float:
        """Seconds from the change's commit (made by another thread while the loop runs) to
        the first answer that reflects it; every later answer must reflect it too."""
        for _ in range(20):
            assert not reflects(self.bid()), f"{what}: reflected before the change"
        committed: list[float] = []

        def commit() -> None:
            change()
            committed.append(time.perf_counter())

        writer = threading.Timer(0.2, commit)
        writer.start()
        first: float | None = None
        deadline = time.perf_counter() + POLL_S + 10
        sent_before = self.sent
        while time.perf_counter() < deadline:
            response = self.bid()
            now = time.perf_counter()
            if first is None:
                if committed and reflects(response):
                    first = now
            else:
                assert reflects(response), f"{what}: an answer after the swap went back"
                if now - first >= hold_s:
                    break
        writer.join()
        assert first is not None, f"{what}: never reflected within {POLL_S + 10} s"
        delay = first - committed[0]
        requests = self.sent - sent_before
        print(f"{what}: reflected {delay * 1000:.0f} ms after commit ({requests} requests)")
        return delay


def test_pause_and_budget_changes_reach_the_bids_under_load(app: BidderApp, home: Path) -> None:
    with TestClient(app) as client, closing(CampaignStore()) as book:
        bidder = app.bidder
        assert bidder.book is not None and bidder.store is not None
        load = Load(client)
        first = winner(load.bid())
        assert first, "the default book bids on the test request"
        engine = bidder.engine

        # 1. Pause the campaign that wins: its bids stop within the bound.
        paused = load.measure(
            lambda: book.set_status(first, "paused", by="test"),
            lambda r: winner(r) != first,
            f"pause {first}",
        )
        assert bidder.engine is not engine  # a whole new plan set, swapped in one assignment
        assert first not in {p.campaign.campaign_id for p in bidder.plans}
        assert first in bidder.campaigns  # still known: clicks on its earlier bids redirect

        # 2. The next winner wins an impression (spend), then its budget drops below what
        #    it has committed today: it stops bidding (budget_exhausted), spend untouched.
        second = winner(load.bid())
        assert second and second != first
        won = load.bid()
        assert winner(won) == second
        bid = won.json()["seatbid"][0]["bid"][0]
        url = local(bid["nurl"]).replace("${AUCTION_PRICE}", "1.50")
        assert client.get(url).status_code == 200
        spent = bidder.store.spent(second, NOON)
        committed = bidder.store.committed(second, NOON)
        assert spent == 1_500_000
        cut = load.measure(
            lambda: book.update(second, {"daily_budget_micros": 1}, by="test"),
            lambda r: winner(r) != second,
            f"budget of {second} to 1 micro",
        )
        assert bidder.store.spent(second, NOON) == spent  # a new budget, not a new day
        assert bidder.store.committed(second, NOON) >= committed
        response = client.post("/openrtb2/bid", content=orjson.dumps(request("why")))
        reasons = response.headers.get("x-bidlake-no-bid", "")
        assert winner(response) != second and (reasons == "" or reasons == "budget_exhausted")

        # 3. Raise it again: the next reservation uses the new budget, against the same spend.
        raised = load.measure(
            lambda: book.update(second, {"daily_budget_micros": 10**12}, by="test"),
            lambda r: winner(r) == second,
            f"budget of {second} raised",
        )
        assert bidder.store.spent(second, NOON) == spent

        ready = client.get("/readyz").json()["campaigns"]
        assert ready["version"] == f"db:{book.version()}" and ready["reloads"] == 3
        assert ready["error"] is None
        metrics = client.get("/metrics").text
        assert "bidder_campaign_book_version{pid=" in metrics
        assert f"}} {book.version()}" in metrics

    for delay in (paused, cut, raised):
        assert 0 <= delay <= POLL_S + SLACK_S


def test_a_new_campaign_bids_without_a_restart(app: BidderApp, home: Path) -> None:
    with TestClient(app) as client, closing(CampaignStore()) as book:
        state = book.state()
        for doc in state.campaigns:  # everything else paused: only the new one can bid
            book.set_status(doc["campaign_id"], "paused", by="test")
        fresh = dict(state.campaigns[1], campaign_id="cmp-new", name="New", status="active")
        fresh["creatives"] = [
            dict(c, creative_id=f"new-{i}") for i, c in enumerate(fresh["creatives"])
        ]
        fresh["daily_budget_micros"] = 10**12
        book.create(fresh, by="test")
        load = Load(client)
        deadline = time.monotonic() + POLL_S + 5
        while winner(load.bid()) != "cmp-new":
            assert time.monotonic() < deadline, "the new campaign never bid"


def test_a_file_book_reloads_when_it_changes_and_survives_a_bad_write(tmp_path: Path) -> None:
    path = tmp_path / "book.json"
    book = json.loads(DEFAULT_PATH.read_text())
    path.write_text(json.dumps(book))
    reloader = CampaignReloader(FileSource(path))
    first = reloader.current
    assert len(first.plans) == 4 and first.number == 0
    assert asyncio.run(reloader.poll()) is None  # unchanged

    book["campaigns"][0]["daily_budget_micros"] = 7_000_000
    book["campaigns"][1]["status"] = "paused"
    path.write_text(json.dumps(book))
    loaded = asyncio.run(reloader.poll())
    assert loaded is not None and reloader.current is loaded and reloader.reloads == 1
    plans = {p.campaign.campaign_id: p for p in loaded.plans}
    assert plans["cmp-101"].budget == 7_000_000 * 1000
    assert "cmp-102" not in plans and loaded.campaigns["cmp-102"].status == "paused"

    path.write_text('{"campaigns": [{"campaign_id": "x", "goal": "cpm"')  # half written
    assert asyncio.run(reloader.poll()) is None
    assert reloader.current is loaded and reloader.failures == 1
    assert "cannot load" in reloader.last_error
    assert asyncio.run(reloader.poll()) is None and reloader.failures == 1  # not retried
    path.write_text(json.dumps(book) + "\n")
    assert asyncio.run(reloader.poll()) is not None and reloader.last_error == ""


def test_a_database_that_goes_away_keeps_the_book_it_had(home: Path) -> None:
    reloader = CampaignReloader.open("")  # the home's database
    served = reloader.current
    source = reloader.source

    def broken() -> str:
        raise OSError("connection refused")

    source.version = broken  # type: ignore[method-assign]
    for _ in range(3):
        assert asyncio.run(reloader.poll()) is None
    assert reloader.current is served and reloader.failures == 3
    assert "connection refused" in reloader.last_error
    reloader.close()


def test_budget_share_applies_to_every_reload(home: Path, settings: Settings) -> None:
    reloader = CampaignReloader.open("", budget_share=0.5)
    with closing(CampaignStore()) as book:
        book.update("cmp-101", {"daily_budget_micros": 2_000_000}, by="test")
    loaded = asyncio.run(reloader.poll())
    assert loaded is not None
    plan = next(p for p in loaded.plans if p.campaign.campaign_id == "cmp-101")
    assert plan.budget == 1_000_000 * 1000
    reloader.close()
