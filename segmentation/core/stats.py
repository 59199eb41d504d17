"""Exact statistics: group counts, sums and sums of squares as whole numbers, and the Gini coefficient.

Values are scaled to integers at their natural precision (cents for money, thousandths for churn risk) and
summed as DECIMAL(38, 0). Parallel engines add partial sums in varying order, which changes floating-point
totals in the last bits; integer sums are the same in any order, so reruns give byte-identical summaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from typing import Any

import ibis
import numpy as np
import pandas as pd
from ibis import _

# column -> factor that makes its values whole numbers
SCALES = {
    "monetary": 100, "avg_order_value": 100, "income": 100, "churn_risk": 1000,
    "frequency": 1, "recency_days": 1, "age": 1, "credit_score": 1, "loyalty_points": 1, "support_tickets": 1,
    "subscription": 1, "marketing_opt_in": 1,
}
EXACT = "decimal(38, 0)"
_INT64_SAFE = 2**62  # sums below this fit an int64 with room to spare


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


def effect_size_class(effect: float) -> str:
    """Cohen's conventional class of an effect size (d or h): 'large' from 0.8, 'medium' from 0.5, 'small' from 0.2,
    else 'negligible' (by absolute value)."""
    size = abs(effect)
    return "large" if size >= 0.8 else "medium" if size >= 0.5 else "small" if size >= 0.2 else "negligible"


def mean_var(total: int, total_sq: int, n: int, column: str) -> tuple[float, float]:
    """Mean and sample variance (in the column's unit) from exact scaled sums."""
    if n < 2:
        return (total / n / SCALES[column] if n else float("nan")), float("nan")
    # exact integer arithmetic until the one final division
    var_scaled = (n * total_sq - total * total) / (n * (n - 1))
    return total / n / SCALES[column], max(var_scaled, 0.0) / SCALES[column] ** 2


def _div(a: Any, b: Any) -> Any:
    """Elementwise a / b for object columns of Python ints (or plain ints)."""
    if isinstance(a, pd.Series):
        return pd.Series([x / y if y else float("nan") for x, y in zip(a, b)], index=a.index, dtype="float64")
    return a / b if b else float("nan")


def gini(values: Any, scale: int = 1) -> float:
    """Gini coefficient of non-negative amounts: 0 when all are equal, (n − 1)/n when one of n holds everything.

    The population form, G = Σᵢ Σⱼ |xᵢ − xⱼ| / (2 n² x̄), without the small-sample factor n/(n − 1): [1, 1, 1, 1]
    gives 0, [0, 0, 0, 1] gives 0.75, a single value gives 0. No values, or a zero total, give 0.

    Exact: values are rounded to whole units of 1/`scale` (cents for money: `SCALES["monetary"]`) and every sum is
    an integer until the one final division, so the result is the same in any input order and on any machine.
    """
    units = np.sort(np.rint(np.asarray(values, dtype=np.float64) * scale))
    n = len(units)
    if n == 0:
        return 0.0
    if np.isnan(units).any():
        raise ValueError("gini: the values hold NaN; pass amounts only")
    bound = n * max(-float(units[0]), float(units[-1]), 0.0)  # no prefix sum is larger (the values are sorted)
    if bound < _INT64_SAFE / 2:  # every prefix sum, and every chunk of them below, fits an int64
        prefix = np.cumsum(units.astype(np.int64))
        chunk = max(1, _INT64_SAFE // (int(bound) + 1))
        prefix_total = sum(int(prefix[start:start + chunk].sum()) for start in range(0, n, chunk))
        total = int(prefix[-1])
    else:  # amounts too large for int64 sums: Python integers (exact, slower)
        prefix_list = list(accumulate(int(v) for v in units))
        prefix_total, total = sum(prefix_list), prefix_list[-1]
    if total == 0:
        return 0.0
    # with x sorted ascending and C_k its prefix sums, Σ k·x_k = (n + 1)·C_n − Σ C_k, so
    # G = 2 Σ k·x_k / (n C_n) − (n + 1)/n = ((n + 1)·C_n − 2 Σ C_k) / (n C_n)
    return ((n + 1) * total - 2 * prefix_total) / (n * total)
