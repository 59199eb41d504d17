"""Premium modifier: how much more premium subscribers buy than non-subscribers with the same R, F and M scores.

Inside each RFM cell holding at least two customers of each kind, compare mean monetary (and frequency) of
premium vs non-premium customers. The uplift ratio is the premium-weighted average of premium means over the
premium-weighted average of non-premium means (what premium customers bought vs what similar non-premium
customers bought). Its confidence interval is a parametric bootstrap of the cell means (each drawn from a
normal distribution with the cell's mean and standard error), seeded from the params.
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
from ibis import _

from segmentation.params import PremiumParams

METRICS = ("monetary", "frequency")
MIN_PER_GROUP = 2


def cell_stats(table: ibis.Table) -> ibis.Table:
    """Count, sum and sum of squares of each metric per RFM cell and subscription state."""
    aggs = {"n": _.count()}
    for metric in METRICS:
        value = table[metric].cast("float64")
        aggs[f"{metric}_sum"] = value.sum()
        aggs[f"{metric}_sumsq"] = (value * value).sum()
    return table.group_by("r_score", "f_score", "m_score", "subscription").aggregate(**aggs)


def uplift(stats, settings: PremiumParams) -> dict[str, Any]:
    """Uplift ratio and bootstrap interval per metric, from the per-cell statistics (a pandas frame)."""
    cells = stats.pivot_table(index=["r_score", "f_score", "m_score"], columns="subscription", aggfunc="sum")
    cells = cells.fillna(0)
    n_prem, n_non = cells[("n", True)], cells[("n", False)] if ("n", False) in cells else 0
    keep = (n_prem >= MIN_PER_GROUP) & (n_non >= MIN_PER_GROUP)
    cells = cells[keep].sort_index()
    result: dict[str, Any] = {
        "matched_cells": int(len(cells)),
        "premium_customers": int(cells[("n", True)].sum()) if len(cells) else 0,
        "confidence": settings.confidence,
    }
    rng = np.random.default_rng(settings.seed)
    for metric in METRICS:
        result[metric] = _metric_uplift(cells, metric, settings, rng)
    return result


def _metric_uplift(cells, metric: str, settings: PremiumParams, rng: np.random.Generator) -> dict[str, Any]:
    """Ratio and interval for one metric."""
    if cells.empty:
        return {"ratio": None, "ci_low": None, "ci_high": None, "meaningful": False}
    weights = cells[("n", True)].to_numpy(float)
    means, errors = {}, {}
    for group in (True, False):
        n = cells[("n", group)].to_numpy(float)
        mean = cells[(f"{metric}_sum", group)].to_numpy(float) / n
        var = np.maximum(cells[(f"{metric}_sumsq", group)].to_numpy(float) / n - mean**2, 0) * n / (n - 1)
        means[group], errors[group] = mean, np.sqrt(var / n)
    ratio = float(weights @ means[True] / (weights @ means[False]))
    draws = {g: rng.normal(means[g], errors[g], size=(settings.bootstrap_samples, len(weights))) for g in means}
    ratios = (draws[True] @ weights) / (draws[False] @ weights)
    tail = (1 - settings.confidence) / 2 * 100
    low, high = (float(x) for x in np.percentile(ratios, [tail, 100 - tail]))
    return {"ratio": ratio, "ci_low": low, "ci_high": high, "meaningful": not (low <= 1 <= high)}
