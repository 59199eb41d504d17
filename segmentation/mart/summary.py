"""Summary stage: per segment, size and revenue shares, KPI values and deltas vs everyone, and key traits.

Key traits are the five attributes whose segment value differs most from the rest of the customers, by effect
size: Cohen's d (difference of means over the pooled standard deviation) for numeric attributes, Cohen's h
(2·asin√p₁ − 2·asin√p₂) for the share of a category or of a yes/no attribute. R, F and M themselves are left
out: the rules define the segments by them, so they would always top the list. Each trait is stored as numbers
(feature code, effect size, the segment's value and the rest's); the report and the dashboard word them.
Each attribute is compared over the customers whose value is known; an attribute no customer has (orders without a
customer file) is no trait at all, never "0 vs 0".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import ibis
import pandas as pd
from ibis import _

from segmentation.config.params import Params
from segmentation.core.stats import SCALES, exact_sums, mean, mean_var

NUMERIC_TRAITS = ("age", "income", "credit_score", "loyalty_points", "churn_risk", "support_tickets", "avg_order_value")
CATEGORY_TRAITS = ("gender", "favorite_category", "device_type")  # feature code of a level: "<field>=<level>"
FLAG_TRAITS = ("subscription", "marketing_opt_in")  # feature code: the field (the share of yes)
KPIS = (
    "avg_monetary", "avg_frequency", "avg_recency_days", "avg_order_value", "premium_rate", "opt_in_rate",
    "avg_churn_risk", "avg_support_tickets",
)
TOP_TRAITS = 5


@dataclass(frozen=True)
class Feature:
    """A key trait's feature code, read: its field, the category level (None for numbers and yes/no fields), and
    whether its values are shares (a category level, a yes/no field) rather than means."""

    field: str
    level: str | None
    share: bool


def parse_feature(code: str) -> Feature:
    """Read a feature code of `trait_features`: 'age', 'subscription' or 'gender=Female'."""
    field, is_level, level = code.partition("=")
    return Feature(field, level if is_level else None, bool(is_level) or field in FLAG_TRAITS)


TRAIT_COLUMNS = (*NUMERIC_TRAITS, "monetary", "frequency", "recency_days", "subscription", "marketing_opt_in")


def segment_stats(table: ibis.Table) -> pd.DataFrame:
    """Exact counts, sums and sums of squares per segment: everything the KPIs and numeric traits need."""
    return exact_sums(table, ["segment_id"], TRAIT_COLUMNS, squares=tuple(NUMERIC_TRAITS))


def category_counts(table: ibis.Table) -> pd.DataFrame:
    """Customers per segment and combination of the categorical and yes/no attributes."""
    columns = [*CATEGORY_TRAITS, *FLAG_TRAITS]
    frame = table.group_by(["segment_id", *columns]).aggregate(n=_.count()).execute()
    return frame.sort_values(["segment_id", *columns], kind="stable").reset_index(drop=True)


def kpis(sums: pd.Series) -> dict[str, float]:
    """Customers, revenue and the KPI values of one group, from its exact sums."""
    n = int(sums["n"])
    revenue = sums["monetary__sum"] / SCALES["monetary"]
    orders = sums["frequency__sum"]
    return {
        "customers": n,
        "revenue": float(revenue),
        "avg_monetary": mean(sums, "monetary"),
        "avg_frequency": mean(sums, "frequency"),
        "avg_recency_days": mean(sums, "recency_days"),
        "avg_order_value": float(revenue / orders) if orders else math.nan,  # revenue per order
        "premium_rate": mean(sums, "subscription"),
        "opt_in_rate": mean(sums, "marketing_opt_in"),
        "avg_churn_risk": mean(sums, "churn_risk"),
        "avg_support_tickets": mean(sums, "support_tickets"),
    }


def overall_kpis(stats: pd.DataFrame) -> dict[str, float]:
    """KPI values over all customers (the segments' exact sums added up)."""
    return kpis(_total(stats))


def segment_summary(stats: pd.DataFrame, counts: pd.DataFrame, params: Params) -> pd.DataFrame:
    """One row per segment in precedence order (empty ones too), with shares, KPIs, deltas, traits and advice."""
    overall = overall_kpis(stats)
    by_segment = stats.set_index("segment_id")
    traits = key_traits(stats, counts)
    rows = []
    for precedence, seg in enumerate(params.all_segments, start=1):
        values = kpis(by_segment.loc[seg.id]) if seg.id in by_segment.index else None
        customers = values["customers"] if values else 0
        revenue = values["revenue"] if values else 0.0
        row: dict[str, Any] = {
            "segment_id": seg.id, "segment_name": seg.name, "description": seg.description,
            "precedence": precedence, "color": seg.color,
            "customers": customers,
            "customer_share": customers / overall["customers"] if overall["customers"] else 0.0,
            "revenue": revenue,
            "revenue_share": revenue / overall["revenue"] if overall["revenue"] else 0.0,
        }
        for kpi in KPIS:
            value = values[kpi] if values else math.nan
            row[kpi] = value
            row[f"delta_{kpi}"] = value / overall[kpi] - 1 if overall[kpi] else math.nan
        seg_traits = traits.get(seg.id, [])
        row["trait_features"] = [t["feature"] for t in seg_traits]
        row["trait_effects"] = [t["effect"] for t in seg_traits]
        row["trait_values"] = [t["value"] for t in seg_traits]
        row["trait_rest_values"] = [t["rest"] for t in seg_traits]
        row["actions"], row["risks"] = list(seg.actions), list(seg.risks)
        rows.append(row)
    return pd.DataFrame(rows)


def key_traits(stats: pd.DataFrame, counts: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Per segment id, the top traits by absolute effect size (largest first): feature code, effect size, and the
    segment's and the rest's mean (numeric attributes) or share (category levels, yes/no attributes)."""
    candidates: dict[str, list[dict[str, Any]]] = {}
    for seg_id, items in _numeric_effects(stats).items():
        candidates.setdefault(seg_id, []).extend(items)
    for seg_id, items in _share_effects(counts).items():
        candidates.setdefault(seg_id, []).extend(items)
    return {
        seg_id: sorted(items, key=lambda t: (-abs(t["effect"]), t["feature"]))[:TOP_TRAITS]
        for seg_id, items in candidates.items()
    }


def _numeric_effects(stats: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Cohen's d of each numeric attribute, segment vs rest, over the customers whose value is known (an attribute
    no customer has, as without a customer file, gives no trait: its sums are zeros, not values)."""
    totals = _total(stats)
    out: dict[str, list[dict[str, Any]]] = {}
    for _index, row in stats.iterrows():
        for col in NUMERIC_TRAITS:
            n1 = int(row[f"{col}__known"])
            n2 = int(totals[f"{col}__known"]) - n1
            if n1 < 2 or n2 < 2:
                continue
            total, total_sq = row[f"{col}__sum"], row[f"{col}__sumsq"]
            m1, v1 = mean_var(total, total_sq, n1, col)
            m2, v2 = mean_var(totals[f"{col}__sum"] - total, totals[f"{col}__sumsq"] - total_sq, n2, col)
            pooled = math.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2))
            d = (m1 - m2) / pooled if pooled > 0 else 0.0
            out.setdefault(row["segment_id"], []).append({"feature": col, "effect": round(d, 6), "value": m1,
                                                          "rest": m2})
    return out


def _share_effects(counts: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Cohen's h of each category level's share (and of yes/no attributes), segment vs rest, among the customers
    whose value is known (an empty value is no level, and an attribute no customer has gives no trait)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for col in (*CATEGORY_TRAITS, *FLAG_TRAITS):
        known = counts[counts[col].notna()]
        if known.empty:
            continue
        levels = known.assign(level=known[col].astype(str))
        grid = levels.pivot_table(index="segment_id", columns="level", values="n", aggfunc="sum").fillna(0)
        level_totals = grid.sum(axis=0)
        for seg_id, row in grid.sort_index().iterrows():
            n1, n2 = row.sum(), level_totals.sum() - row.sum()
            if n1 < 2 or n2 < 2:
                continue
            for level in (["True"] if col in FLAG_TRAITS else sorted(grid.columns)):
                p1 = row.get(level, 0) / n1
                p2 = (level_totals.get(level, 0) - row.get(level, 0)) / n2
                h = 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))
                feature = col if col in FLAG_TRAITS else f"{col}={level}"
                out.setdefault(seg_id, []).append({"feature": feature, "effect": round(h, 6), "value": float(p1),
                                                   "rest": float(p2)})
    return out


def _total(stats: pd.DataFrame) -> pd.Series:
    """The exact sums over all groups."""
    return stats.drop(columns="segment_id").sum()
