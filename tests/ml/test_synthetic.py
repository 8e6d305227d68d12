"""Synthetic marts stand in for the dbt feature marts: the same columns, and a truth."""

from __future__ import annotations

import numpy as np

from ml.features import RAW_FIELDS
from ml.synthetic import Synthetic


def test_marts_have_the_feature_marts_columns(small_marts: Synthetic) -> None:
    # docs/interfaces.md, "Feature marts": ids and time, the bid-time fields, the labels.
    assert small_marts.ctr.column_names == [
        "impression_id",
        "bid_id",
        "request_id",
        "impression_at",
        "impression_date",
        *RAW_FIELDS,
        "is_clicked",
    ]
    assert small_marts.cvr.column_names == [
        "click_id",
        "bid_id",
        "request_id",
        "clicked_at",
        "click_date",
        *RAW_FIELDS,
        "is_converted",
        "is_label_mature",
    ]


def test_truth_covers_every_impression(small_marts: Synthetic) -> None:
    truth = small_marts.truth
    assert truth.column("bid_id").to_pylist() == small_marts.ctr.column("bid_id").to_pylist()
    for column in ("p_click", "p_conversion"):
        p = truth.column(column).to_numpy()
        assert np.all((p > 0) & (p < 1)), column
    # Clicks are the impressions clicked; a conversion is seen only on a click.
    assert small_marts.cvr.num_rows == sum(small_marts.ctr.column("is_clicked").to_pylist())
