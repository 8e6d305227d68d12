from __future__ import annotations

import json
from pathlib import Path

import pytest

from bidlake.campaigns import CampaignConfigError, load_campaigns


def test_default_book_loads() -> None:
    campaigns = load_campaigns()
    assert len(campaigns) >= 3
    assert all(c.daily_budget_micros > 0 for c in campaigns)


def test_bad_goal_names_the_campaign(tmp_path: Path) -> None:
    book = json.loads(
        Path(load_campaigns.__code__.co_filename).with_name("campaigns.json").read_text()
    )
    book["campaigns"][1]["goal"] = "cpm"
    path = tmp_path / "book.json"
    path.write_text(json.dumps(book))
    with pytest.raises(CampaignConfigError, match=r"campaigns\[1\].*goal"):
        load_campaigns(path)
