"""Summary and premium stages on hand-built customers: an attribute nobody has gives no trait and no uplift, an
attribute some customers lack is compared over those who have it."""

from __future__ import annotations

import math

import ibis
import pyarrow as pa
import pytest

from segmentation.config.params import PremiumParams
from segmentation.mart import premium, summary

SEGMENTS = ["a"] * 4 + ["b"] * 4
TYPES = {
    "segment_id": pa.string(), "age": pa.int64(), "income": pa.float64(), "credit_score": pa.int64(),
    "loyalty_points": pa.int64(), "churn_risk": pa.float64(), "support_tickets": pa.int64(),
    "avg_order_value": pa.float64(), "monetary": pa.float64(), "frequency": pa.int64(), "recency_days": pa.int64(),
    "gender": pa.string(), "favorite_category": pa.string(), "device_type": pa.string(),
    "subscription": pa.bool_(), "marketing_opt_in": pa.bool_(),
    "r_score": pa.int64(), "f_score": pa.int64(), "m_score": pa.int64(),
}


def orders_only(**known) -> ibis.Table:
    """Eight customers in two segments with purchases only (as from orders without a customer file), plus the
    attribute columns given."""
    columns = {name: [None] * len(SEGMENTS) for name in TYPES}
    columns |= {
        "segment_id": SEGMENTS,
        "avg_order_value": [10.0, 12.0, 11.0, 13.0, 50.0, 55.0, 60.0, 52.0],
        "monetary": [20.0, 24.0, 22.0, 26.0, 500.0, 550.0, 600.0, 520.0],
        "frequency": [2] * 8, "recency_days": [5, 6, 7, 8, 50, 60, 70, 80],
        "r_score": [2] * 4 + [1] * 4, "f_score": [1] * 8, "m_score": [1] * 4 + [2] * 4,
    }
    columns |= known
    return ibis.memtable(pa.table({name: pa.array(values, TYPES[name]) for name, values in columns.items()}))


def traits(table: ibis.Table) -> dict[str, list[dict]]:
    """key_traits of the table's segments."""
    return summary.key_traits(summary.segment_stats(table), summary.category_counts(table))


def test_attributes_nobody_has_give_no_traits_and_no_kpis():
    found = traits(orders_only())
    assert {t["feature"] for items in found.values() for t in items} == {"avg_order_value"}
    kpis = summary.overall_kpis(summary.segment_stats(orders_only()))
    assert all(math.isnan(kpis[k]) for k in ("premium_rate", "opt_in_rate", "avg_churn_risk", "avg_support_tickets"))


def test_attributes_some_customers_lack_are_compared_over_those_who_have_them():
    table = orders_only(age=[30, None, 40, 50, 20, 22, None, 24],
                        gender=["F", "M", None, "F", None, None, "M", "M"],
                        subscription=[True, None, False, True, False, None, False, True])
    found = {t["feature"]: t for t in traits(table)["a"]}
    assert found["age"]["value"] == pytest.approx(40.0) and found["age"]["rest"] == pytest.approx(22.0)
    assert found["gender=F"]["value"] == pytest.approx(2 / 3) and found["gender=F"]["rest"] == 0.0
    assert not any(f.endswith("=None") or f.endswith("=nan") for f in found)  # an empty value is no level
    # premium: 2 of the 3 known in a, 1 of the 3 known in b (the unknown ones are neither premium nor not)
    assert found["subscription"]["value"] == pytest.approx(2 / 3)
    assert found["subscription"]["rest"] == pytest.approx(1 / 3)


def test_a_segment_with_fewer_than_two_known_values_gets_no_trait_of_that_attribute():
    table = orders_only(age=[30, None, None, None, 20, 22, 23, 24])
    assert "age" not in {t["feature"] for t in traits(table)["a"]}
    assert "age" not in {t["feature"] for t in traits(table)["b"]}  # the rest (a) has one known age


def test_the_premium_uplift_of_data_without_subscription_status_is_not_known_rather_than_zero():
    cells = premium.cell_stats(orders_only())
    result = premium.uplift(cells, PremiumParams(bootstrap_samples=10, confidence=0.95, seed=1))
    assert result["customers_with_known_status"] == 0
    assert result["matched_cells"] is None and result["premium_customers"] is None
    assert result["monetary"]["ratio"] is None and result["frequency"]["ratio"] is None


def test_customer_file_data_keeps_its_traits_when_every_value_is_known():
    full = orders_only(age=[30, 35, 40, 45, 20, 22, 23, 24], gender=["F", "M", "F", "F", "M", "M", "F", "M"],
                       subscription=[True, False, True, True, False, False, True, False])
    found = {t["feature"] for t in traits(full)["a"]}
    assert {"age", "gender=F", "subscription"} <= found
    frame = full.execute()
    a, b = frame[frame.segment_id == "a"], frame[frame.segment_id == "b"]
    age = next(t for t in traits(full)["a"] if t["feature"] == "age")
    pooled = math.sqrt((3 * a.age.var() + 3 * b.age.var()) / 6)
    assert age["effect"] == pytest.approx((a.age.mean() - b.age.mean()) / pooled, abs=1e-6)
