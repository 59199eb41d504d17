"""Insights: four findings computed from the mart, each an id and its numbers (segmentation.report.insights puts
them into words)."""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from segmentation.core.stats import SCALES, gini

LOW_FREQUENCY_MAX = 2  # F score of customers who have bought only a few times
LAPSED_R_MAX = 2  # R score of lapsed customers


def revenue_concentration(monetary: np.ndarray) -> dict[str, Any]:
    """Share of revenue held by the top 1 % and 20 % of customers, and the Gini coefficient of monetary value.

    Exact: computed on the sorted monetary column (8 bytes per customer, brought to the client); the Gini from
    whole cents (`segmentation.core.stats.gini`).
    """
    values = np.sort(np.asarray(monetary, dtype=float))[::-1]
    n, total = len(values), float(values.sum())
    cumulative = np.cumsum(values)

    def top_share(fraction: float) -> float:
        k = max(1, int(np.ceil(n * fraction)))
        return float(cumulative[k - 1] / total) if total else 0.0

    return _insight("revenue_concentration", {
        "customers": n,
        "top_1pct_share": top_share(0.01),
        "top_20pct_share": top_share(0.20),
        "gini": gini(values, SCALES["monetary"]),
    })


def recency_split(cells: pd.DataFrame, bins: int) -> dict[str, Any]:
    """How recently active customers (top two R scores) split into frequent buyers and new, low-frequency ones.

    `cells` holds exact counts and sums per R, F, M cell (and subscription), as from `premium.cell_stats`.
    """
    high = bins - 1  # the top two scores count as high
    recent = cells[cells["r_score"] >= high]
    frequent, low = recent[recent["f_score"] >= high], recent[recent["f_score"] <= LOW_FREQUENCY_MAX]
    n = int(recent["n"].sum())
    return _insight("recency_split", {
        "recent_customers": n,
        "r_score_min": high,  # recent: R score >= this
        "frequent_f_score_min": high,  # frequent: F score >= this
        "low_frequency_f_score_max": LOW_FREQUENCY_MAX,  # low-frequency: F score <= this
        "frequent_share": int(frequent["n"].sum()) / n if n else 0.0,
        "low_frequency_share": int(low["n"].sum()) / n if n else 0.0,
        "frequent_revenue": _revenue(frequent),
        "low_frequency_revenue": _revenue(low),
    })


def lapsed_high_value(table: ibis.Table | pd.DataFrame, bins: int) -> Any:
    """True for lapsed high-value customers: R ≤ 2 with F and M in the upper half of the scores."""
    upper = bins // 2 + 1  # the upper half of the scores, middle included when bins is odd (3 of 5)
    return (table["r_score"] <= LAPSED_R_MAX) & (table["f_score"] >= upper) & (table["m_score"] >= upper)


def at_risk_value(table: ibis.Table, cells: pd.DataFrame, bins: int, total_revenue: float) -> dict[str, Any]:
    """Value held by lapsed high-value customers and how long ago they bought, vs everyone else."""
    upper = bins // 2 + 1
    lapsed = cells[lapsed_high_value(cells, bins)]
    in_group = lapsed_high_value(table, bins)
    medians = table.aggregate(
        lapsed=table.recency_days.median(where=in_group), others=table.recency_days.median(where=~in_group)
    ).execute().iloc[0]
    revenue = _revenue(lapsed)
    return _insight("at_risk_value", {
        "r_score_max": LAPSED_R_MAX,  # lapsed high-value: R score <= this, F and M scores >= their minimum
        "f_score_min": upper,
        "m_score_min": upper,
        "customers": int(lapsed["n"].sum()),
        "revenue": revenue,
        "revenue_share": revenue / total_revenue if total_revenue else 0.0,
        "median_recency_days": _maybe_float(medians["lapsed"]),
        "others_median_recency_days": _maybe_float(medians["others"]),
    })


def premium_uplift(result: dict[str, Any]) -> dict[str, Any]:
    """The premium uplift inside matched RFM cells with its interval (`premium.uplift`), as an insight."""
    return _insight("premium_uplift", result)


def _revenue(cells: pd.DataFrame) -> float:
    """Revenue of a set of cells from their exact monetary sums."""
    return sum(cells["monetary__sum"]) / SCALES["monetary"]


def _insight(insight_id: str, numbers: dict[str, Any]) -> dict[str, Any]:
    """One insight record: its id and its numbers (the report puts them into words)."""
    return {"id": insight_id, "numbers": numbers}


def _maybe_float(value: Any) -> float | None:
    """A float, or None for a missing value."""
    return None if value is None or value != value else float(value)
