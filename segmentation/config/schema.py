"""The customer file's 20 fields and their types, read from the dataset metadata shipped with the package."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from segmentation.config import reference

METADATA_FILE = "synthetic_customers_metadata.json"

# metadata type -> Ibis type the pipeline parses each field into
IBIS_TYPES = {"string": "string", "integer": "int64", "float": "float64", "date": "date", "boolean": "boolean"}

PERSONAL_FIELDS = ("name", "email")

# What readers (the report, the dashboard) call the fields the segment summary compares as key traits.
FIELD_LABELS = {
    "age": "Age", "income": "Income", "credit_score": "Credit score", "loyalty_points": "Loyalty points",
    "churn_risk": "Churn risk", "support_tickets": "Support tickets", "avg_order_value": "Avg order value",
    "gender": "Gender", "favorite_category": "Favourite category", "device_type": "Device",
    "subscription": "Premium", "marketing_opt_in": "Marketing opt-in",
}


@cache
def metadata() -> dict[str, Any]:
    """The reference metadata of the customer file (fields, descriptions, source facts)."""
    text = resources.files(reference).joinpath(METADATA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def field_types() -> dict[str, str]:
    """Field name -> Ibis type, in file order."""
    return {f["name"]: IBIS_TYPES[f["type"]] for f in metadata()["fields"]}


def field_names() -> tuple[str, ...]:
    """The 20 field names in file order."""
    return tuple(field_types())
