"""Id stage on hand-built rows: first-purchase order, each documented tie-break level, duplicates, nulls last."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import pytest

from segmentation.mart.ids import issue_ids

# The columns the id stage reads (the quality stage's row number and row hash, the source id and every field
# that is not text), typed as the quality stage types them.
SCHEMA = ibis.schema({
    "input_row": "int64", "customer_id": "string", "age": "int64", "income": "float64", "credit_score": "int64",
    "loyalty_points": "int64", "first_purchase_date": "date", "last_purchase_date": "date",
    "total_spent": "float64", "avg_order_value": "float64", "churn_risk": "float64", "subscription": "boolean",
    "marketing_opt_in": "boolean", "support_tickets": "int64", "row_hash": "int64",
})
BASE = {
    "customer_id": "500", "age": 40, "income": 50_000.0, "credit_score": 700, "loyalty_points": 100,
    "first_purchase_date": dt.date(2024, 1, 10), "last_purchase_date": dt.date(2025, 6, 1), "total_spent": 300.0,
    "avg_order_value": 60.0, "churn_risk": 0.3, "subscription": False, "marketing_opt_in": False,
    "support_tickets": 1, "row_hash": 1000,
}

# docs/mart.md, written out: after the first purchase, ties go to the last purchase, the source id, total spent,
# average order value, the other number/date/yes-no fields in file order, then the hash of all 20 fields.
# Each level with a lower and a higher value; the lower one comes first.
LEVELS = [
    ("last_purchase_date", dt.date(2025, 5, 1), dt.date(2025, 6, 1)),
    ("customer_id", "100", "200"),
    ("total_spent", 300.0, 310.0),
    ("avg_order_value", 50.0, 60.0),
    ("age", 30, 40),
    ("income", 40_000.0, 50_000.0),
    ("credit_score", 650, 700),
    ("loyalty_points", 90, 100),
    ("churn_risk", 0.2, 0.3),
    ("subscription", False, True),
    ("marketing_opt_in", False, True),
    ("support_tickets", 0, 1),
    ("row_hash", -5, 7),
]


def ids_of(*rows: dict) -> list[str]:
    """The new ids issued to `rows` (BASE with each row's changes), listed in file order."""
    frame = pd.DataFrame([{"input_row": i, **BASE, **row} for i, row in enumerate(rows, start=1)])
    issued = issue_ids(ibis.memtable(frame, schema=SCHEMA)).execute()
    return issued.sort_values("input_row")["customer_id"].tolist()


def test_ids_follow_first_purchase_date_across_days_whatever_the_file_order():
    rows = [
        {"first_purchase_date": dt.date(2024, 3, 1), "last_purchase_date": dt.date(2024, 3, 1)},
        {"first_purchase_date": dt.date(2024, 1, 1), "last_purchase_date": dt.date(2025, 6, 1)},
        {"first_purchase_date": dt.date(2024, 2, 1), "last_purchase_date": dt.date(2024, 2, 1)},
        {"first_purchase_date": dt.date(2024, 1, 1), "last_purchase_date": dt.date(2025, 7, 1)},
        {"first_purchase_date": dt.date(2023, 12, 31), "last_purchase_date": dt.date(2025, 12, 1)},
    ]
    assert ids_of(*rows) == ["C000005", "C000002", "C000004", "C000003", "C000001"]


@pytest.mark.parametrize("level", range(len(LEVELS)), ids=[name for name, _, _ in LEVELS])
def test_each_tie_break_level_decides_when_the_earlier_ones_tie(level):
    """Row 1 has the higher value at this level and the lower one at every later level; row 2 the reverse."""
    first, second = {}, {}
    for name, low, high in LEVELS[level + 1:]:
        first[name], second[name] = low, high
    name, low, high = LEVELS[level]
    first[name], second[name] = high, low
    assert ids_of(first, second) == ["C000002", "C000001"]


def test_ranks_within_a_day_come_after_every_customer_of_earlier_days():
    rows = [
        {"first_purchase_date": dt.date(2024, 1, 11), "last_purchase_date": dt.date(2024, 1, 11)},
        {"customer_id": "300"},
        {"customer_id": "200"},
        {"first_purchase_date": dt.date(2024, 1, 9), "last_purchase_date": dt.date(2026, 1, 1)},
    ]
    assert ids_of(*rows) == ["C000004", "C000003", "C000002", "C000001"]


def test_source_ids_compare_as_text():
    # customer_id is a text field: "10" sorts before "9"
    assert ids_of({"customer_id": "9"}, {"customer_id": "10"}) == ["C000002", "C000001"]


def test_a_repeated_source_id_gets_one_new_id_per_row_and_is_kept_as_source_customer_id():
    frame = pd.DataFrame([
        {"input_row": 1, **BASE, "customer_id": "7", "first_purchase_date": dt.date(2024, 5, 1)},
        {"input_row": 2, **BASE, "customer_id": "7", "first_purchase_date": dt.date(2024, 4, 1)},
        {"input_row": 3, **BASE, "customer_id": "7", "total_spent": 250.0},
    ])
    issued = issue_ids(ibis.memtable(frame, schema=SCHEMA)).execute().sort_values("input_row")
    assert issued["customer_id"].tolist() == ["C000003", "C000002", "C000001"]
    assert issued["source_customer_id"].tolist() == ["7", "7", "7"]
    assert issued["customer_number"].tolist() == [3, 2, 1]


def test_exact_copies_get_consecutive_ids_and_the_same_output_whichever_copy_gets_which():
    frame = pd.DataFrame([
        {"input_row": 1, **BASE},
        {"input_row": 2, **BASE, "first_purchase_date": dt.date(2024, 1, 1)},
        {"input_row": 3, **BASE},  # an exact copy of row 1, hash included
    ])
    issued = issue_ids(ibis.memtable(frame, schema=SCHEMA)).execute()
    assert issued.set_index("input_row").loc[2, "customer_id"] == "C000001"
    copies = issued[issued["input_row"] != 2].sort_values("customer_id").drop(columns="input_row")
    assert copies["customer_id"].tolist() == ["C000002", "C000003"]
    assert copies.drop(columns=["customer_id", "customer_number"]).drop_duplicates().shape[0] == 1


def test_an_empty_field_sorts_after_every_value():
    assert ids_of({"age": None}, {"age": 90}) == ["C000002", "C000001"]
    assert ids_of({"churn_risk": None, "row_hash": -1}, {"churn_risk": 0.9}) == ["C000002", "C000001"]


def test_ids_have_six_digits_and_a_c():
    rows = [{"row_hash": h} for h in range(12)]
    assert ids_of(*rows)[::5] == ["C000001", "C000006", "C000011"]
