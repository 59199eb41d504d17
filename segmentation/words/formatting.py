"""How numbers read on every page: money, counts, shares and relative differences, always the same way."""

from __future__ import annotations

import math

# KPI columns of the segment summary, in display order, with the label a reader sees.
KPI_LABELS: dict[str, str] = {
    "avg_monetary": "Avg spend",
    "avg_frequency": "Avg orders",
    "avg_recency_days": "Avg days since last order",
    "avg_order_value": "Avg order value",
    "premium_rate": "Premium share",
    "opt_in_rate": "Marketing opt-in",
    "avg_churn_risk": "Avg churn risk",
    "avg_support_tickets": "Avg support tickets",
}

# For these KPIs a lower value is the better one (fewer days since the last order, lower churn risk, fewer tickets).
LOWER_IS_BETTER = frozenset({"avg_recency_days", "avg_churn_risk", "avg_support_tickets"})


def money(value: float) -> str:
    """Dollars, abbreviated above ten thousand: $812, $12.3K, $2.1M."""
    if value is None or math.isnan(value):
        return "–"
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= 1e9:
        return f"{sign}${value / 1e9:.1f}B"
    if value >= 1e6:
        return f"{sign}${value / 1e6:.1f}M"
    if value >= 1e4:
        return f"{sign}${value / 1e3:.1f}K"
    return f"{sign}${value:,.0f}"


def count(value: float) -> str:
    """A whole number with thousands separators: 1,234."""
    return "–" if value is None or math.isnan(value) else f"{value:,.0f}"


def share(value: float, digits: int = 1) -> str:
    """A 0–1 share as a percentage: 0.123 → 12.3%."""
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}%}"


def delta(value: float) -> str:
    """A relative difference with its sign: 0.25 → +25%, -0.4 → −40%."""
    if value is None or math.isnan(value):
        return "–"
    text = f"{value:+.0%}"
    return text.replace("-", "−")


def number(value: float) -> str:
    """A measured value with the precision its size calls for: 52,340, 41.3, 0.42."""
    if value is None or math.isnan(value):
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def score_span(rng: tuple[int, int] | None, fallback: str = "any") -> str:
    """A score range as '4–5', one score as '3', no range (the fallback segment) as `fallback`."""
    if rng is None:
        return fallback
    return str(rng[0]) if rng[0] == rng[1] else f"{rng[0]}–{rng[1]}"


def kpi_value(kpi: str, value: float) -> str:
    """A KPI value in its natural unit."""
    if kpi in ("avg_monetary", "avg_order_value"):
        return money(value)
    if kpi in ("premium_rate", "opt_in_rate"):
        return share(value)
    if kpi == "avg_recency_days":
        return f"{value:,.0f} days"
    return f"{value:,.2f}"
