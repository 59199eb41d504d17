"""The four insights in words: a title and a sentence for each, chosen by the numbers the mart computed
(`segmentation.mart.insights`), and the score bounds of the groups they count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from segmentation.words import formatting as fmt
from segmentation.words.attributes import left_out

TITLES = {
    "revenue_concentration": "Revenue concentration",
    "recency_split": "Who the recent customers are",
    "at_risk_value": "Value at risk",
    "premium_uplift": "Premium as a modifier",
}
# Numbers that define a group by its scores: stated once, as the insight's definition, not among its numbers.
SCORE_BOUNDS = frozenset({"r_score_min", "frequent_f_score_min", "low_frequency_f_score_max", "r_score_max",
                          "f_score_min", "m_score_min"})


def title(item: dict[str, Any]) -> str:
    """The insight's title."""
    return TITLES[item["id"]]


def sentence(item: dict[str, Any], money: fmt.Money) -> str:
    """The insight in one or two sentences, worded by its numbers, amounts in `money` (plain text: escaped where it
    is shown)."""
    return _SENTENCES[item["id"]](item["numbers"], money)


def measured(item: dict[str, Any]) -> bool:
    """Whether the insight's numbers measure anything: the premium uplift needs customers whose subscription status
    is known (without it, its numbers are empty and are not shown)."""
    return item["id"] != "premium_uplift" or bool(item["numbers"].get("customers_with_known_status"))


def definition(item: dict[str, Any]) -> str | None:
    """The score bounds of the groups the insight counts ('R ≥ 4; frequent: F ≥ 4; …'), or None."""
    n = item["numbers"]
    if item["id"] == "recency_split":
        return (f"R ≥ {n['r_score_min']}; frequent: F ≥ {n['frequent_f_score_min']}; "
                f"low-frequency: F ≤ {n['low_frequency_f_score_max']}")
    if item["id"] == "at_risk_value":
        return f"R ≤ {n['r_score_max']}, F ≥ {n['f_score_min']}, M ≥ {n['m_score_min']}"
    return None


def revenue_concentration(n: dict[str, Any]) -> str:
    """How concentrated revenue is: the top 20 % and top 1 % shares and the Gini coefficient."""
    top20 = n["top_20pct_share"]
    if top20 >= 0.6:
        shape = "Revenue is highly concentrated"
    elif top20 >= 0.4:
        shape = "Revenue is moderately concentrated"
    else:
        shape = "Revenue is spread broadly across customers"
    return (f"{shape}: the top 20% of customers bring in {fmt.share(top20, 0)} of revenue and the top 1% bring in "
            f"{fmt.share(n['top_1pct_share'])} (Gini {n['gini']:.2f}).")


def recency_split(n: dict[str, Any]) -> str:
    """Whether recent activity comes from frequent buyers or from new, low-frequency ones."""
    frequent, low = n["frequent_share"], n["low_frequency_share"]
    if abs(frequent - low) < 0.05:
        lead = "recent activity comes about equally from loyal and from new customers"
    elif frequent > low:
        lead = "recent activity is carried mostly by frequent, loyal buyers"
    else:
        lead = "recent activity is carried mostly by new, low-frequency buyers: a pipeline to convert"
    return (f"Of the {fmt.count(n['recent_customers'])} recently active customers (R ≥ {n['r_score_min']}), "
            f"{fmt.share(frequent, 0)} buy frequently (F ≥ {n['frequent_f_score_min']}) and {fmt.share(low, 0)} have "
            f"bought only a few times (F ≤ {n['low_frequency_f_score_max']}): {lead}.")


def at_risk_value(n: dict[str, Any], money: fmt.Money) -> str:
    """What lapsed high-value customers hold, and how long ago they bought against everyone else."""
    if not n["customers"]:
        return f"No customers are both lapsed (R ≤ {n['r_score_max']}) and of high frequency and value."
    weight = "a large" if n["revenue_share"] >= 0.1 else "a modest"
    return (f"{fmt.count(n['customers'])} lapsed high-value customers (R ≤ {n['r_score_max']}, "
            f"F ≥ {n['f_score_min']}, M ≥ {n['m_score_min']}) hold {weight} {fmt.share(n['revenue_share'], 0)} of "
            f"revenue ({money(n['revenue'])}); their last purchase was a median of "
            f"{fmt.count(n['median_recency_days'])} days ago, against {fmt.count(n['others_median_recency_days'])} "
            "days for everyone else.")


def premium_uplift(n: dict[str, Any]) -> str:
    """The premium uplift inside matched RFM cells and what it means, or why it is not measured."""
    money, freq = n["monetary"], n["frequency"]
    level = fmt.share(n["confidence"], 0)
    if not n["customers_with_known_status"]:
        return left_out(["subscription"], "the premium uplift is not measured")
    if money["ratio"] is None:
        return "Too few matched RFM cells hold both premium and non-premium customers to measure an uplift."
    if not money["meaningful"]:
        return (f"Within the same RFM cell, premium subscribers spend {money['ratio']:.2f}× what non-subscribers "
                f"spend ({level} interval {money['ci_low']:.2f}–{money['ci_high']:.2f}): no meaningful uplift, so "
                "premium is best treated as a service modifier, not a value driver.")
    direction = "more" if money["ratio"] > 1 else "less"
    return (f"Within the same RFM cell, premium subscribers spend {fmt.share(abs(money['ratio'] - 1))} {direction} "
            f"than non-subscribers ({level} interval {money['ci_low']:.3f}–{money['ci_high']:.3f}) and order "
            f"{freq['ratio']:.2f}× as often, across {fmt.count(n['matched_cells'])} matched cells.")


_SENTENCES: dict[str, Callable[[dict[str, Any], fmt.Money], str]] = {
    "revenue_concentration": lambda n, _money: revenue_concentration(n),
    "recency_split": lambda n, _money: recency_split(n),
    "at_risk_value": at_risk_value,
    "premium_uplift": lambda n, _money: premium_uplift(n),
}
