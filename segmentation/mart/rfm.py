"""Features stage: recency, frequency and monetary value per customer.

- recency_days = reference date − last_purchase_date, in days (the reference date is one day after the latest
  purchase by default, so the most recent customers have recency 1).
- frequency = round(total_spent / avg_order_value), at least 1: the file has no order count, but a customer's
  average order value is their total divided by their number of orders, so the ratio recovers it.
- monetary = total_spent.
"""

from __future__ import annotations

import datetime as dt

import ibis


def add_rfm(customers: ibis.Table, reference_date: dt.date) -> ibis.Table:
    """Add recency_days, frequency and monetary."""
    orders = (customers.total_spent / customers.avg_order_value).round().cast("int64")
    return customers.mutate(
        recency_days=ibis.date(reference_date).delta(customers.last_purchase_date, unit="day").cast("int64"),
        frequency=ibis.greatest(orders, 1),
        monetary=customers.total_spent,
    )
