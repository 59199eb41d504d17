"""Small customer files built row by row for tests: one good row, edited per test."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from segmentation.config.params import Params, load_params
from tests.conftest import ROOT, params_copy

GOOD = {
    "customer_id": "10001", "name": "Ann Lee", "email": "ann.lee@example.com", "age": "40", "gender": "Female",
    "city": "Springfield", "country": "Korea", "income": "50000.0", "credit_score": "700",
    "loyalty_points": "120", "first_purchase_date": "2024-01-10", "last_purchase_date": "2025-06-01",
    "total_spent": "300.0", "avg_order_value": "60.0", "favorite_category": "Books", "device_type": "Mobile",
    "churn_risk": "0.3", "subscription": "True", "marketing_opt_in": "False", "support_tickets": "1",
}


def customer_file(tmp_path: Path, rows: list[dict[str, str]], name: str = "customers.csv") -> Path:
    """A CSV of good rows with the given edits (row i = GOOD updated with rows[i])."""
    frame = pd.DataFrame([{**GOOD, "customer_id": str(10001 + i), **edits} for i, edits in enumerate(rows)])
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def params_for(tmp_path: Path, data: Path, **overrides) -> Params:
    """Default params reading `data`, with a mart in tmp_path/mart."""
    return load_params(params_copy(ROOT / "params" / "default.yaml", tmp_path, input=data,
                                   mart_dir=tmp_path / "mart", **overrides))
