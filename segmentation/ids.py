"""Id stage: issue new unique customer ids in first-purchase order, so any row order of a file gets the same ids.

Order: first_purchase_date, then every other field as a tie-break, in this documented sequence:
last_purchase_date, source customer_id, total_spent, avg_order_value, then the remaining fields in file order.
Exact duplicate rows tie on everything, but they are identical, so whichever gets which id the output is the same.
Ranks are taken within each first-purchase date (a partitioned window) and offset by the number of customers on
earlier dates, so no window spans the whole table.
"""

from __future__ import annotations

import ibis
from ibis import _

from segmentation.schema import field_names

ID_PREFIX = "C"
ID_DIGITS = 6
TIE_BREAK = ("last_purchase_date", "customer_id", "total_spent", "avg_order_value")


def tie_break_order() -> list[str]:
    """Fields that order customers who share a first-purchase date, most significant first."""
    rest = [n for n in field_names() if n not in TIE_BREAK and n != "first_purchase_date"]
    return [*TIE_BREAK, *rest]


def issue_ids(validated: ibis.Table) -> ibis.Table:
    """Rename `customer_id` to `source_customer_id` and add a new unique `customer_id` (C000001, …)."""
    per_day = validated.group_by("first_purchase_date").aggregate(day_customers=_.count())
    # days are few (thousands), so a running total over them is cheap on any engine
    offsets = per_day.mutate(
        offset=(_.day_customers.sum().over(order_by="first_purchase_date", rows=(None, 0)) - _.day_customers)
    ).drop("day_customers")
    ranked = validated.mutate(
        day_rank=ibis.row_number().over(group_by="first_purchase_date", order_by=tie_break_order())
    )
    joined = ranked.join(offsets, "first_purchase_date")
    number = (joined.offset + joined.day_rank + 1).cast("string")
    width = max(ID_DIGITS, 1)
    new_id = ibis.literal(ID_PREFIX) + number.lpad(width, "0")
    return joined.mutate(source_customer_id=joined.customer_id, customer_id=new_id).drop("offset", "day_rank")
