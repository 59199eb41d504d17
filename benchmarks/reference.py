"""The plain-pandas reference the mart is timed against: what a typical segmentation notebook does.

Read the customer file (a CSV with pandas' pyarrow reader, or Parquet), drop exact duplicate rows, compute
recency / frequency / monetary, score each with `pd.qcut` over `rank(method="first")`, assign segments with a
row-wise `DataFrame.apply` that walks the params' rules (first match wins), summarise per segment and write both
tables to Parquet.

It exists for speed comparison only. Its segment counts match the mart's up to tie handling: `qcut` over
first-rank splits equal values across bins (every score holds N/bins customers), while the mart gives equal
values equal scores, so e.g. all single-order customers share one F score.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd

from segmentation.config.params import Params

CUSTOMERS_FILE = "customer_segments.parquet"
SUMMARY_FILE = "segment_summary.parquet"


def build_reference(input_path: Path, params: Params, out_dir: Path) -> pd.DataFrame:
    """Segment the customers of `input_path` the notebook way, write them and their summary; return the summary."""
    read = pd.read_parquet if Path(input_path).suffix == ".parquet" else partial(pd.read_csv, engine="pyarrow")
    customers = read(input_path).drop_duplicates()
    customers = add_rfm(customers)
    customers = add_scores(customers, params.bins)
    customers["segment_id"] = customers.apply(segment_of_row(params), axis=1)
    summary = segment_summary(customers)
    out_dir.mkdir(parents=True, exist_ok=True)
    customers.to_parquet(out_dir / CUSTOMERS_FILE, index=False)
    summary.to_parquet(out_dir / SUMMARY_FILE)
    return summary


def add_rfm(customers: pd.DataFrame) -> pd.DataFrame:
    """Recency in days to the day after the latest purchase, frequency as orders (at least 1), monetary."""
    last_purchase = pd.to_datetime(customers["last_purchase_date"])
    reference_date = last_purchase.max() + pd.Timedelta(days=1)
    customers["recency_days"] = (reference_date - last_purchase).dt.days
    orders = (customers["total_spent"] / customers["avg_order_value"]).round()
    customers["frequency"] = orders.clip(lower=1).astype("int64")
    customers["monetary"] = customers["total_spent"]
    return customers


def add_scores(customers: pd.DataFrame, bins: int) -> pd.DataFrame:
    """R, F and M scores 1..bins from quantile bins of the first-rank (recency reversed: recent is high)."""
    labels = list(range(1, bins + 1))
    for score, column, score_labels in (
        ("r_score", "recency_days", labels[::-1]),
        ("f_score", "frequency", labels),
        ("m_score", "monetary", labels),
    ):
        ranks = customers[column].rank(method="first")
        customers[score] = pd.qcut(ranks, bins, labels=score_labels).astype("int64")
    return customers


def segment_of_row(params: Params):
    """A row function giving the id of the first rule whose score ranges contain the row's scores."""
    rules = [(seg.id, seg.r, seg.f, seg.m) for seg in params.segments]
    fallback = params.fallback.id

    def segment(row: pd.Series) -> str:
        """The segment id of one customer row."""
        r, f, m = row["r_score"], row["f_score"], row["m_score"]
        for seg_id, (r_lo, r_hi), (f_lo, f_hi), (m_lo, m_hi) in rules:
            if r_lo <= r <= r_hi and f_lo <= f <= f_hi and m_lo <= m <= m_hi:
                return seg_id
        return fallback

    return segment


def segment_summary(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers, revenue, their shares and average KPIs per segment."""
    summary = customers.groupby("segment_id").agg(
        customers=("segment_id", "size"),
        revenue=("monetary", "sum"),
        avg_recency_days=("recency_days", "mean"),
        avg_frequency=("frequency", "mean"),
        avg_monetary=("monetary", "mean"),
        avg_order_value=("avg_order_value", "mean"),
        premium_rate=("subscription", "mean"),
        opt_in_rate=("marketing_opt_in", "mean"),
        avg_churn_risk=("churn_risk", "mean"),
    )
    summary["customer_share"] = summary["customers"] / summary["customers"].sum()
    summary["revenue_share"] = summary["revenue"] / summary["revenue"].sum()
    return summary
