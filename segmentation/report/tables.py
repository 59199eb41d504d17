"""Every table of the report: each function takes the report context and returns a `Table`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from segmentation.config.rules import coverage
from segmentation.report.context import ReportContext
from segmentation.report.display import Markdown, Table, needs_attributes
from segmentation.report.recommend import recommendations
from segmentation.words import formatting as fmt
from segmentation.words.traits import trait_texts

# Keys never shown even if a data-quality example carried them: no personal data on any page.
PRIVATE_KEYS = frozenset({"name", "email", "first_name", "last_name", "phone", "address"})


def _pct(value: float) -> str:
    """A 0–1 share as a percentage with one decimal."""
    return fmt.share(value)


def segment_overview(ctx: ReportContext) -> Table:
    """One row per segment: size, shares, key traits, largest KPI differences, actions and risks."""
    rows = []
    for _, row in ctx.summary.iterrows():
        rows.append({
            "Segment": row["segment_name"],
            "ID": row["segment_id"],
            "Customers": int(row["customers"]),
            "% of customers": float(row["customer_share"]),
            "% of revenue": float(row["revenue_share"]),
            "Key traits": trait_texts(row, ctx.money)[:3],  # all five are on the segment's own page
            "KPI vs overall": largest_deltas(row),
            "Recommended actions": list(row["actions"]),
            "Risks": list(row["risks"]),
        })
    return Table(
        pd.DataFrame(rows),
        caption="Segments in precedence order (the first matching rule wins; the last is the fallback). "
                "Key traits: the three most distinctive (five on each segment's page); KPI vs overall: the four "
                "largest differences to all customers.",
        formats={"Customers": fmt.count, "% of customers": _pct, "% of revenue": _pct},
        row_colors=list(ctx.summary["color"]),
        css_class="wide",
    )


def largest_deltas(row: pd.Series, top: int = 4) -> list[str]:
    """The KPIs where a segment differs most from all customers, e.g. 'Avg spend +45%'."""
    deltas = [(k, float(row[f"delta_{k}"])) for k in fmt.KPI_LABELS]
    deltas = [(k, d) for k, d in deltas if not math.isnan(d)]
    deltas.sort(key=lambda kd: -abs(kd[1]))
    return [f"{fmt.KPI_LABELS[k]} {fmt.delta(d)}" for k, d in deltas[:top]]


def quality_checks(ctx: ReportContext) -> Table:
    """Each data-quality check: what it looks for, its policy, how many rows it found and what was done."""
    rows = [{
        "Check": check["id"],
        "What it looks for": check["description"],
        "Policy": check["policy"],
        "Rows found": int(check["count"]),
        "Action": check_action(check),
    } for check in ctx.mart.quality["checks"]]
    where = "the orders table (order_…, unknown_customers), then the customers" if ctx.mart.quality.get("orders") \
        else "the customer file"
    return Table(pd.DataFrame(rows), caption=f"Checks run on {where}, in order",
                 formats={"Rows found": fmt.count})


def check_action(check: dict[str, Any]) -> str:
    """What was done about a data-quality check's rows: 'dropped 12 rows', 'kept and flagged 1 row', 'none needed'."""
    count = int(check["count"])
    if not count:
        return "none needed"
    done = {"drop": "dropped", "flag": "kept and flagged"}.get(check["policy"], check["policy"])
    return f"{done} {fmt.count(count)} {'row' if count == 1 else 'rows'}"


def quality_examples(ctx: ReportContext, per_check: int = 3) -> Table:
    """Up to three example rows of every check that found something (personal fields never shown)."""
    rows = []
    for check in ctx.mart.quality["checks"]:
        for example in check.get("examples", [])[:per_check]:
            shown = {k: v for k, v in example.items() if k.lower() not in PRIVATE_KEYS}
            rows.append({"Check": check["id"], "Example": ", ".join(f"{k} = {v}" for k, v in shown.items())})
    frame = pd.DataFrame(rows, columns=["Check", "Example"])
    source = ("data-row numbers of each file" if ctx.mart.quality.get("orders")
              else "data-row numbers of the customer file")
    return Table(frame, caption=f"Example rows ({source})")


def customer_base_numbers(ctx: ReportContext) -> Table:
    """Minimum, median, mean and maximum of the RFM measures and the numeric attributes the data has."""
    columns = {
        "recency_days": ("Days since last order", lambda v: f"{v:,.0f}"),
        "frequency": ("Orders", lambda v: f"{v:,.1f}"),
        "monetary": ("Total spend", ctx.money),
        "avg_order_value": ("Average order value", ctx.money),
        "age": ("Age", lambda v: f"{v:,.0f}"),
        "income": ("Income", ctx.money),
        "credit_score": ("Credit score", lambda v: f"{v:,.0f}"),
        "loyalty_points": ("Loyalty points", lambda v: f"{v:,.0f}"),
        "churn_risk": ("Churn risk", lambda v: f"{v:.2f}"),
        "support_tickets": ("Support tickets", lambda v: f"{v:.1f}"),
    }
    df = ctx.customers
    rows = []
    for col, (label, show) in columns.items():
        if not ctx.attributes.knows(col):
            continue
        values = df[col].astype(float)
        rows.append({"Measure": label, "Minimum": show(values.min()), "Median": show(values.median()),
                     "Mean": show(values.mean()), "Maximum": show(values.max())})
    return Table(pd.DataFrame(rows), caption=f"All {len(df):,} customers",
                 numeric=("Minimum", "Median", "Mean", "Maximum"))


def score_cutoffs(ctx: ReportContext) -> Table:
    """The value range behind each R, F and M score (from the run's quantile cut-offs)."""
    cuts = ctx.mart.manifest["score_cutoffs"]
    bins = ctx.params.bins
    rows = []
    for score in range(1, bins + 1):
        rows.append({
            "Score": score,
            "Recency (days since last order)": _recency_range(cuts["r"], score),
            "Frequency (orders)": _value_range(cuts["f"], score, lambda v: f"{v:,.1f}".removesuffix(".0")),
            "Monetary (total spend)": _value_range(cuts["m"], score, ctx.money),
        })
    return Table(pd.DataFrame(rows),
                 caption="A score is 1 + the number of cut-offs strictly below the value; 5 is best")


def _neighbour_cuts(cuts: list[float], score: int) -> tuple[float | None, float | None]:
    """The cut-off just below a score and the one just above it (None past either end)."""
    low = cuts[score - 2] if score >= 2 else None
    high = cuts[score - 1] if score - 1 < len(cuts) else None
    return low, high


def _value_range(cuts: list[float], score: int, show) -> str:  # noqa: ANN001
    """The values that get `score`: above the cut-off below it, up to and including the one above it."""
    low, high = _neighbour_cuts(cuts, score)
    if low is None and high is None:
        return "all"
    if low is None:
        return f"≤ {show(high)}"
    if high is None:
        return f"> {show(low)}"
    if low >= high:
        return "none (two cut-offs coincide)"
    return f"> {show(low)} and ≤ {show(high)}"


def _recency_range(cuts: list[float], score: int) -> str:
    """Recency cut-offs are on −days (higher = more recent): say it in days since the last order."""
    low, high = _neighbour_cuts(cuts, score)
    if low is None and high is None:
        return "all"
    if low is None:
        return f"≥ {-high:,.0f}"
    if high is None:
        return f"< {-low:,.0f}"
    if low >= high:
        return "none (two cut-offs coincide)"
    return f"≥ {-high:,.0f} and < {-low:,.0f}"


def rules(ctx: ReportContext) -> Table:
    """The segment rules in precedence order: score ranges, cube cells won and customers."""
    cov = coverage(ctx.params).set_index("segment_id")
    sizes = dict(zip(ctx.summary["segment_id"], ctx.summary["customers"]))
    rows = []
    for i, seg in enumerate(ctx.params.all_segments, start=1):
        rows.append({
            "Segment": seg.name,
            "ID": seg.id,
            "Precedence": i,
            "R": fmt.score_span(seg.r, "any (fallback)"),
            "F": fmt.score_span(seg.f, "any (fallback)"),
            "M": fmt.score_span(seg.m, "any (fallback)"),
            "Cells won": int(cov.loc[seg.id, "cells_won"]),
            "Share of cube": float(cov.loc[seg.id, "cube_share"]),
            "Customers": int(sizes.get(seg.id, 0)),
        })
    return Table(pd.DataFrame(rows), caption=f"Rules of {ctx.params.path.name}; ranges are inclusive score ranges",
                 formats={"Share of cube": _pct, "Customers": fmt.count},
                 row_colors=[ctx.colors.get(s.id, s.color) for s in ctx.params.all_segments])


NO_TRAITS = ("No trait to show: a trait compares at least two customers of the segment with a known value against "
             "two outside it.")


def segment_traits(ctx: ReportContext, segment_id: str) -> Table | Markdown:
    """The segment's five most distinctive traits and their effect sizes (a note when it has none: too few customers,
    or no attribute known)."""
    row = ctx.summary_row(segment_id)
    if not len(trait_texts(row, ctx.money)):
        return Markdown(NO_TRAITS)
    frame = pd.DataFrame({
        "Trait": trait_texts(row, ctx.money),
        "Feature": list(row["trait_features"]),
        "Effect size": [float(e) for e in row["trait_effects"]],
    }, columns=["Trait", "Feature", "Effect size"])
    frame.insert(0, "#", range(1, len(frame) + 1))
    return Table(frame,
                 caption="Effect size: Cohen's d for numbers, Cohen's h for shares (a category, premium, opt-in)",
                 formats={"Effect size": lambda v: f"{v:+.2f}"})


@needs_attributes("subscription")
def premium_split(ctx: ReportContext, segment_id: str) -> Table:
    """Premium subscribers and the rest inside the segment, side by side (opt-in when the data has it)."""
    members = ctx.members(segment_id)
    rows = []
    status = members["subscription"]
    for label, group in (("Premium", members[status.eq(True)]), ("Not premium", members[status.eq(False)])):
        n = len(group)
        rows.append({
            "Group": label,
            "Customers": n,
            "Share of segment": n / len(members) if len(members) else float("nan"),
            "Revenue": float(group["monetary"].sum()),
            "Avg spend": float(group["monetary"].mean()) if n else float("nan"),
            "Avg orders": float(group["frequency"].mean()) if n else float("nan"),
            "Avg days since last order": float(group["recency_days"].mean()) if n else float("nan"),
            "Marketing opt-in": float(group["marketing_opt_in"].astype(float).mean()) if n else float("nan"),
        })
    frame = pd.DataFrame(rows)
    if not ctx.attributes.knows("marketing_opt_in"):
        frame = frame.drop(columns="Marketing opt-in")
    return Table(frame, caption=f"Premium vs non-premium customers in {ctx.names[segment_id]}", formats={
        "Customers": fmt.count, "Share of segment": _pct, "Revenue": ctx.money, "Avg spend": ctx.money,
        "Avg orders": lambda v: "–" if math.isnan(v) else f"{v:.1f}",
        "Avg days since last order": lambda v: "–" if math.isnan(v) else f"{v:,.0f}",
        "Marketing opt-in": _pct,
    })


def kpi_comparison(ctx: ReportContext) -> Table:
    """Every segment's size and KPI values (those the data has), with all customers as the last row."""
    kpis = [k for k in fmt.KPI_LABELS if ctx.attributes.kpi_known(k)]
    rows = []
    for _, row in ctx.summary.iterrows():
        rows.append({"Segment": row["segment_name"], "Customers": int(row["customers"]),
                     "% of customers": float(row["customer_share"]), "% of revenue": float(row["revenue_share"]),
                     **{fmt.KPI_LABELS[k]: float(row[k]) for k in kpis}})
    insights = ctx.mart.insights
    rows.append({"Segment": "All customers", "Customers": int(insights["customers"]), "% of customers": 1.0,
                 "% of revenue": 1.0, **{fmt.KPI_LABELS[k]: float(ctx.overall[k]) for k in kpis}})
    formats = {"Customers": fmt.count, "% of customers": _pct, "% of revenue": _pct}
    for kpi in kpis:
        formats[fmt.KPI_LABELS[kpi]] = lambda v, kpi=kpi: "–" if v is None or math.isnan(v) else fmt.kpi_value(
            kpi, v, ctx.money)
    return Table(pd.DataFrame(rows),
                 caption="KPI values per segment (differences to all customers: see the grid above)",
                 formats=formats, row_colors=[*ctx.summary["color"], None], css_class="wide")


def recommendation_targets(ctx: ReportContext) -> Table:
    """Each recommendation, the segments it targets and the size of its audience."""
    recs = recommendations(ctx)
    frame = pd.DataFrame([{
        "Recommendation": rec.title,
        "Targets": ", ".join(ctx.names[sid] for sid in rec.segment_ids),
        "Customers": rec.customers,
        "Opted in to marketing": rec.opted_in,
        "Revenue to date": rec.revenue,
    } for rec in recs], columns=["Recommendation", "Targets", "Customers", "Opted in to marketing", "Revenue to date"])
    if not ctx.attributes.knows("marketing_opt_in"):
        frame = frame.drop(columns="Opted in to marketing")
    return Table(frame, caption="Targets are chosen from the segment KPIs of this run, not fixed segment ids",
                 formats={"Customers": fmt.count, "Opted in to marketing": fmt.count, "Revenue to date": ctx.money},
                 row_colors=[ctx.colors[rec.segment_ids[0]] for rec in recs])


def run_manifest(ctx: ReportContext) -> Table:
    """The run manifest flattened to one row per value (paths, hashes, rows, cut-offs, versions, timings)."""
    rows = [{"Key": key, "Value": _show(value)} for key, value in _flatten(ctx.mart.manifest)]
    return Table(pd.DataFrame(rows, columns=["Key", "Value"]), caption="manifest.json of the mart",
                 css_class="compact")


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dicts as dotted keys, in the manifest's own order."""
    if isinstance(value, dict):
        out = []
        for key, inner in value.items():
            out.extend(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return [(prefix, value)]


def _show(value: Any) -> str:
    """A manifest value as short text (floats rounded, lists comma-separated)."""
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(_show(v) for v in value)
    return str(value)
