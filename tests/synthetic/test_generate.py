"""Tests for the synthetic customer-file generator."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from faker.providers.address.en import Provider as EnglishAddressProvider

import segmentation
from segmentation.cli import main
from segmentation.core.errors import SegmentationError
from segmentation.synthetic import transactions_log
from segmentation.synthetic.customers import CATEGORY_WEIGHTS, DEFAULT_AS_OF, GENDER_WEIGHTS, customer_chunks
from segmentation.synthetic.generate import generate_customers, write_customers

METADATA_PATH = Path(segmentation.__file__).parent / "config" / "reference" / "synthetic_customers_metadata.json"
REFERENCE = json.loads(METADATA_PATH.read_text(encoding="utf-8"))
FIELD_NAMES = [field["name"] for field in REFERENCE["fields"]]
DATE_FIELDS = [field["name"] for field in REFERENCE["fields"] if field["type"] == "date"]
CHUNK_ROWS = "segmentation.synthetic.customers.CHUNK_ROWS"  # for monkeypatch: the size of a drawn chunk
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
    assert set(customers["gender"]) == set(GENDER_WEIGHTS)
    assert set(customers["favorite_category"]) == set(CATEGORY_WEIGHTS)
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
    monkeypatch.setattr(CHUNK_ROWS, 1_000)
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

    monkeypatch.setattr("segmentation.synthetic.customers._draw_customers", broken_draw)
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


# --- transaction log -----------------------------------------------------------------------------

LOG_COLUMNS = ["order_id", "customer_id", "order_date", "order_value", "quantity"]
LOG_TYPES = ["int64", "string", "date32[day]", "double", "int64"]
# Small chunks and batches, so a few thousand rows cover several parts and batches.
SMALL_CHUNK_ROWS, SMALL_BATCH_CUSTOMERS = 1_000, 300
LOG_ROWS = 2_500


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(CHUNK_ROWS, SMALL_CHUNK_ROWS)
    monkeypatch.setattr(transactions_log, "ORDERS_BATCH_CUSTOMERS", SMALL_BATCH_CUSTOMERS)


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """A small-chunk run with a part-file folder log: (customers, orders, log folder)."""
    folder = tmp_path_factory.mktemp("logged")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CHUNK_ROWS, SMALL_CHUNK_ROWS)
        patch.setattr(transactions_log, "ORDERS_BATCH_CUSTOMERS", SMALL_BATCH_CUSTOMERS)
        path = write_customers(folder / "customers.csv", rows=LOG_ROWS, seed=21, transactions=folder / "orders")
    orders = pq.read_table(folder / "orders").to_pandas()
    return read_generated_csv(path), orders, folder / "orders"


def file_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones too), by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cents(values: pd.Series) -> pd.Series:
    return np.rint(values * 100).astype("int64")


@pytest.mark.parametrize("log_name", ["orders.csv", "orders.parquet", "orders"])
def test_runs_with_a_log_are_byte_identical(tmp_path, small_chunks, log_name):
    for run in ("a", "b"):
        write_customers(tmp_path / run / "c.csv", rows=LOG_ROWS, seed=8, transactions=tmp_path / run / log_name)
    assert file_bytes(tmp_path / "a") == file_bytes(tmp_path / "b")
    other = tmp_path / "other"
    write_customers(other / "c.csv", rows=LOG_ROWS, seed=9, transactions=other / log_name)
    log_a, log_other = tmp_path / "a" / log_name, other / log_name
    assert file_bytes(log_a if log_a.is_dir() else tmp_path / "a") != file_bytes(
        log_other if log_other.is_dir() else other
    )


def test_the_log_aggregates_back_to_the_customer_file(logged_run):
    customers, orders, _ = logged_run
    per_customer = orders.assign(cents=cents(orders["order_value"])).groupby("customer_id").agg(
        first=("order_date", "min"), last=("order_date", "max"), orders=("order_id", "size"), cents=("cents", "sum")
    )
    joined = customers.join(per_customer, on="customer_id", validate="1:1")
    assert joined["orders"].notna().all() and len(per_customer) == len(customers)
    assert (pd.to_datetime(joined["first"]) == joined["first_purchase_date"]).all()
    assert (pd.to_datetime(joined["last"]) == joined["last_purchase_date"]).all()
    assert (joined["cents"] == cents(joined["total_spent"])).all()
    frequency = np.maximum(1, orders_of(joined))
    two_days = joined["last_purchase_date"] > joined["first_purchase_date"]
    expected = np.where((frequency == 1) & two_days, 2, frequency)
    assert (joined["orders"] == expected).all()


def test_order_values_are_positive_whole_cents_and_quantities_at_least_one(logged_run):
    _, orders, _ = logged_run
    values = orders["order_value"].to_numpy()
    np.testing.assert_allclose(values, np.round(values, 2), rtol=0, atol=1e-9)
    assert (values >= 0.01).all()
    assert (orders["quantity"] >= 1).all() and orders["quantity"].dtype == "int64"


def test_ids_are_unique_order_ids_increase_and_dates_ascend_within_a_customer(logged_run):
    customers, orders, _ = logged_run
    assert customers["customer_id"].is_unique
    assert orders["order_id"].tolist() == list(range(1, len(orders) + 1))
    # Orders come grouped by customer, in customer-file order.
    first_rows = orders.drop_duplicates("customer_id")["customer_id"].tolist()
    assert first_rows == customers["customer_id"].tolist()
    assert orders.groupby("customer_id")["order_date"].is_monotonic_increasing.all()


def test_the_part_folder_reads_as_one_dataset(logged_run):
    duckdb = pytest.importorskip("duckdb")
    _, orders, folder = logged_run
    parts = sorted(p.name for p in folder.iterdir())
    assert parts == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]  # one per chunk
    dataset = ds.dataset(folder, format="parquet")
    assert dataset.schema.names == LOG_COLUMNS
    assert [str(t) for t in dataset.schema.types] == LOG_TYPES
    relation = duckdb.connect().sql(f"select * from read_parquet('{folder}/*.parquet') order by order_id")
    assert relation.shape == (len(orders), len(LOG_COLUMNS))
    assert relation.shape[0] == dataset.count_rows()
    pd.testing.assert_frame_equal(relation.df()[["order_id", "customer_id", "quantity"]],
                                  orders[["order_id", "customer_id", "quantity"]])


def test_csv_and_parquet_logs_hold_the_same_orders(tmp_path, small_chunks):
    write_customers(tmp_path / "c.csv", rows=LOG_ROWS, seed=4, transactions=tmp_path / "orders.csv")
    write_customers(tmp_path / "p" / "c.csv", rows=LOG_ROWS, seed=4, transactions=tmp_path / "p" / "o.parquet")
    lines = (tmp_path / "orders.csv").read_text(encoding="utf-8").split("\n")
    assert lines[0] == ",".join(LOG_COLUMNS) and lines[-1] == ""
    rows = [line.split(",") for line in lines[1:-1]]
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", row[2]) for row in rows)
    assert all(re.fullmatch(r"\d+(\.\d{1,2})?", row[3]) for row in rows)
    assert '"' not in "".join(lines)
    from_csv = pd.read_csv(tmp_path / "orders.csv", dtype={"customer_id": str}, parse_dates=["order_date"])
    parquet = pq.read_table(tmp_path / "p" / "o.parquet")
    assert [str(t) for t in parquet.schema.types] == LOG_TYPES
    from_parquet = parquet.to_pandas()
    from_parquet["order_date"] = pd.to_datetime(from_parquet["order_date"]).astype(from_csv["order_date"].dtype)
    pd.testing.assert_frame_equal(from_csv, from_parquet)


def test_a_log_run_keeps_every_customer_column_but_the_id(tmp_path):
    plain = write_customers(tmp_path / "plain.csv", rows=3_000, seed=6)
    logged = write_customers(tmp_path / "logged.csv", rows=3_000, seed=6, transactions=tmp_path / "orders")
    plain_frame, logged_frame = read_generated_csv(plain), read_generated_csv(logged)
    assert not plain_frame["customer_id"].is_unique  # the default keeps its repeated ids
    assert logged_frame["customer_id"].is_unique
    pd.testing.assert_frame_equal(plain_frame.drop(columns="customer_id"), logged_frame.drop(columns="customer_id"))
    plain_notes = json.loads(metadata_path(plain).read_text(encoding="utf-8"))["generation"]
    logged_notes = json.loads(metadata_path(logged).read_text(encoding="utf-8"))["generation"]
    assert "transactions" not in plain_notes and "WITH replacement" in plain_notes["columns"]["customer_id"]
    assert "WITHOUT replacement" in logged_notes["columns"]["customer_id"]
    assert "n is 2" in logged_notes["transactions"]["orders_per_customer"]


def test_the_default_file_is_unchanged_by_the_log_feature(tmp_path, small_chunks):
    # Chunked, so the default path still equals the in-memory frame drawn in one go.
    path = write_customers(tmp_path / "customers.csv", rows=LOG_ROWS, seed=42)
    frame = read_generated_csv(path)
    pd.testing.assert_frame_equal(frame, generate_customers(rows=LOG_ROWS, seed=42))
    assert frame["customer_id"].duplicated().any()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["customers.csv", "customers_metadata.json"]


@pytest.mark.parametrize(("rows", "low", "high"), [(45_000, 10_000, 99_999), (45_001, 10_000, 450_010)])
def test_unique_ids_are_five_digit_up_to_45000_rows_then_from_a_wider_range(rows, low, high):
    chunks = customer_chunks(rows, 3, None, None, unique_ids=True)
    ids = pd.Series(pa.concat_tables(chunks).column("customer_id").to_pylist()).astype("int64")
    assert ids.is_unique and ids.between(low, high).all()
    assert ids.max() - ids.min() > 0.9 * (high - low)  # spread over the range, not packed at its start
    again = customer_chunks(rows, 3, None, None, unique_ids=True)
    assert pa.concat_tables(again).column("customer_id").to_pylist() == ids.astype(str).tolist()


def test_order_counts_follow_the_frequency_rule_and_need_two_orders_for_two_days():
    day = np.datetime64("2024-01-01")
    counts = transactions_log.order_counts(
        total_spent=np.array([10.0, 10.0, 10.0, 34.0, 4.0]),
        avg_order_value=np.array([10.0, 10.0, 20.0, 10.0, 10.0]),
        first_purchase=np.array([day] * 5),
        last_purchase=np.array([day, day + 30, day, day + 5, day]),
    )
    assert counts.tolist() == [1, 2, 1, 3, 1]  # round(0.5) is 0, then at least 1


def hand_made_customers(**columns) -> pa.Table:
    """A customer-file chunk with just the columns draw_orders uses."""
    days = {name: pa.array(np.array(columns[name], dtype="datetime64[D]"))
            for name in ("first_purchase_date", "last_purchase_date")}
    return pa.table({
        "customer_id": pa.array(columns["customer_id"]), **days,
        "total_spent": pa.array(columns["total_spent"], pa.float64()),
        "avg_order_value": pa.array(columns["avg_order_value"], pa.float64()),
    })


def test_draw_orders_handles_one_order_two_days_and_one_cent_orders():
    customers = hand_made_customers(
        customer_id=["10001", "10002", "10003"],
        first_purchase_date=["2024-01-01", "2024-02-01", "2024-03-01"],
        last_purchase_date=["2024-01-01", "2024-02-20", "2024-03-09"],
        total_spent=[12.34, 50.0, 0.05],
        avg_order_value=[12.34, 50.0, 0.01],
    )
    orders = transactions_log.draw_orders(customers, np.random.default_rng(0), first_order_id=100).to_pandas()
    assert orders["order_id"].tolist() == list(range(100, 108))
    assert orders["customer_id"].tolist() == ["10001", "10002", "10002"] + ["10003"] * 5
    assert [str(d) for d in orders["order_date"][:3]] == ["2024-01-01", "2024-02-01", "2024-02-20"]
    assert cents(orders["order_value"]).tolist()[:1] == [1234]
    assert cents(orders["order_value"][1:3]).sum() == 5000
    assert cents(orders["order_value"][3:]).tolist() == [1, 1, 1, 1, 1]


@pytest.mark.parametrize(
    ("last_purchase", "total_spent", "message"),
    [
        ("2024-01-05", 0.01, "one cent per order"),  # one order by the ratio, two by the dates
        ("2023-12-31", 10.0, "must not be before"),
    ],
)
def test_draw_orders_rejects_customers_it_cannot_log(last_purchase, total_spent, message):
    customers = hand_made_customers(
        customer_id=["10001"], first_purchase_date=["2024-01-01"], last_purchase_date=[last_purchase],
        total_spent=[total_spent], avg_order_value=[total_spent],
    )
    with pytest.raises(SegmentationError, match=message):
        transactions_log.draw_orders(customers, np.random.default_rng(0))


def test_progress_reports_orders_after_each_chunk(tmp_path, small_chunks):
    messages = []
    write_customers(tmp_path / "c.csv", rows=LOG_ROWS, progress=messages.append, transactions=tmp_path / "o")
    assert [m for m in messages if m.endswith("rows")] == ["1,000/2,500 rows", "2,000/2,500 rows", "2,500/2,500 rows"]
    counts = [int(m.split()[0].replace(",", "")) for m in messages if m.endswith("orders")]
    assert len(counts) == 3 and counts == sorted(counts)
    assert counts[-1] == ds.dataset(tmp_path / "o").count_rows()


def unusable_log_target(root: Path, case: str) -> Path:
    """Set up `root` for one way a log path can be wrong; return that path."""
    if case in ("under a file", "folder over a file"):
        (root / "blocker").write_text("x")
        return root / "blocker" / "orders.csv" if case == "under a file" else root / "blocker"
    if case == "file over a folder":
        (root / "dir.csv").mkdir()
        return root / "dir.csv"
    if case == "someone's folder":
        (root / "mine").mkdir()
        (root / "mine" / "notes.txt").write_text("x")
        return root / "mine"
    return root / {"unknown suffix": "orders.json", "the customer file": "c.csv"}[case]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown suffix", "use a .csv or .parquet file"),
        ("the customer file", "would overwrite the customer file"),
        ("under a file", "cannot write the transaction log"),
        ("folder over a file", "a file is in the way"),
        ("file over a folder", "a folder is in the way"),
        ("someone's folder", "refusing to replace"),
    ],
)
def test_an_unusable_log_target_is_a_clear_error_and_writes_nothing(tmp_path, case, message):
    target = unusable_log_target(tmp_path, case)
    before = file_bytes(tmp_path)
    with pytest.raises(SegmentationError, match=message):
        write_customers(tmp_path / "c.csv", rows=200, transactions=target)
    assert file_bytes(tmp_path) == before


@pytest.mark.parametrize("log_name", ["orders.csv", "orders.parquet", "orders"])
def test_a_failed_log_run_keeps_the_previous_outputs_and_leaves_no_temporaries(
    tmp_path, monkeypatch, small_chunks, log_name
):
    write_customers(tmp_path / "c.csv", rows=LOG_ROWS, transactions=tmp_path / log_name)
    before = file_bytes(tmp_path)
    real_draw, calls = transactions_log.draw_orders, []

    def fails_on_the_third_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return real_draw(*args, **kwargs)

    monkeypatch.setattr(transactions_log, "draw_orders", fails_on_the_third_batch)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_customers(tmp_path / "c.csv", rows=LOG_ROWS, seed=1, transactions=tmp_path / log_name)
    assert file_bytes(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["c.csv", "c_metadata.json", log_name])


def test_a_new_part_folder_replaces_the_old_one_whole(tmp_path, small_chunks):
    write_customers(tmp_path / "c.csv", rows=LOG_ROWS, transactions=tmp_path / "orders")
    assert len(list((tmp_path / "orders").iterdir())) == 3
    write_customers(tmp_path / "c.csv", rows=500, transactions=tmp_path / "orders")
    assert [p.name for p in (tmp_path / "orders").iterdir()] == ["part-00000.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv", "c_metadata.json", "orders"]


def test_zero_rows_give_an_empty_typed_log(tmp_path):
    write_customers(tmp_path / "c.csv", rows=0, transactions=tmp_path / "orders.csv")
    write_customers(tmp_path / "p.csv", rows=0, transactions=tmp_path / "orders")
    assert (tmp_path / "orders.csv").read_text(encoding="utf-8") == ",".join(LOG_COLUMNS) + "\n"
    table = pq.read_table(tmp_path / "orders" / "part-00000.parquet")
    assert table.num_rows == 0 and [str(t) for t in table.schema.types] == LOG_TYPES


def test_cli_writes_the_log_and_reports_it(tmp_path, capsys):
    out, log = tmp_path / "raw" / "c.csv", tmp_path / "raw" / "orders.parquet"
    assert main(["generate", "--rows", "300", "--seed", "2", "--out", str(out), "--transactions", str(log)]) == 0
    printed = capsys.readouterr().out
    assert f"and their orders to {log}" in printed and " orders\n" in printed
    assert pq.read_table(log).num_rows > 300
    assert main(["generate", "--rows", "300", "--out", str(out), "--transactions", str(tmp_path / "o.txt")]) == 2
    assert "error: transaction log" in capsys.readouterr().err
