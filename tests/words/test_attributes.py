"""Which attributes a mart knows: an attribute is unknown when no customer has a value for it, decided per attribute."""

from __future__ import annotations

import pandas as pd
import pytest

from segmentation.words.attributes import ATTRIBUTES, Attributes, known_attributes, left_out, named


def customers(**columns) -> pd.DataFrame:
    """Three customers with every attribute known, then the given columns replaced."""
    frame = pd.DataFrame({field: ["x", "y", "z"] for field in ATTRIBUTES})
    frame["monetary"] = [1.0, 2.0, 3.0]
    for name, values in columns.items():
        frame[name] = values
    return frame


def test_a_file_with_every_attribute_knows_them_all_and_says_nothing():
    found = known_attributes(customers())
    assert found.known == frozenset(ATTRIBUTES) and found.unknown == () and found.note() == ""


def test_an_attribute_is_unknown_only_when_no_customer_has_a_value():
    found = known_attributes(customers(age=[None, None, None], country=[None, "France", None],
                                       subscription=pd.array([None, None, None], dtype="boolean")))
    assert found.unknown == ("age", "subscription")
    assert found.knows("country") and not found.knows("age")  # one customer's value is enough


def test_orders_alone_may_still_give_some_attributes():
    """An orders-only mart whose orders give country and favourite category knows those two, and only those."""
    empty = {field: [None] * 3 for field in ATTRIBUTES if field not in ("country", "favorite_category")}
    found = known_attributes(customers(**empty))
    assert found.known == {"country", "favorite_category"}
    assert found.only_known(("favorite_category", "device_type", "country")) == ["favorite_category", "country"]
    assert found.note() == ("This data has no age, gender, income, credit score, loyalty points, device, churn risk, "
                            "premium subscription status, marketing consent or support tickets: those views are "
                            "left out.")


def test_a_column_the_mart_does_not_hold_is_unknown_and_purchase_fields_are_always_known():
    found = known_attributes(customers().drop(columns=["churn_risk"]))
    assert found.unknown == ("churn_risk",)
    assert found.knows("monetary") and found.knows("recency_days")  # not attributes: always there


@pytest.mark.parametrize("kpi, known", [("avg_monetary", True), ("avg_order_value", True), ("premium_rate", False),
                                        ("opt_in_rate", True), ("avg_churn_risk", False)])
def test_a_kpi_is_known_when_its_attribute_is(kpi, known):
    assert Attributes(frozenset(ATTRIBUTES) - {"subscription", "churn_risk"}).kpi_known(kpi) is known


@pytest.mark.parametrize("fields, words", [
    (["age"], "This data has no age: this view is left out."),
    (["age", "income"], "This data has no age or income: this view is left out."),
    (["gender", "device_type", "marketing_opt_in"],
     "This data has no gender, device or marketing consent: this view is left out."),
])
def test_the_note_names_the_missing_attributes_in_plain_words(fields, words):
    assert left_out(fields) == words


def test_names_read_as_a_list():
    assert named([]) == "" and named(["favorite_category"]) == "favourite category"
