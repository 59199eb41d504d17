"""The aggregates shown on the page; all take the boolean mask of the selected customers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmentation.dashboard.data import DashboardData
from segmentation.dashboard.filters import NO_COUNTRY


@dataclass(frozen=True)
class Kpis:
    """The selection's headline numbers beside the whole base's."""

    customers: int
    revenue: float
    base_customers: int
    base_revenue: float

    @property
    def avg_revenue(self) -> float:
        """Revenue per selected customer (0 for an empty selection)."""
        return self.revenue / self.customers if self.customers else 0.0

    @property
    def base_avg_revenue(self) -> float:
        """Revenue per customer over the whole base."""
        return self.base_revenue / self.base_customers if self.base_customers else 0.0

    @property
    def customer_share(self) -> float:
        """Selected customers as a share of all customers."""
        return self.customers / self.base_customers if self.base_customers else 0.0

    @property
    def revenue_share(self) -> float:
        """Selected revenue as a share of all revenue."""
        return self.revenue / self.base_revenue if self.base_revenue else 0.0


def kpis(data: DashboardData, mask: np.ndarray) -> Kpis:
    """Customers and revenue of the selection and of the whole base."""
    return Kpis(
        customers=int(np.count_nonzero(mask)),
        revenue=float(data.monetary[mask].sum()),
        base_customers=data.customers,
        base_revenue=data.revenue,
    )


def by_segment(data: DashboardData, mask: np.ndarray) -> pd.DataFrame:
    """Per segment (precedence order): customers, revenue, premium customers, mean support tickets, loyalty points."""
    seg = data.dimensions["segment"]
    customers = seg.counts(mask)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({
            "segment_id": data.segments.ids,
            "segment_name": data.segments.names,
            "color": data.segments.colors,
            "customers": customers,
            "revenue": seg.counts(mask, data.monetary),
            "premium": seg.counts(mask & data.flags["premium"]),
            "avg_support_tickets": seg.counts(mask, data.support_tickets) / customers,
            "avg_loyalty_points": seg.counts(mask, data.loyalty_points) / customers,
        })


def rf_grid(data: DashboardData, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Customers and mean monetary per (R, F) cell as bins×bins arrays indexed [r-1, f-1] (mean is NaN when empty)."""
    cell = (data.r_score[mask] - 1) * data.bins + (data.f_score[mask] - 1)
    size = data.bins * data.bins
    count = np.bincount(cell, minlength=size).reshape(data.bins, data.bins)
    revenue = np.bincount(cell, weights=data.monetary[mask], minlength=size).reshape(data.bins, data.bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return count, revenue / count


def by_country(data: DashboardData, mask: np.ndarray) -> pd.DataFrame:
    """Per country with an ISO code and at least one selected customer: name, customers and revenue."""
    dim = data.dimensions["country"]
    table = pd.DataFrame({
        "iso3": dim.values, "country": dim.labels,
        "customers": dim.counts(mask), "revenue": dim.counts(mask, data.monetary),
    })
    return table[(table["customers"] > 0) & (table["iso3"] != NO_COUNTRY)].reset_index(drop=True)


def category_by_segment(data: DashboardData, mask: np.ndarray) -> pd.DataFrame:
    """Customers per favourite category (rows) and segment (columns, precedence order)."""
    cat, seg = data.dimensions["category"], data.dimensions["segment"]
    cell = cat.codes[mask] * len(seg.values) + seg.codes[mask]
    counts = np.bincount(cell, minlength=len(cat.values) * len(seg.values)).reshape(len(cat.values), len(seg.values))
    return pd.DataFrame(counts, index=list(cat.values), columns=list(seg.values))
