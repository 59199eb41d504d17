"""Exact group statistics: counts, sums and sums of squares as whole numbers.

Values are scaled to integers at their natural precision (cents for money, thousandths for churn risk) and
summed as DECIMAL(38, 0). Parallel engines add partial sums in varying order, which changes floating-point
totals in the last bits; integer sums are the same in any order, so reruns give byte-identical summaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import pandas as pd
from ibis import _

# column -> factor that makes its values whole numbers
SCALES = {
    "monetary": 100, "avg_order_value": 100, "income": 100, "churn_risk": 1000,
    "frequency": 1, "recency_days": 1, "age": 1, "credit_score": 1, "loyalty_points": 1, "support_tickets": 1,
    "subscription": 1, "marketing_opt_in": 1,
}
EXACT = "decimal(38, 0)"


def whole(value: Any) -> int:
    """A count or sum from an aggregate as an int; over no rows DuckDB gives None and Spark (through pandas) NaN."""
    return 0 if value is None or value != value else int(value)


def scaled(table: ibis.Table, column: str) -> ibis.Value:
    """A column as an exact whole number at its scale."""
    value = table[column]
    if value.type().is_boolean():
        value = value.cast("int64")
    elif SCALES[column] != 1 or value.type().is_floating():
        value = (value * SCALES[column]).round().cast("int64")
    return value.cast(EXACT)


def exact_sums(table: ibis.Table, by: Sequence[str], columns: Sequence[str],
               squares: Sequence[str] = ()) -> pd.DataFrame:
    """Per group of `by`: n, `<col>__sum` and `<col>__known` (non-empty values) for each column and `<col>__sumsq`
    for each of `squares`, as ints."""
    aggs: dict[str, ibis.Value] = {"n": _.count()}
    for col in columns:
        aggs[f"{col}__sum"] = scaled(table, col).sum()
        aggs[f"{col}__known"] = table[col].count()
    for col in squares:
        value = scaled(table, col)
        aggs[f"{col}__sumsq"] = (value * value).sum()
    frame = table.group_by(list(by)).aggregate(**aggs).execute()
    for name in aggs:
        frame[name] = frame[name].map(whole).astype(object)
    return frame.sort_values(list(by), kind="stable").reset_index(drop=True)


def mean(sums: pd.Series | pd.DataFrame, column: str) -> pd.Series | float:
    """Mean of a column's non-empty values in its own unit, from exact sums (a frame of groups or one row)."""
    return _div(sums[f"{column}__sum"], sums[f"{column}__known"]) / SCALES[column]


def mean_var(total: int, total_sq: int, n: int, column: str) -> tuple[float, float]:
    """Mean and sample variance (in the column's unit) from exact scaled sums."""
    if n < 2:
        return (total / n / SCALES[column] if n else float("nan")), float("nan")
    # exact integer arithmetic until the one final division
    var_scaled = (n * total_sq - total * total) / (n * (n - 1))
    return total / n / SCALES[column], max(var_scaled, 0.0) / SCALES[column] ** 2


def _div(a, b):
    """Elementwise a / b for object columns of Python ints (or plain ints)."""
    if isinstance(a, pd.Series):
        return pd.Series([x / y if y else float("nan") for x, y in zip(a, b)], index=a.index, dtype="float64")
    return a / b if b else float("nan")
