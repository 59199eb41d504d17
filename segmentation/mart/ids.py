"""Id stage: issue new unique customer ids in first-purchase order, so any row order of a file gets the same ids.

Order: first_purchase_date, then last_purchase_date, source customer_id, total_spent, avg_order_value, then the
other number, date and yes/no fields in file order (age, income, credit_score, …), nulls last, and finally
`row_hash`, the data-quality stage's hash of all 20 fields, which brings in the text fields (sorting 1e7 rows on
every text field costs more than the whole rest of this stage). Only rows equal in all of those fields reach the
hash; exact copies tie on it too, and whichever copy gets which id, the output is the same. Ranks are taken
within each first-purchase date (a partitioned window) and offset by the number of
customers on earlier dates, so no window spans the whole table.
"""

from __future__ import annotations

import ibis
from ibis import _

from segmentation.config.schema import field_types
from segmentation.mart.load import ROW

ID_PREFIX = "C"
ID_DIGITS = 6
FIRST_TIE_BREAK = ("last_purchase_date", "customer_id", "total_spent", "avg_order_value")


def tie_break_order() -> list[str]:
    """Fields that order customers who share a first-purchase date, most significant first."""
    types = field_types()
    # numbers, dates and yes/no fields sort cheaply; text fields reach the order through the row hash
    rest = [n for n, kind in types.items() if kind != "string" and n not in (*FIRST_TIE_BREAK, "first_purchase_date")]
    return [*FIRST_TIE_BREAK, *rest, "row_hash"]


def customer_numbers(validated: ibis.Table) -> ibis.Table:
    """input_row -> customer_number (1, 2, …) in first-purchase order with the documented tie-break.

    `validated` carries `row_hash`, the data-quality stage's hash of all 20 fields as written. The customers per
    first-purchase day are counted here (one query); the numbers are an expression to store.
    """
    order = tie_break_order()
    keys = validated.select(ROW, "first_purchase_date", *order)
    per_day = keys.group_by("first_purchase_date").aggregate(day_customers=_.count())
    # days are few (thousands), so a running total over them is cheap on any engine. It is taken now and joined
    # back as a small in-memory table: read twice in one query, the keys of every row would be kept in memory
    offsets = ibis.memtable(per_day.mutate(
        offset=_.day_customers.sum().over(order_by="first_purchase_date", rows=(None, 0)) - _.day_customers
    ).drop("day_customers").to_pyarrow())
    # nulls last on every engine (Spark's default would put them first)
    by = [ibis.asc(keys[c], nulls_first=False) for c in order]
    ranked = keys.mutate(day_rank=ibis.row_number().over(group_by="first_purchase_date", order_by=by))
    numbered = ranked.join(offsets, "first_purchase_date")
    return numbered.select(ROW, customer_number=numbered.offset + numbered.day_rank + 1)


def issue_ids(validated: ibis.Table, numbers: ibis.Table | None = None) -> ibis.Table:
    """Rename `customer_id` to `source_customer_id`; add the new unique `customer_id` (C000001, …) and its number.

    `numbers` is `customer_numbers(validated)`, passed in when the caller has already computed it.
    """
    joined = validated.join(customer_numbers(validated) if numbers is None else numbers, ROW)
    new_id = ibis.literal(ID_PREFIX) + joined.customer_number.cast("string").lpad(ID_DIGITS, "0")
    return joined.mutate(source_customer_id=joined.customer_id, customer_id=new_id)
