"""Summary stage: per segment, size and revenue shares, KPI values and deltas vs everyone, and key traits.

Key traits are the five attributes whose segment value differs most from the rest of the customers, by effect
size: Cohen's d (difference of means over the pooled standard deviation) for numeric attributes, Cohen's h
(2·asin√p₁ − 2·asin√p₂) for the share of a category or of a yes/no attribute. R, F and M themselves are left
out: the rules define the segments by them, so they would always top the list.
"""

from __future__ import annotations

import math
from typing import Any

import ibis
import pandas as pd
from ibis import _

from segmentation.params import Params

NUMERIC_TRAITS = {
    "age": "Age", "income": "Income", "credit_score": "Credit score", "loyalty_points": "Loyalty points",
    "churn_risk": "Churn risk", "support_tickets": "Support tickets", "avg_order_value": "Avg order value",
}
CATEGORY_TRAITS = {"gender": "Gender", "favorite_category": "Favourite category", "device_type": "Device"}
FLAG_TRAITS = {"subscription": "Premium", "marketing_opt_in": "Marketing opt-in"}
KPIS = (
    "avg_monetary", "avg_frequency", "avg_recency_days", "avg_order_value", "premium_rate", "opt_in_rate",
    "avg_churn_risk", "avg_support_tickets",
)
TOP_TRAITS = 5


def kpi_aggregates(table: ibis.Table) -> dict[str, ibis.Value]:
    """The KPI expressions, shared by segment and population so both use one definition."""
    return {
        "customers": _.count(),
        "revenue": table.monetary.sum(),
        "avg_monetary": table.monetary.mean(),
        "avg_frequency": table.frequency.mean(),
        "avg_recency_days": table.recency_days.mean(),
        "avg_order_value": table.monetary.sum() / table.frequency.sum(),  # revenue per order
        "premium_rate": table.subscription.cast("float64").mean(),
        "opt_in_rate": table.marketing_opt_in.cast("float64").mean(),
        "avg_churn_risk": table.churn_risk.mean(),
        "avg_support_tickets": table.support_tickets.mean(),
    }


def overall_kpis(table: ibis.Table) -> dict[str, float]:
    """KPI values over all customers."""
    row = table.aggregate(**kpi_aggregates(table)).execute().iloc[0]
    return {k: float(row[k]) for k in ("customers", "revenue", *KPIS)}


def segment_summary(table: ibis.Table, params: Params, overall: dict[str, float]) -> pd.DataFrame:
    """One row per segment in precedence order (empty ones too), with shares, KPIs, deltas, traits and advice."""
    per_segment = table.group_by("segment_id").aggregate(**kpi_aggregates(table)).execute().set_index("segment_id")
    traits = key_traits(table)
    rows = []
    for precedence, seg in enumerate(params.all_segments, start=1):
        stats = per_segment.loc[seg.id] if seg.id in per_segment.index else None
        customers = int(stats["customers"]) if stats is not None else 0
        row: dict[str, Any] = {
            "segment_id": seg.id, "segment_name": seg.name, "description": seg.description,
            "precedence": precedence, "color": seg.color,
            "customers": customers,
            "customer_share": customers / overall["customers"] if overall["customers"] else 0.0,
            "revenue": float(stats["revenue"]) if stats is not None else 0.0,
        }
        row["revenue_share"] = row["revenue"] / overall["revenue"] if overall["revenue"] else 0.0
        for kpi in KPIS:
            value = float(stats[kpi]) if stats is not None else math.nan
            row[kpi] = value
            row[f"delta_{kpi}"] = value / overall[kpi] - 1 if overall[kpi] else math.nan
        seg_traits = traits.get(seg.id, [])
        row["key_traits"] = [t["text"] for t in seg_traits]
        row["trait_features"] = [t["feature"] for t in seg_traits]
        row["trait_effects"] = [t["effect"] for t in seg_traits]
        row["actions"], row["risks"] = list(seg.actions), list(seg.risks)
        rows.append(row)
    return pd.DataFrame(rows)


def key_traits(table: ibis.Table) -> dict[str, list[dict[str, Any]]]:
    """Per segment id, the top traits by absolute effect size (largest first), each with a readable text."""
    candidates: dict[str, list[dict[str, Any]]] = {}
    for seg_id, items in _numeric_effects(table).items():
        candidates.setdefault(seg_id, []).extend(items)
    for seg_id, items in _share_effects(table).items():
        candidates.setdefault(seg_id, []).extend(items)
    return {
        seg_id: sorted(items, key=lambda t: (-abs(t["effect"]), t["feature"]))[:TOP_TRAITS]
        for seg_id, items in candidates.items()
    }


def _numeric_effects(table: ibis.Table) -> dict[str, list[dict[str, Any]]]:
    """Cohen's d of each numeric attribute, segment vs rest."""
    aggs: dict[str, ibis.Value] = {"n": _.count()}
    for col in NUMERIC_TRAITS:
        value = table[col].cast("float64")
        aggs[f"{col}__sum"], aggs[f"{col}__sumsq"] = value.sum(), (value * value).sum()
    stats = table.group_by("segment_id").aggregate(**aggs).execute().set_index("segment_id").sort_index()
    totals = stats.sum()
    out: dict[str, list[dict[str, Any]]] = {}
    for seg_id, row in stats.iterrows():
        n1, n2 = row["n"], totals["n"] - row["n"]
        if n1 < 2 or n2 < 2:
            continue
        for col, label in NUMERIC_TRAITS.items():
            m1, v1 = _mean_var(row[f"{col}__sum"], row[f"{col}__sumsq"], n1)
            m2, v2 = _mean_var(totals[f"{col}__sum"] - row[f"{col}__sum"], totals[f"{col}__sumsq"] - row[f"{col}__sumsq"], n2)
            pooled = math.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2))
            d = (m1 - m2) / pooled if pooled > 0 else 0.0
            text = f"{label}: {_fmt(m1)} vs {_fmt(m2)} for the rest ({_size(d)} {_direction(d)}, d = {d:+.2f})"
            out.setdefault(seg_id, []).append({"feature": col, "effect": round(d, 6), "text": text})
    return out


def _share_effects(table: ibis.Table) -> dict[str, list[dict[str, Any]]]:
    """Cohen's h of each category level's share (and of yes/no attributes), segment vs rest."""
    out: dict[str, list[dict[str, Any]]] = {}
    columns = {**CATEGORY_TRAITS, **FLAG_TRAITS}
    for col, label in columns.items():
        counts = (
            table.group_by("segment_id", level=table[col].cast("string")).aggregate(n=_.count()).execute()
        )
        grid = counts.pivot_table(index="segment_id", columns="level", values="n", aggfunc="sum").fillna(0).sort_index()
        level_totals = grid.sum(axis=0)
        for seg_id, row in grid.iterrows():
            n1, n2 = row.sum(), level_totals.sum() - row.sum()
            if n1 < 2 or n2 < 2:
                continue
            levels = ["true"] if col in FLAG_TRAITS else sorted(grid.columns)
            for level in levels:
                p1 = row.get(level, 0) / n1
                p2 = (level_totals.get(level, 0) - row.get(level, 0)) / n2
                h = 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))
                name = label if col in FLAG_TRAITS else f"{label} {level}"
                feature = col if col in FLAG_TRAITS else f"{col}={level}"
                text = f"{name}: {p1:.0%} vs {p2:.0%} for the rest ({_size(h)} {_direction(h)}, h = {h:+.2f})"
                out.setdefault(seg_id, []).append({"feature": feature, "effect": round(h, 6), "text": text})
    return out


def _mean_var(total: float, total_sq: float, n: float) -> tuple[float, float]:
    """Mean and sample variance from a sum and a sum of squares."""
    mean = total / n
    return mean, max(total_sq / n - mean * mean, 0.0) * n / (n - 1)


def _size(effect: float) -> str:
    """Cohen's conventional words for an effect size."""
    size = abs(effect)
    return "much" if size >= 0.8 else "clearly" if size >= 0.5 else "slightly" if size >= 0.2 else "barely"


def _direction(effect: float) -> str:
    """'higher' or 'lower'."""
    return "higher" if effect >= 0 else "lower"


def _fmt(value: float) -> str:
    """A number with sensible precision for a sentence."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"

