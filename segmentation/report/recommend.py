"""The four recommendations and the segments they target, derived from the segment KPIs (never from fixed ids).

- protect: the segment with the highest average spend;
- activate: among segments whose customers order less often than the median customer, the one that bought most
  recently;
- re-engage: among segments that order at least as often as the median customer, the one that has gone longest
  without an order.
The median customer (not the mean, which a few heavy buyers drag up) splits frequent from infrequent segments.
- premium: premium subscription as a modifier inside the protect and activate segments, sized by the
  premium uplift insight.
Any params file (business segments, the eleven RFM segments, …) gets its own targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from segmentation.report.context import ReportContext
from segmentation.words import formatting as fmt


@dataclass(frozen=True)
class Recommendation:
    """One recommendation: what to do, for which segments, why those, and how big the audience is."""

    key: str
    title: str
    segment_ids: tuple[str, ...]
    why: str
    actions: tuple[str, ...]
    customers: int
    opted_in: int
    revenue: float


def target_segments(summary: pd.DataFrame, frequent_from: float) -> dict[str, str | None]:
    """Segment id chosen for protect / activate / re-engage (None when no segment qualifies).

    `frequent_from`: the average order count from which a segment counts as frequent (the median customer's).
    """
    live = summary[summary["customers"] > 0]
    chosen: dict[str, str | None] = {"protect": None, "activate": None, "reengage": None}
    if live.empty:
        return chosen
    protect = live.loc[live["avg_monetary"].idxmax(), "segment_id"]
    chosen["protect"] = protect
    rest = live[live["segment_id"] != protect]
    infrequent = rest[rest["avg_frequency"] < frequent_from]
    pool = infrequent if not infrequent.empty else rest
    if not pool.empty:
        chosen["activate"] = pool.loc[pool["avg_recency_days"].idxmin(), "segment_id"]
    rest = rest[rest["segment_id"] != chosen["activate"]]
    frequent = rest[rest["avg_frequency"] >= frequent_from]
    pool = frequent if not frequent.empty else rest
    if not pool.empty:
        chosen["reengage"] = pool.loc[pool["avg_recency_days"].idxmax(), "segment_id"]
    return chosen


def recommendations(ctx: ReportContext) -> list[Recommendation]:
    """The protect / activate / re-engage / premium recommendations for this report's segments."""
    targets = target_segments(ctx.summary, median_orders(ctx))
    recs = []
    builders = {"protect": _protect, "activate": _activate, "reengage": _reengage}
    for key, segment_id in targets.items():
        if segment_id is not None:
            recs.append(builders[key](ctx, segment_id))
    premium = _premium(ctx, tuple(sid for sid in (targets["protect"], targets["activate"]) if sid))
    if premium is not None:
        recs.append(premium)
    return recs


def median_orders(ctx: ReportContext) -> float:
    """How many orders the median customer has placed."""
    return float(ctx.customers["frequency"].median())


def _audience(members: pd.DataFrame) -> dict[str, float]:
    """Size of an audience: customers, how many opted in to marketing, and their revenue to date."""
    return {
        "customers": int(len(members)),
        "opted_in": int(members["marketing_opt_in"].eq(True).sum()),  # unknown consent is no consent
        "revenue": float(members["monetary"].sum()),
    }


def _protect(ctx: ReportContext, segment_id: str) -> Recommendation:
    """Protect the customers who spend the most."""
    row = ctx.summary_row(segment_id)
    why = (
        f"{row['segment_name']} has the highest average spend ({ctx.money(row['avg_monetary'])}, "
        f"{fmt.delta(row['delta_avg_monetary'])} vs all customers): {fmt.share(row['customer_share'])} of customers "
        f"bring {fmt.share(row['revenue_share'])} of revenue."
    )
    return Recommendation("protect", "Protect top customers", (segment_id,), why, ctx.segment(segment_id).actions,
                          **_audience(ctx.members(segment_id)))


def _activate(ctx: ReportContext, segment_id: str) -> Recommendation:
    """Turn recent but infrequent buyers into repeat customers."""
    row = ctx.summary_row(segment_id)
    why = (
        f"{row['segment_name']} bought most recently among the segments whose customers order less often than the "
        f"median customer ({median_orders(ctx):g} orders): {row['avg_recency_days']:,.0f} days since the last order "
        f"vs {ctx.overall['avg_recency_days']:,.0f} for all customers, {row['avg_frequency']:.1f} orders on average."
    )
    return Recommendation("activate", "Activate new customers", (segment_id,), why, ctx.segment(segment_id).actions,
                          **_audience(ctx.members(segment_id)))


def _reengage(ctx: ReportContext, segment_id: str) -> Recommendation:
    """Win back frequent buyers who stopped buying."""
    row = ctx.summary_row(segment_id)
    why = (
        f"{row['segment_name']} has gone longest without an order among the segments that order at least as often "
        f"as the median customer ({median_orders(ctx):g} orders): {row['avg_recency_days']:,.0f} days since the "
        f"last order vs {ctx.overall['avg_recency_days']:,.0f} for all customers, {row['avg_frequency']:.1f} orders "
        f"on average; it holds {ctx.money(row['revenue'])} of revenue to date."
    )
    return Recommendation("reengage", "Re-engage at-risk customers", (segment_id,), why,
                          ctx.segment(segment_id).actions, **_audience(ctx.members(segment_id)))


def _premium(ctx: ReportContext, segment_ids: tuple[str, ...]) -> Recommendation | None:
    """Premium as a modifier: offer it to non-subscribers of the target segments only when the uplift is real."""
    if not segment_ids:
        return None
    try:
        numbers = ctx.insight("premium_uplift")["numbers"]
        uplift = numbers["monetary"]
    except KeyError:
        return None
    if uplift["ratio"] is None:  # not measured (e.g. no subscription status without a customer file)
        return None
    confidence = numbers.get("confidence", uplift.get("confidence", 0.95))
    members = ctx.customers[ctx.customers["segment_id"].isin(segment_ids)
                            & ctx.customers["subscription"].eq(False)]
    names = " and ".join(ctx.names[sid] for sid in segment_ids)
    interval = f"{uplift['ratio']:.2f}× ({fmt.share(confidence, 0)} CI {uplift['ci_low']:.2f}–{uplift['ci_high']:.2f})"
    if uplift.get("meaningful"):
        why = (f"Premium subscribers spend {interval} as much as comparable non-subscribers in the same RFM cells; "
               f"the non-subscribers of {names} are the audience where that uplift is worth most.")
        actions = ("Offer a premium trial to non-subscribers of these segments, not as a blanket discount.",
                   "Keep premium a modifier inside each segment's plan: tailor the message, not the segment.")
    else:
        why = (f"Premium subscribers spend {interval} as much as comparable non-subscribers: the interval includes "
               f"1, so premium is no proven lever; treat it as a modifier inside {names}, not as a target of its own.")
        actions = ("Do not push premium as a growth lever until a test shows an uplift.",
                   "Use premium status to tailor messages inside each segment's plan (e.g. perks vs. trial).")
    return Recommendation("premium", "Premium as a modifier", segment_ids, why, actions, **_audience(members))
