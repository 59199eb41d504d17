"""The transaction path on real data: the CDNOW purchase log (tests/fixtures/cdnow) against independent pandas.

`-k cdnow` runs this file; `-k "cdnow and fixture"` only the checks of the file itself (no pipeline);
`-k "cdnow and mart"` only the mart built from it. The mart aggregates orders per customer: frequency counts
distinct order days (CDNOW has no order id), monetary sums order values, orders worth zero or less are dropped
(check `order_value_not_positive`) before aggregation.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT, params_copy

FIXTURE_DIR = ROOT / "tests" / "fixtures" / "cdnow"
ORDERS = FIXTURE_DIR / "cdnow_orders.csv.gz"
REFERENCE_DATE = pd.Timestamp("1998-07-01")

# Known totals of the fixture (README.md there)
ROWS = 69_659
CUSTOMERS = 23_570
REVENUE_CENTS = 250_031_563  # $2,500,315.63
FIRST_DAY, LAST_DAY = pd.Timestamp("1997-01-01"), pd.Timestamp("1998-06-30")
ZERO_VALUE_ROWS = 80
PAID_CUSTOMERS = 23_502  # 68 customers have only zero-value orders


def cents(values: pd.Series) -> pd.Series:
    """Dollar amounts as integer cents, so totals compare exactly."""
    return (values * 100).round().astype("int64")


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    """The fixture read plainly with pandas: ids as text, dates parsed."""
    return pd.read_csv(ORDERS, dtype={"customer_id": str}, parse_dates=["order_date"])


@pytest.fixture(scope="module")
def expected(orders) -> pd.DataFrame:
    """Per-customer RFM values from positive-value orders only, computed independently of the package."""
    paid = orders[orders["order_value"] > 0]
    per = paid.groupby("customer_id").agg(
        first_purchase_date=("order_date", "min"),
        last_purchase_date=("order_date", "max"),
        frequency=("order_date", "nunique"),
        monetary=("order_value", "sum"),
    )
    per["avg_order_value"] = per["monetary"] / per["frequency"]
    per["recency_days"] = (REFERENCE_DATE - per["last_purchase_date"]).dt.days
    return per.rename_axis("source_customer_id").reset_index()


@pytest.fixture(scope="module")
def cdnow_mart(tmp_path_factory) -> dict:
    """The mart built by the real pipeline from the order file, with no customer file (params/default.yaml)."""
    from segmentation.config.params import load_params
    from segmentation.mart.pipeline import run

    folder = tmp_path_factory.mktemp("cdnow")
    mart_dir = folder / "mart"
    path = params_copy(ROOT / "params" / "default.yaml", folder, input=None, transactions={"path": str(ORDERS)},
                       mart_dir=str(mart_dir), reference_date=REFERENCE_DATE.date().isoformat())
    run(load_params(path))
    return {
        "customers": pd.read_parquet(mart_dir / "customer_segments.parquet"),
        "quality": json.loads((mart_dir / "data_quality.json").read_text(encoding="utf-8")),
        "manifest": json.loads((mart_dir / "manifest.json").read_text(encoding="utf-8")),
        "params": yaml.safe_load(path.read_text(encoding="utf-8")),
    }


# (a) the fixture itself


def test_cdnow_fixture_has_the_known_totals(orders):
    assert list(orders.columns) == ["customer_id", "order_date", "quantity", "order_value"]
    assert len(orders) == ROWS
    assert orders["customer_id"].nunique() == CUSTOMERS
    assert orders["customer_id"].str.fullmatch(r"\d{5}").all()  # leading zeros kept
    assert cents(orders["order_value"]).sum() == REVENUE_CENTS
    assert (orders["order_date"].min(), orders["order_date"].max()) == (FIRST_DAY, LAST_DAY)
    assert (orders["order_value"] <= 0).sum() == ZERO_VALUE_ROWS
    assert orders["quantity"].dtype == "int64" and (orders["quantity"] >= 1).all()
    assert orders.notna().all().all()


def test_cdnow_fixture_gzip_is_reproducible(tmp_path):
    """Rewriting the fixture's rows with extract.py's writer gives the same bytes (no name, no timestamp)."""
    spec = importlib.util.spec_from_file_location("cdnow_extract", FIXTURE_DIR / "extract.py")
    extract = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extract)
    with gzip.open(ORDERS, "rt", encoding="ascii", newline="") as f:
        rows = [tuple(row) for row in csv.reader(f)][1:]
    extract.write_gzip_csv(rows, tmp_path / "again.csv.gz")
    assert (tmp_path / "again.csv.gz").read_bytes() == ORDERS.read_bytes()


# (b)–(e) the mart built from it (needs the transaction path of the pipeline)


def test_cdnow_mart_keeps_every_customer_with_a_paid_order_and_all_the_revenue(cdnow_mart, orders):
    customers = cdnow_mart["customers"]
    paid = orders[orders["order_value"] > 0]
    assert len(customers) == paid["customer_id"].nunique() == PAID_CUSTOMERS
    assert customers["source_customer_id"].is_unique
    assert cdnow_mart["manifest"]["rows"]["mart"] == len(customers)
    assert abs(customers["monetary"].sum() - cents(paid["order_value"]).sum() / 100) < 0.005


def test_cdnow_mart_rfm_values_match_pandas_for_every_customer(cdnow_mart, expected):
    got = cdnow_mart["customers"]
    assert got["frequency"].dtype == "int64" and got["monetary"].dtype == "float64"
    merged = expected.merge(got, on="source_customer_id", how="outer", suffixes=("", "_mart"),
                            validate="one_to_one", indicator=True)
    assert (merged["_merge"] == "both").all(), merged["_merge"].value_counts()
    for column in ("first_purchase_date", "last_purchase_date"):
        assert (merged[column] == pd.to_datetime(merged[f"{column}_mart"])).all(), column
    for column in ("frequency", "recency_days"):
        assert (merged[column] == merged[f"{column}_mart"]).all(), column
    for column in ("monetary", "avg_order_value"):
        np.testing.assert_allclose(merged[f"{column}_mart"], merged[column], rtol=0, atol=1e-6, err_msg=column)


def quantile_scores(values: pd.Series, bins: int) -> tuple[np.ndarray, pd.Series]:
    """Cut-offs at k/bins (linear interpolation); score = 1 + number of cut-offs strictly below the value."""
    cuts = np.quantile(values.to_numpy(dtype=float), [k / bins for k in range(1, bins)])
    return cuts, 1 + sum((values > cut).astype("int64") for cut in cuts)


def test_cdnow_mart_scores_match_an_independent_quantile_scoring(cdnow_mart, expected):
    params = cdnow_mart["params"]
    bins = params["scores"]["bins"]
    merged = expected.merge(cdnow_mart["customers"], on="source_customer_id", suffixes=("", "_mart"),
                            validate="one_to_one")
    assert len(merged) == len(expected)
    values = {"r": -merged["recency_days"], "f": merged["frequency"], "m": merged["monetary"]}
    for dim, value in values.items():
        cuts, scores = quantile_scores(value, bins)
        np.testing.assert_allclose(cdnow_mart["manifest"]["score_cutoffs"][dim], cuts, rtol=1e-12, err_msg=dim)
        assert (merged[f"{dim}_score"] == scores).all(), dim
    segment_ids = {s["id"] for s in params["segments"]} | {params["fallback"]["id"]}
    assert set(merged["segment_id"]) <= segment_ids


def test_cdnow_mart_counts_the_zero_value_orders_as_dropped(cdnow_mart, orders):
    checks = {check["id"]: check for check in cdnow_mart["quality"]["checks"]}
    check = checks["order_value_not_positive"]
    assert check["policy"] == "drop"
    assert check["count"] == (orders["order_value"] <= 0).sum() == ZERO_VALUE_ROWS


# (f) the original layout: CDNOW_master.txt is whitespace-separated, has no header and writes dates as YYYYMMDD


@pytest.mark.parametrize("header", [False, True])  # Hardie's file has no header; the Lifetimes wheel's copy has one
def test_cdnow_in_its_original_layout_read_through_a_mapping_gives_the_same_mart(cdnow_mart, orders, tmp_path,
                                                                                  header):
    from segmentation.config.params import load_params
    from segmentation.mart.pipeline import run

    original = tmp_path / "CDNOW_master.txt"
    with original.open("w", encoding="ascii", newline="") as out:
        if header:
            out.write("customer_id date number_of_cds dollar_value\r\n")
        for row in orders.itertuples(index=False):  # right-aligned columns, runs of spaces, CRLF line ends
            out.write(f"{row.customer_id:>6} {row.order_date:%Y%m%d} {row.quantity:>3} {row.order_value:>8.2f}\r\n")
    names = ("customer_id", "date", "number_of_cds", "dollar_value") if header else \
        ("column1", "column2", "column3", "column4")
    transactions = {
        "path": str(original),
        "columns": dict(zip(("customer_id", "order_date", "quantity", "order_value"), names)),
        "format": {"separator": "whitespace", "header": header, "date_format": "%Y%m%d"},
    }
    path = params_copy(ROOT / "params" / "default.yaml", tmp_path, input=None, transactions=transactions,
                       mart_dir=str(tmp_path / "mart"), reference_date=REFERENCE_DATE.date().isoformat())
    run(load_params(path))
    got = pd.read_parquet(tmp_path / "mart" / "customer_segments.parquet")
    pd.testing.assert_frame_equal(got, cdnow_mart["customers"], check_exact=True)
    quality = json.loads((tmp_path / "mart" / "data_quality.json").read_text(encoding="utf-8"))
    assert quality["orders"]["rows_in"] == ROWS and quality["orders"]["returns"]["rows"] == 0
    assert [c["count"] for c in quality["checks"]] == [c["count"] for c in cdnow_mart["quality"]["checks"]]
