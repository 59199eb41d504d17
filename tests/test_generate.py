"""Tests for the synthetic customer-file generator."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from faker.providers.address.en import Provider as EnglishAddressProvider

import segmentation
from segmentation import generate
from segmentation.errors import SegmentationError
from segmentation.generate import DEFAULT_AS_OF, generate_customers, write_customers

METADATA_PATH = Path(segmentation.__file__).parent / "reference" / "synthetic_customers_metadata.json"
REFERENCE = json.loads(METADATA_PATH.read_text(encoding="utf-8"))
FIELD_NAMES = [field["name"] for field in REFERENCE["fields"]]
DATE_FIELDS = [field["name"] for field in REFERENCE["fields"] if field["type"] == "date"]
# What pandas.read_csv(parse_dates=DATE_FIELDS) gives for each metadata type.
PANDAS_DTYPES = {
    "string": "str", "integer": "int64", "float": "float64", "date": "datetime64[us]", "boolean": "bool"
}
LEGACY_COUNTRIES = {"Korea", "Libyan Arab Jamahiriya", "Netherlands Antilles"}


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    """A 20,000-row file with the default seed and as-of date."""
    return generate_customers(rows=20_000)


@pytest.fixture(scope="module")
def customers_100k() -> pd.DataFrame:
    """A 100,000-row file, the size the duplicate-id and country expectations are stated for."""
    return generate_customers(rows=100_000, seed=42)


def orders_of(frame: pd.DataFrame) -> pd.Series:
    """The order count the generator encodes in total_spent / avg_order_value."""
    return np.rint(frame["total_spent"] / frame["avg_order_value"]).astype(int)


def days_since_last_purchase(frame: pd.DataFrame, as_of: dt.date = DEFAULT_AS_OF) -> pd.Series:
    """Recency in days relative to the as-of date."""
    return (pd.Timestamp(as_of) - frame["last_purchase_date"]).dt.days


def read_generated_csv(path: Path) -> pd.DataFrame:
    """Read a generated CSV the way the schema says it should be typed."""
    return pd.read_csv(path, dtype={"customer_id": str}, parse_dates=DATE_FIELDS)


def test_columns_and_dtypes_follow_the_metadata(customers):
    assert list(customers.columns) == FIELD_NAMES
    expected = {field["name"]: PANDAS_DTYPES[field["type"]] for field in REFERENCE["fields"]}
    assert {name: str(dtype) for name, dtype in customers.dtypes.items()} == expected
    assert len(customers) == 20_000


@pytest.mark.parametrize("seed", [42, 7])
def test_values_stay_in_documented_ranges(seed):
    frame = generate_customers(rows=20_000, seed=seed)
    assert frame["customer_id"].str.fullmatch(r"[1-9]\d{4}").all()
    assert frame["age"].between(18, 80).all()
    assert frame["credit_score"].between(300, 850).all()
    assert frame["churn_risk"].between(0.0, 1.0).all()
    assert (frame["income"] > 0).all()
    assert (frame["loyalty_points"] >= 0).all()
    assert (frame["support_tickets"] >= 0).all()
    assert (frame["first_purchase_date"] >= pd.Timestamp("2018-01-01")).all()
    assert (frame["last_purchase_date"] >= frame["first_purchase_date"]).all()
    assert (frame["last_purchase_date"] <= pd.Timestamp(DEFAULT_AS_OF)).all()
    assert (frame["avg_order_value"] > 0).all()
    assert (frame["avg_order_value"] <= frame["total_spent"]).all()
    assert (orders_of(frame) >= 1).all()


def test_money_is_in_cents_and_churn_has_three_decimals(customers):
    for column, decimals in [("income", 2), ("total_spent", 2), ("avg_order_value", 2), ("churn_risk", 3)]:
        values = customers[column].to_numpy()
        np.testing.assert_allclose(values, np.round(values, decimals), rtol=0, atol=1e-9)


def test_categorical_columns_use_documented_vocabularies(customers):
    assert set(customers["gender"]) == set(generate.GENDER_WEIGHTS)
    assert set(customers["favorite_category"]) == set(generate.CATEGORY_WEIGHTS)
    assert set(customers["device_type"]) == {"Mobile", "Desktop", "Tablet"}
    email = r"[a-z]+\.[a-z]+\d{1,3}@example\.(com|org|net)"
    assert customers["email"].str.fullmatch(email).all()
    assert customers["name"].str.fullmatch(r"[A-Za-z]+ [A-Za-z]+").all()


def test_rates_are_realistic(customers):
    assert 0.22 < customers["subscription"].mean() < 0.33
    assert 0.57 < customers["marketing_opt_in"].mean() < 0.63
    assert 45_000 < customers["income"].median() < 65_000
    assert 45 < customers["avg_order_value"].median() < 75
    orders = orders_of(customers)
    assert orders.max() > 10 * orders.median()  # long tail


def test_same_seed_writes_byte_identical_files_and_other_seed_differs(tmp_path):
    first = write_customers(tmp_path / "a" / "customers.csv", rows=5_000, seed=3)
    second = write_customers(tmp_path / "b" / "customers.csv", rows=5_000, seed=3, as_of=DEFAULT_AS_OF)
    other = write_customers(tmp_path / "c" / "customers.csv", rows=5_000, seed=4)
    assert first.read_bytes() == second.read_bytes()
    assert metadata_path(first).read_bytes() == metadata_path(second).read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_csv_text_is_unquoted_with_iso_dates_and_python_booleans(tmp_path):
    path = write_customers(tmp_path / "customers.csv", rows=2_000)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == ",".join(FIELD_NAMES)
    assert lines[-1] == "" and len(lines) == 2_002
    rows = [line.split(",") for line in lines[1:-1]]
    assert all(len(row) == len(FIELD_NAMES) for row in rows)
    assert '"' not in path.read_text(encoding="utf-8")
    for name in DATE_FIELDS:
        assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", row[FIELD_NAMES.index(name)]) for row in rows)
    for name in ("subscription", "marketing_opt_in"):
        assert {row[FIELD_NAMES.index(name)] for row in rows} == {"True", "False"}


def test_csv_reads_back_as_the_generated_frame(tmp_path):
    path = write_customers(tmp_path / "customers.csv", rows=3_000, seed=11)
    pd.testing.assert_frame_equal(read_generated_csv(path), generate_customers(rows=3_000, seed=11))


def test_duckdb_reads_the_csv_with_the_schema_types(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    path = write_customers(tmp_path / "customers.csv", rows=2_000)
    relation = duckdb.connect().read_csv(str(path), dtype={"customer_id": "VARCHAR"})
    types = dict(zip(relation.columns, map(str, relation.types)))
    duckdb_types = {
        "string": "VARCHAR", "integer": "BIGINT", "float": "DOUBLE", "date": "DATE", "boolean": "BOOLEAN"
    }
    assert types == {field["name"]: duckdb_types[field["type"]] for field in REFERENCE["fields"]}
    assert relation.shape == (2_000, len(FIELD_NAMES))


def test_chunked_writing_matches_the_frame_and_reports_progress(tmp_path, monkeypatch):
    monkeypatch.setattr(generate, "CHUNK_ROWS", 1_000)
    messages = []
    path = write_customers(tmp_path / "customers.csv", rows=2_500, progress=messages.append)
    assert messages == ["1,000/2,500 rows", "2,000/2,500 rows", "2,500/2,500 rows"]
    pd.testing.assert_frame_equal(read_generated_csv(path), generate_customers(rows=2_500))


def test_zero_rows_gives_an_empty_typed_frame_and_a_header_only_file(tmp_path):
    frame = generate_customers(rows=0)
    assert list(frame.columns) == FIELD_NAMES and frame.empty
    path = write_customers(tmp_path / "customers.csv", rows=0)
    assert path.read_text(encoding="utf-8") == ",".join(FIELD_NAMES) + "\n"


def test_failed_write_keeps_the_previous_files_and_leaves_no_temporaries(tmp_path, monkeypatch):
    path = write_customers(tmp_path / "customers.csv", rows=100)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken_draw(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(generate, "_draw_customers", broken_draw)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_customers(path, rows=100)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"rows": -1}, "rows"), ({"rows": 10, "as_of": dt.date(2017, 6, 1)}, "as_of")],
)
def test_invalid_arguments_are_rejected(arguments, message):
    with pytest.raises(SegmentationError, match=message):
        generate_customers(**arguments)


def test_countries_come_from_fakers_list_including_legacy_names(customers_100k):
    countries = set(customers_100k["country"])
    assert countries <= set(EnglishAddressProvider.countries)
    assert LEGACY_COUNTRIES <= countries


def test_about_27450_ids_repeat_in_100k_rows(customers_100k):
    repeated_ids = (customers_100k["customer_id"].value_counts() > 1).sum()
    assert 27_000 <= repeated_ids <= 27_900


def test_correlations_have_the_documented_sign(customers_100k):
    frame = customers_100k
    orders = orders_of(frame)
    recency = days_since_last_purchase(frame)
    premium = frame["subscription"]
    assert orders.corr(recency) < 0
    assert orders[premium].mean() > orders[~premium].mean()
    assert frame["avg_order_value"][premium].median() > frame["avg_order_value"][~premium].median()
    assert frame["loyalty_points"].corr(frame["total_spent"]) > 0.8
    assert frame["churn_risk"].corr(recency) > 0
    assert frame["age"].corr(np.log(frame["income"])) > 0
    assert frame["credit_score"].corr(np.log(frame["income"])) > 0
    assert frame["support_tickets"][orders >= 10].mean() > frame["support_tickets"][orders == 1].mean()
    age_by_device = frame.groupby("device_type")["age"].mean()
    assert age_by_device["Desktop"] > age_by_device["Mobile"]


def test_one_order_customers_bought_only_on_their_first_day(customers):
    single = orders_of(customers) == 1
    assert (customers["last_purchase_date"][single] == customers["first_purchase_date"][single]).all()


def metadata_path(csv_path: Path) -> Path:
    """The metadata JSON written beside a generated CSV."""
    return csv_path.with_name(f"{csv_path.stem}_metadata.json")


def test_metadata_json_describes_the_generated_file(tmp_path):
    path = write_customers(tmp_path / "customers.csv", rows=1_234, seed=9, as_of=dt.date(2025, 3, 15))
    written = json.loads(metadata_path(path).read_text(encoding="utf-8"))
    assert written["num_rows"] == 1_234
    assert written["generated_on"] == "2025-03-15"
    assert written["seed"] == 9
    assert written["fields"] == REFERENCE["fields"]
    generation = written["generation"]
    assert set(generation["columns"]) == set(FIELD_NAMES)
    assert all(isinstance(text, str) and text for text in generation["columns"].values())
    assert generation["orders"] and generation["correlations"] and generation["csv_format"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["customers.csv", "customers_metadata.json"]
