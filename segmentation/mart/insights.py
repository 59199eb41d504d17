"""Insights: four findings computed from the mart, each with its numbers and a sentence the numbers choose."""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from segmentation.core.stats import SCALES


def revenue_concentration(monetary: np.ndarray) -> dict[str, Any]:
    """Share of revenue held by the top 1 % and 20 % of customers, and the Gini coefficient of monetary value.

    Exact: computed on the sorted monetary column (8 bytes per customer, brought to the client).
    """
    values = np.sort(np.asarray(monetary, dtype=float))[::-1]
    n, total = len(values), float(values.sum())
    cumulative = np.cumsum(values)

    def top_share(fraction: float) -> float:
        k = max(1, int(np.ceil(n * fraction)))
        return float(cumulative[k - 1] / total) if total else 0.0

    ascending = values[::-1]
    ranks = np.arange(1, n + 1)
    gini = float((2 * (ranks @ ascending)) / (n * total) - (n + 1) / n) if total else 0.0
    numbers = {"customers": n, "top_1pct_share": top_share(0.01), "top_20pct_share": top_share(0.20), "gini": gini}
    top20 = numbers["top_20pct_share"]
    if top20 >= 0.6:
        shape = "Revenue is highly concentrated"
    elif top20 >= 0.4:
        shape = "Revenue is moderately concentrated"
    else:
        shape = "Revenue is spread broadly across customers"
    sentence = (
        f"{shape}: the top 20% of customers bring in {top20:.0%} of revenue and the top 1% bring in "
        f"{numbers['top_1pct_share']:.1%} (Gini {gini:.2f})."
    )
    return _insight("revenue_concentration", "Revenue concentration", sentence, numbers)


def recency_split(cells: pd.DataFrame, bins: int) -> dict[str, Any]:
    """How recently active customers (top two R scores) split into frequent buyers and new, low-frequency ones.

    `cells` holds exact counts and sums per R, F, M cell (and subscription), as from `premium.cell_stats`.
    """
    high = bins - 1  # the top two scores count as high
    recent = cells[cells["r_score"] >= high]
    frequent, low = recent[recent["f_score"] >= high], recent[recent["f_score"] <= 2]
    n = int(recent["n"].sum())
    numbers = {
        "recent_customers": n,
        "definition": f"R score >= {high}; frequent: F >= {high}; low-frequency: F <= 2",
        "frequent_share": int(frequent["n"].sum()) / n if n else 0.0,
        "low_frequency_share": int(low["n"].sum()) / n if n else 0.0,
        "frequent_revenue": _revenue(frequent),
        "low_frequency_revenue": _revenue(low),
    }
    frequent_share, low_share = numbers["frequent_share"], numbers["low_frequency_share"]
    if abs(frequent_share - low_share) < 0.05:
        lead = "recent activity comes about equally from loyal and from new customers"
    elif frequent_share > low_share:
        lead = "recent activity is carried mostly by frequent, loyal buyers"
    else:
        lead = "recent activity is carried mostly by new, low-frequency buyers: a pipeline to convert"
    sentence = (
        f"Of the {n:,} recently active customers (R ≥ {high}), {frequent_share:.0%} buy frequently (F ≥ {high}) "
        f"and {low_share:.0%} have bought only a few times (F ≤ 2): {lead}."
    )
    return _insight("recency_split", "Who the recent customers are", sentence, numbers)


def lapsed_high_value(table: ibis.Table | pd.DataFrame, bins: int):
    """True for lapsed high-value customers: R ≤ 2 with F and M in the upper half of the scores."""
    upper = bins // 2 + 1  # the upper half of the scores, middle included when bins is odd (3 of 5)
    return (table["r_score"] <= 2) & (table["f_score"] >= upper) & (table["m_score"] >= upper)


def at_risk_value(table: ibis.Table, cells: pd.DataFrame, bins: int, total_revenue: float) -> dict[str, Any]:
    """Value held by lapsed high-value customers and how long ago they bought, vs everyone else."""
    upper = bins // 2 + 1
    lapsed = cells[lapsed_high_value(cells, bins)]
    in_group = lapsed_high_value(table, bins)
    medians = table.aggregate(
        lapsed=table.recency_days.median(where=in_group), others=table.recency_days.median(where=~in_group)
    ).execute().iloc[0]
    n = int(lapsed["n"].sum())
    revenue = _revenue(lapsed)
    numbers = {
        "definition": f"R score <= 2, F score >= {upper}, M score >= {upper}",
        "customers": n,
        "revenue": revenue,
        "revenue_share": revenue / total_revenue if total_revenue else 0.0,
        "median_recency_days": _maybe_float(medians["lapsed"]),
        "others_median_recency_days": _maybe_float(medians["others"]),
    }
    if n == 0:
        sentence = "No customers are both lapsed (R ≤ 2) and of high frequency and value."
    else:
        weight = "a large" if numbers["revenue_share"] >= 0.1 else "a modest"
        sentence = (
            f"{n:,} lapsed high-value customers (R ≤ 2, F ≥ {upper}, M ≥ {upper}) hold {weight} "
            f"{numbers['revenue_share']:.0%} of revenue (${revenue:,.0f}); their last purchase was a median "
            f"of {numbers['median_recency_days']:.0f} days ago, against {numbers['others_median_recency_days']:.0f} "
            "days for everyone else."
        )
    return _insight("at_risk_value", "Value at risk", sentence, numbers)


def premium_uplift(result: dict[str, Any]) -> dict[str, Any]:
    """The premium uplift inside matched RFM cells, with its interval, in words."""
    money, freq = result["monetary"], result["frequency"]
    level = f"{result['confidence']:.0%}"
    if not result["customers_with_known_status"]:
        sentence = "No customer's subscription status is known (no customer file), so premium uplift is not measured."
    elif money["ratio"] is None:
        sentence = "Too few matched RFM cells hold both premium and non-premium customers to measure an uplift."
    elif not money["meaningful"]:
        sentence = (
            f"Within the same RFM cell, premium subscribers spend {money['ratio']:.2f}× what non-subscribers spend "
            f"({level} interval {money['ci_low']:.2f}–{money['ci_high']:.2f}): no meaningful uplift, so premium "
            "is best treated as a service modifier, not a value driver."
        )
    else:
        direction = "more" if money["ratio"] > 1 else "less"
        sentence = (
            f"Within the same RFM cell, premium subscribers spend {abs(money['ratio'] - 1):.1%} {direction} than "
            f"non-subscribers ({level} interval {money['ci_low']:.3f}–{money['ci_high']:.3f}) and order "
            f"{freq['ratio']:.2f}× as often, across {result['matched_cells']} matched cells."
        )
    return _insight("premium_uplift", "Premium as a modifier", sentence, result)


def _revenue(cells: pd.DataFrame) -> float:
    """Revenue of a set of cells from their exact monetary sums."""
    return sum(cells["monetary__sum"]) / SCALES["monetary"]


def _insight(insight_id: str, title: str, sentence: str, numbers: dict[str, Any]) -> dict[str, Any]:
    """One insight record."""
    return {"id": insight_id, "title": title, "sentence": sentence, "numbers": numbers}


def _maybe_float(value: Any) -> float | None:
    """A float, or None for a missing value."""
    return None if value is None or value != value else float(value)
