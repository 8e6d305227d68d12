"""Realized outcomes against the ground truth, shared by `simulate` and `replay` summaries.

Both count impressions, clicks and conversions, and sum the true probabilities behind
them, so the realized CTR/CVR can be compared with what the truth predicts (and the CTR
within its standard error). The summaries are dataclasses that declare the fields; this
mixin only adds the arithmetic on them.
"""

from __future__ import annotations

import numpy as np


class TruthTally:
    impressions: int
    clicks: int
    conversions: int
    sum_p_click: float  # over impressions
    var_clicks: float  # sum of p_click * (1 - p_click) over impressions
    sum_p_conversion: float  # over clicks

    def count_impressions(self, p_click: np.ndarray) -> None:
        """Adds impressions shown with these true click probabilities."""
        self.impressions += len(p_click)
        self.sum_p_click += float(p_click.sum())
        self.var_clicks += float((p_click * (1 - p_click)).sum())

    @property
    def mean_p_click(self) -> float:
        return self.sum_p_click / self.impressions if self.impressions else 0.0

    @property
    def mean_p_conversion(self) -> float:
        return self.sum_p_conversion / self.clicks if self.clicks else 0.0

    @property
    def ctr_standard_error(self) -> float:
        """Standard error of realized CTR around the mean true p_click (Poisson-binomial)."""
        return float(np.sqrt(self.var_clicks)) / self.impressions if self.impressions else 0.0
