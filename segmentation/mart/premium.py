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
import pandas as pd

from segmentation.config.params import PremiumParams
from segmentation.core.stats import exact_sums, mean_var

METRICS = ("monetary", "frequency")
CELL = ["r_score", "f_score", "m_score"]
MIN_PER_GROUP = 2


def cell_stats(table: ibis.Table) -> pd.DataFrame:
    """Exact count, sum and sum of squares of each metric per RFM cell and subscription state."""
    return exact_sums(table, [*CELL, "subscription"], METRICS, squares=METRICS)


def uplift(stats: pd.DataFrame, settings: PremiumParams) -> dict[str, Any]:
    """Uplift ratio and bootstrap interval per metric, from the per-cell statistics."""
    # unknown subscription (transaction input without a customer file) is neither premium nor not
    known = stats[stats["subscription"].notna()]
    subscribed = known["subscription"].astype(bool)
    premium = known[subscribed].set_index(CELL)
    others = known[~subscribed].set_index(CELL)
    cells = premium.merge(others, left_index=True, right_index=True, suffixes=("_p", "_o"))
    cells = cells[(cells["n_p"] >= MIN_PER_GROUP) & (cells["n_o"] >= MIN_PER_GROUP)].sort_index()
    measurable = not known.empty  # without any known status, cells and premium customers are not known, not zero
    result: dict[str, Any] = {
        "matched_cells": int(len(cells)) if measurable else None,
        "premium_customers": (int(cells["n_p"].sum()) if len(cells) else 0) if measurable else None,
        "customers_with_known_status": int(known["n"].sum()),
        "confidence": settings.confidence,
    }
    rng = np.random.default_rng(settings.seed)
    for metric in METRICS:
        result[metric] = _metric_uplift(cells, metric, settings, rng)
    return result


def _metric_uplift(cells: pd.DataFrame, metric: str, settings: PremiumParams,
                   rng: np.random.Generator) -> dict[str, Any]:
    """Ratio and interval for one metric."""
    if cells.empty:
        return {"ratio": None, "ci_low": None, "ci_high": None, "meaningful": False}
    weights = cells["n_p"].to_numpy(float)
    means, errors = {}, {}
    for group in ("p", "o"):
        stats = [
            mean_var(row[f"{metric}__sum_{group}"], row[f"{metric}__sumsq_{group}"], row[f"n_{group}"], metric)
            for _, row in cells.iterrows()
        ]
        n = cells[f"n_{group}"].to_numpy(float)
        means[group] = np.array([m for m, _ in stats])
        errors[group] = np.sqrt(np.array([v for _, v in stats]) / n)
    ratio = float(weights @ means["p"] / (weights @ means["o"]))
    draws = {g: rng.normal(means[g], errors[g], size=(settings.bootstrap_samples, len(weights))) for g in means}
    ratios = (draws["p"] @ weights) / (draws["o"] @ weights)
    tail = (1 - settings.confidence) / 2 * 100
    low, high = (float(x) for x in np.percentile(ratios, [tail, 100 - tail]))
    return {"ratio": ratio, "ci_low": low, "ci_high": high, "meaningful": not (low <= 1 <= high)}
