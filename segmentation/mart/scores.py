"""Scores stage: R, F and M scores 1..n from quantile cut-offs, higher is better.

For each dimension the cut-offs are the quantiles at k/n (k = 1..n−1) of the value, where the value is
−recency_days for R (so more recent is higher), frequency for F and monetary for M. A customer's score is
1 + the number of cut-offs strictly below their value. Equal values therefore always get equal scores; with
distinct values each score holds N/n customers give or take one. When many customers share a value that spans
a cut-off (e.g. many single-order customers) some scores stay empty rather than splitting equal customers.
Cut-offs come from one aggregate query, so no window spans the whole table.
"""

from __future__ import annotations

import ibis

DIMENSIONS = {"r": "recency_days", "f": "frequency", "m": "monetary"}


def score_values(table: ibis.Table) -> dict[str, ibis.NumericValue]:
    """The value each score ranks, oriented so that higher is better."""
    return {"r": -table.recency_days, "f": table.frequency, "m": table.monetary}


def cutoffs(table: ibis.Table, bins: int) -> dict[str, list[float]]:
    """The n−1 quantile cut-offs of each dimension (one query; each dimension's values are ordered once for all its
    quantiles, where one quantile per aggregate would order them n−1 times)."""
    values = score_values(table)
    levels = [k / bins for k in range(1, bins)]
    row = table.aggregate(**{dim: values[dim].quantile(levels) for dim in DIMENSIONS}).execute().iloc[0]
    return {dim: [float(cut) for cut in row[dim]] for dim in DIMENSIONS}


def add_scores(table: ibis.Table, cuts: dict[str, list[float]]) -> ibis.Table:
    """Add r_score, f_score, m_score and the three-digit rfm_code."""
    values = score_values(table)
    scores = {}
    for dim, cuts_of_dim in cuts.items():
        above = [(values[dim] > cut).cast("int64") for cut in cuts_of_dim]
        scores[f"{dim}_score"] = sum(above, ibis.literal(1, type="int64"))
    scored = table.mutate(**scores)
    return scored.mutate(
        rfm_code=scored.r_score.cast("string") + scored.f_score.cast("string") + scored.m_score.cast("string")
    )
