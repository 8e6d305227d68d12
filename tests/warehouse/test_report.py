"""`bidlake report` on a small built warehouse: every number on the page against SQL, the
page self-contained, and a screenshot of it in headless Chromium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from bidlake import cli
from bidlake.paths import Home
from tests.support.chromium import chromium, require_chromium
from tests.warehouse.conftest import bid, click, impression, request, write_scenario
from tests.warehouse.lake import write_events
from warehouse.build import build
from warehouse.catalog import connect_read_only
from warehouse.report import write_report

NOW = datetime(2024, 6, 12, 9, 30, tzinfo=UTC)
CURRENT = "20240611T000000Z-abcdef01"
OLDER = "20240609T000000Z-00000000"


def write_model_priced(raw: Path) -> None:
    """What the bidder logs once it serves a model: 60 won impressions of bids with a
    pCTR (a few ties), 48 priced by the current CTR version and 12 by an older one, 9
    of them clicked - mostly the high-pCTR ones (8 of the current version's)."""
    requests, bids, imps, clicks = [], [], [], []
    for i in range(60):
        day_clock = ("04", "05")[i % 2]
        clock = f"{day_clock}:{i:02d}:00"
        rid, bid_id = f"rm{i}", f"bm{i}"
        campaign = ("cmp-101", "cmp-102")[i % 3 == 0]
        requests.append(request(rid, clock, "adx", "pub-a", f"um{i}"))
        version = f"ctr:{CURRENT};cvr:x" if i < 48 else f"ctr:{OLDER}"
        b = bid(bid_id, rid, f"{clock}.020", campaign, 2_000_000 + 10_000 * i)
        b |= {"pctr": round(0.001 + 0.0004 * (i // 2), 6), "model_version": version}
        bids.append(b)
        imps.append(impression(bid_id, rid, f"{clock}.400", campaign, 1_000_000 + i, f"um{i}"))
        if i in (3, 17, 30, 38, 41, 44, 45, 47, 55):
            clicks.append(click(f"cm{i}", bid_id, f"{day_clock}:{i:02d}:30", campaign, f"um{i}"))
    write_events(raw, "bid_request", requests, "model-1")
    write_events(raw, "bid", bids, "model-1")
    write_events(raw, "impression", imps, "model-1")
    write_events(raw, "click", clicks, "model-1")


def write_registry(models: Path) -> dict:
    """A registry as ml writes it: CURRENT, the version's eval.json, gate.json, roc.png,
    and history.jsonl (ml/registry.py, ml/export.py)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    deciles = [
        {"count": 100, "mean_predicted": p, "observed_rate": p * 1.1, "calibration": 1 / 1.1}
        for p in (0.001, 0.002, 0.004, 0.008)
    ]
    model = {
        "rows": 400,
        "positives": 6,
        "base_rate": 0.015,
        "mean_predicted": 0.014,
        "auc": 0.71,
        "log_loss": 0.0712,
        "normalized_entropy": 0.93,
        "calibration": 0.95,
        "brier": 0.01,
        "deciles": deciles,
    }
    evaluation = {
        "version": CURRENT,
        "metrics": {"model": model, "oracle": {**model, "auc": 0.77}, "truth_coverage": 1.0},
        "window": {"holdout_days": ["2024-06-11"]},
    }
    folder = models / "ctr" / CURRENT
    folder.mkdir(parents=True)
    (folder / "eval.json").write_text(json.dumps(evaluation))
    (folder / "gate.json").write_text(json.dumps({"promote": True, "reason": "beats the base"}))
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.plot([0, 0.2, 1], [0, 0.6, 1])
    fig.savefig(folder / "roc.png")
    plt.close(fig)
    (models / "ctr" / "CURRENT").write_text(CURRENT + "\n")
    history = [
        {"version": OLDER, "promoted": True, "reason": "first", "log_loss": 0.08},
        {"version": CURRENT, "promoted": True, "reason": "beats the base", "log_loss": 0.0712},
    ]
    (models / "ctr" / "history.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))
    (models / "cvr").mkdir()
    (models / "cvr" / "history.jsonl").write_text(
        json.dumps({"version": "v-cvr", "promoted": False, "reason": "too few positives"}) + "\n"
    )
    return evaluation


@pytest.fixture(scope="module")
def report_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Home, dict]]:
    """The warehouse tests' scenario plus model-priced bids, built once, and a registry."""
    home = Home(tmp_path_factory.mktemp("report") / "home")
    write_scenario(home.raw)
    write_model_priced(home.raw)
    result = build(home=home, warn_error=True)
    if not result.success:
        pytest.fail(f"build failed: {result.error or ''} {[n.name for n in result.failed]}")
    yield home, write_registry(home.models)


class Values(HTMLParser):
    """data-key -> data-value, the section statuses, and the tags and attributes used."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.status: dict[str, str] = {}
        self.tags: set[str] = set()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        if "data-key" in a:
            self.values[a["data-key"] or ""] = a.get("data-value") or ""
        if tag == "section" and "data-status" in a:
            self.status[a.get("id") or ""] = a["data-status"] or ""
        for name in ("src", "href"):
            if a.get(name):
                self.urls.append(a[name] or "")


def parse(path: Path) -> Values:
    values = Values()
    values.feed(path.read_text())
    return values


def number(values: Values, key: str) -> float | None:
    text = values.values[key]
    return None if text == "" else float(text)


def rows(sql: str, params: list | None = None) -> list[tuple]:
    con = connect_read_only()
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture
def page(report_home: tuple[Home, dict], monkeypatch: pytest.MonkeyPatch) -> Path:
    home, _ = report_home
    monkeypatch.setenv("BIDLAKE_HOME", str(home.root))
    return write_report(now=NOW)


def test_the_page_is_written_where_and_as_documented(page: Path) -> None:
    home = page.parent.parent
    assert page == home / "reports" / "report-20240612T093000Z.html"
    text = page.read_text()
    assert text.startswith("<!doctype html>")
    values = parse(page)
    # self-contained: no script, no stylesheet or font to fetch, every image inline
    assert not {"script", "link", "iframe", "object"} & values.tags
    assert "@import" not in text and "url(" not in text
    assert values.urls and all(u.startswith(("data:", "#")) for u in values.urls)
    assert "http://" not in text and "https://" not in text


def test_funnel_and_campaigns_match_sql(page: Path) -> None:
    v = parse(page)
    assert v.status["funnel"] == "measured" and v.status["campaigns"] == "measured"
    (requests,) = rows("select count(*) from stg_tracker__bid_requests")[0]
    (bids,) = rows("select count(*) from stg_tracker__bids")[0]
    (wins,) = rows("select count(*) from stg_tracker__impressions")[0]
    (clicks,) = rows("select count(*) from stg_tracker__clicks")[0]
    (conversions,) = rows("select sum(conversions) from rpt_campaign_daily")[0]
    (clearing,) = rows("select sum(clearing_price_micros) from stg_tracker__impressions")[0]
    assert number(v, "funnel.requests") == requests == 66  # 6 scenario + 60 model-priced
    assert number(v, "funnel.bids") == bids == 64
    assert number(v, "funnel.wins") == wins == 63
    assert number(v, "funnel.clicks") == clicks == 10
    assert number(v, "funnel.conversions") == conversions == 2  # v3 is unattributed
    assert number(v, "funnel.spend_micros") == pytest.approx(clearing / 1000, abs=4)
    assert number(v, "funnel.bids_rate") == pytest.approx(bids / requests)
    assert number(v, "funnel.wins_rate") == pytest.approx(wins / bids)
    spend = number(v, "funnel.spend_micros")
    assert number(v, "funnel.ecpc") == pytest.approx(spend / 1e6 / clicks)  # type: ignore[operator]
    assert number(v, "funnel.cpa") == pytest.approx(spend / 1e6 / conversions)  # type: ignore[operator]

    per_campaign = rows(
        "select b.campaign_id, count(distinct b.bid_id), count(distinct i.bid_id), "
        "sum(i.clearing_price_micros) from stg_tracker__bids b "
        "left join stg_tracker__impressions i using (bid_id) group by 1"
    )
    assert {c for c, *_ in per_campaign} == {"cmp-101", "cmp-102"}
    for campaign, n_bids, n_wins, clearing_micros in per_campaign:
        k = f"campaign.{campaign}"
        assert number(v, f"{k}.bids") == n_bids and number(v, f"{k}.wins") == n_wins
        assert number(v, f"{k}.win_rate") == pytest.approx(n_wins / n_bids)
        assert number(v, f"{k}.spend_micros") == pytest.approx(clearing_micros / 1000, abs=2)
        (n_clicks,) = rows(
            "select count(*) from stg_tracker__clicks where campaign_id = ?", [campaign]
        )[0]
        assert number(v, f"{k}.clicks") == n_clicks
        ecpc = number(v, f"{k}.ecpc")
        expected = number(v, f"{k}.spend_micros") / 1e6 / n_clicks if n_clicks else None  # type: ignore[operator]
        assert ecpc == pytest.approx(expected) if expected else ecpc is None
    # the table lists the campaigns by spend, highest first, as formatted money
    text = page.read_text()
    assert text.index('data-key="campaign.cmp-10') > 0 and "$" in text


def test_per_day_rows_are_the_marts(page: Path) -> None:
    v = parse(page)
    marts = rows(
        "select report_date, campaign_id, bids, impressions, win_rate, spend_micros, ecpc, cpa "
        "from rpt_campaign_daily"
    )
    assert len(marts) >= 2
    for day, campaign, n_bids, n_wins, win_rate, spend, ecpc, cpa in marts:
        k = f"day.{day.isoformat()}.{campaign}"
        assert number(v, f"{k}.bids") == n_bids and number(v, f"{k}.wins") == n_wins
        assert number(v, f"{k}.spend_micros") == spend
        for name, expected in (("win_rate", win_rate), ("ecpc", ecpc), ("cpa", cpa)):
            got = number(v, f"{k}.{name}")
            assert got == pytest.approx(expected) if expected is not None else got is None


def test_the_model_in_the_auction_matches_the_logged_bids(page: Path) -> None:
    from sklearn.metrics import roc_auc_score

    v = parse(page)
    won = rows(
        "select b.bid_id, b.pctr, b.bid_id in (select bid_id from stg_tracker__clicks) "
        "from stg_tracker__bids b join stg_tracker__impressions i using (bid_id) "
        "where b.model_version like ?",
        [f"ctr:{CURRENT};%"],
    )
    assert len(won) == 48  # the current version's only, not the older one's
    pctr = np.array([p for _, p, _ in won])
    clicked = np.array([c for _, _, c in won], dtype=float)
    assert number(v, "live.wins") == 48 and number(v, "live.clicks") == clicked.sum() == 8
    assert number(v, "live.mean_pctr") == pytest.approx(pctr.mean())
    assert number(v, "live.ctr") == pytest.approx(clicked.mean())
    assert number(v, "live.calibration") == pytest.approx(pctr.sum() / clicked.sum())
    assert number(v, "live.auc") == pytest.approx(roc_auc_score(clicked, pctr))
    # reliability: equal-count bins by pCTR (ties broken by bid id), as many as the
    # clicks allow (8 clicks: 2 bins)
    order = sorted(won, key=lambda r: (r[1], r[0]))
    parts = np.array_split(np.arange(len(order)), 2)
    assert "live.bin.3.wins" not in v.values
    for b, part in enumerate(parts, start=1):
        assert number(v, f"live.bin.{b}.wins") == len(part)
        assert number(v, f"live.bin.{b}.mean_pctr") == pytest.approx(
            np.mean([order[i][1] for i in part])
        )
        assert number(v, f"live.bin.{b}.ctr") == pytest.approx(
            np.mean([float(order[i][2]) for i in part])
        )
    assert v.status["live"] == "few"  # 8 clicks: flagged as noise, not hidden
    assert "Only 8 clicks" in page.read_text()


def test_the_holdout_is_the_registrys(page: Path, report_home: tuple[Home, dict]) -> None:
    _, evaluation = report_home
    v = parse(page)
    assert v.status["holdout"] == "measured" and v.values["holdout.version"] == CURRENT
    model, oracle = evaluation["metrics"]["model"], evaluation["metrics"]["oracle"]
    for key in ("rows", "positives", "base_rate", "auc", "log_loss", "normalized_entropy"):
        assert number(v, f"holdout.model.{key}") == pytest.approx(model[key])
        assert number(v, f"holdout.oracle.{key}") == pytest.approx(oracle[key])
    text = page.read_text()
    assert "(serving)" in text and OLDER in text and "too few positives" in text
    assert "data:image/png;base64," in text  # ml's ROC plot, inline


def test_later_sections_say_not_measured_yet(page: Path) -> None:
    v = parse(page)
    text = page.read_text()
    for anchor in ("loop", "strategies", "shading"):
        assert v.status[anchor] == "later"
        section = text.split(f'<section id="{anchor}"', 1)[1].split("</section>", 1)[0]
        assert "not measured yet" in section.lower()
    (first,) = rows("select count(*) from stg_tracker__bid_requests where auction_type = 1")[0]
    assert number(v, "auctions.first_price") == first == 66  # the fixtures' requests: at=1


def test_chromium_renders_the_page(page: Path, tmp_path: Path) -> None:
    require_chromium()
    shot = tmp_path / "report.png"
    done = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,2400", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 60_000, "the screenshot looks blank"


def test_an_empty_home_gets_a_page_that_says_so(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["report"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.parent == home / "reports" and path.name.startswith("report-")
    v = parse(path)
    text = path.read_text()
    for anchor in ("funnel", "campaigns", "days", "holdout", "live"):
        assert v.status[anchor] == "no data"
    assert "run `bidlake build` first" in text and "No CTR model has been promoted" in text
    assert not v.values
    # a second report in the same second does not overwrite the first
    first, second = write_report(now=NOW), write_report(now=NOW)
    assert (first.name, second.name) == (
        "report-20240612T093000Z.html",
        "report-20240612T093000Z-2.html",
    )
