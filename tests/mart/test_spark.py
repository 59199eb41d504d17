"""The mart on Spark: the same Ibis code on PySpark (local[2]) gives the same mart as on DuckDB, column for column.

The Spark tests are marked `spark`; they skip when pyspark (or Java) is missing, and fail instead when
SPARK_TESTS=required (`make test-spark` installs requirements-spark.lock and sets it). The engine-settings tests at
the end need no Spark and always run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from dataclasses import replace

import pandas as pd
import pyarrow.parquet as pq
import pytest

from segmentation.cli import _load_params, build_parser
from segmentation.config.params import EngineParams, load_params
from segmentation.core.errors import InputDataError, SegmentationError
from segmentation.mart.engine import connect, spark_memory, spark_remote
from segmentation.mart.load import read_raw
from segmentation.mart.pipeline import run, validate_only
from segmentation.mart.store import CUSTOMERS, INSIGHTS, MANIFEST, QUALITY, SUMMARY
from tests.conftest import ROOT, params_copy
from tests.customer_files import GOOD

# pyspark 4.0's toPandas passes pandas 3 a deprecated `copy=` keyword: its warning, not ours
pytestmark = pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning")
LOCAL = {"name": "spark", "spark_master": "local[2]", "memory_limit": "1GB", "threads": None}
# rows that exercise every data-quality policy, an unmapped country (null ISO3) and exact copies
DIRTY = [
    {"age": ""}, {"age": "95"}, {"first_purchase_date": "2025-07-01"}, {"first_purchase_date": "2024-02-30"},
    {"total_spent": "-5.0"}, {"avg_order_value": "0"}, {"avg_order_value": "400.0"},
    {"customer_id": "10001", "age": "41"}, {"city": ""}, {"churn_risk": "1.5"}, {"credit_score": "200"},
    {"country": "Atlantis"},
]


def spark_missing() -> str | None:
    """Why Spark cannot run here, or None."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (make test-spark installs requirements-spark.lock)"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is not installed (pyspark needs a JDK 17 or 21)"
    return None


@pytest.fixture(scope="module")
def spark():
    """A local Spark session for the module (stopped at the end); skip, or fail when SPARK_TESTS=required."""
    reason = spark_missing()
    if reason:
        if os.environ.get("SPARK_TESTS") == "required":
            pytest.fail(f"SPARK_TESTS=required but {reason}")
        pytest.skip(reason)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("SPARK_REMOTE", raising=False)  # these tests run on local[2], never on someone's cluster
        con = connect(EngineParams(**LOCAL))
        yield con
        con.disconnect()  # stops the session


@pytest.fixture(scope="module")
def dirty_csv(tmp_path_factory, small_csv):
    """The small generated file plus rows that every check catches, and exact copies of three rows."""
    frame = pd.read_csv(small_csv, dtype=str, keep_default_na=False)
    bad = pd.DataFrame([{**GOOD, "customer_id": str(10001 + i), **edits} for i, edits in enumerate(DIRTY)])
    path = tmp_path_factory.mktemp("spark-raw") / "dirty.csv"
    pd.concat([frame, bad, frame.iloc[[3, 17]], bad.iloc[[1]]], ignore_index=True).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def marts(tmp_path_factory, dirty_csv, spark):
    """The same file built into a mart by DuckDB and by Spark: {engine: Params}."""
    built = {}
    for name in ("duckdb", "spark"):
        folder = tmp_path_factory.mktemp(f"mart-{name}")
        path = params_copy(ROOT / "params" / "default.yaml", folder, input=dirty_csv, mart_dir=folder / "mart",
                           engine={**LOCAL, "name": name})
        built[name] = load_params(path)
        run(built[name])
    return built


def read_json(params, name):
    return json.loads((params.mart_dir / name).read_text(encoding="utf-8"))


@pytest.mark.spark
def test_customer_segments_are_equal_in_every_column(marts):
    duck, spark = (pq.read_table(marts[e].mart_dir / CUSTOMERS) for e in ("duckdb", "spark"))
    # same columns, same order, same types (DuckDB's NOT NULL flags follow its plan, so nullability is not compared)
    assert [(f.name, f.type) for f in spark.schema] == [(f.name, f.type) for f in duck.schema]
    duck, spark = duck.to_pandas(), spark.to_pandas()
    assert len(duck) == 2_000 + 6  # the dirty rows that pass or only flag stay; copies and dropped rows go
    assert duck["country_iso3"].isna().sum() == 1 and duck["dq_flags"].ne("").any()
    pd.testing.assert_frame_equal(spark, duck, check_exact=True)


@pytest.mark.spark
def test_summary_insights_quality_and_cutoffs_are_equal(marts):
    duck, spark = marts["duckdb"], marts["spark"]
    pd.testing.assert_frame_equal(pd.read_parquet(spark.mart_dir / SUMMARY), pd.read_parquet(duck.mart_dir / SUMMARY),
                                  check_exact=True)  # exact: the sums behind it are whole numbers on both engines
    assert read_json(spark, INSIGHTS) == read_json(duck, INSIGHTS)
    assert read_json(spark, QUALITY) == read_json(duck, QUALITY)  # same input path, checks, counts and examples
    duck_manifest, spark_manifest = read_json(duck, MANIFEST), read_json(spark, MANIFEST)
    for key in ("score_cutoffs", "rows", "reference_date"):
        assert spark_manifest[key] == duck_manifest[key], key


@pytest.mark.spark
def test_input_rows_follow_the_file_when_spark_reads_it_in_several_tasks(spark, small_csv):
    session = spark._session
    session.conf.set("spark.sql.files.maxPartitionBytes", "64k")
    try:
        raw = read_raw(spark, small_csv)
        tasks = spark.table("raw_ids").spark_task_.nunique().execute()
        got = raw.select("input_row", "email").order_by("input_row").execute()
    finally:
        session.conf.unset("spark.sql.files.maxPartitionBytes")
    expected = pd.read_csv(small_csv, dtype=str, keep_default_na=False)
    assert tasks > 1
    assert got["input_row"].tolist() == list(range(1, len(expected) + 1))
    assert got["email"].tolist() == expected["email"].tolist()


@pytest.mark.spark
def test_validate_command_takes_the_engine_option(tmp_path, dirty_csv, marts, capsys):
    from segmentation.cli import main

    path = params_copy(ROOT / "params" / "default.yaml", tmp_path, input=dirty_csv, mart_dir=tmp_path / "mart")
    assert main(["validate", "--params", str(path), "--engine", "spark", "--out", str(tmp_path / "review")]) == 0
    assert "rows pass" in capsys.readouterr().out
    review = json.loads((tmp_path / "review" / QUALITY).read_text(encoding="utf-8"))
    assert review == read_json(marts["duckdb"], QUALITY)


@pytest.mark.spark
def test_a_ragged_csv_is_one_line_naming_the_file_and_no_row_contents(tmp_path, small_csv, spark):
    lines = small_csv.read_text(encoding="utf-8").splitlines()
    lines[4] += ",extra"
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines[:20]) + "\n", encoding="utf-8")
    params = load_params(params_copy(ROOT / "params" / "default.yaml", tmp_path, input=path,
                                     mart_dir=tmp_path / "mart", engine=LOCAL))
    with pytest.raises(InputDataError) as err:
        validate_only(params)
    message = str(err.value)
    assert message.startswith(f"{path}: cannot be read as CSV: [MALFORMED") and "\n" not in message
    assert "@" not in message  # the offending row (with its email) stays out of the message


# --- engine settings: no Spark needed ---------------------------------------------------------------------------


def test_engine_defaults_to_duckdb_and_the_cli_overrides_it(tmp_path):
    params = load_params(ROOT / "params" / "default.yaml")
    assert (params.engine.name, params.engine.spark_master) == ("duckdb", "local[2]")
    args = build_parser().parse_args(["run", "--params", str(ROOT / "params" / "default.yaml"), "--engine", "spark"])
    assert _load_params(args).engine == replace(params.engine, name="spark")
    path = params_copy(ROOT / "params" / "default.yaml", tmp_path,
                       engine={"name": "spark", "spark_master": "spark://head:7077"})
    assert load_params(path).engine.spark_master == "spark://head:7077"


def test_spark_remote_wins_over_the_master(monkeypatch):
    engine = EngineParams(name="spark", spark_master="yarn")
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    assert spark_remote(engine) is None
    assert spark_remote(replace(engine, spark_master="sc://head:15002")) == "sc://head:15002"
    monkeypatch.setenv("SPARK_REMOTE", "sc://connect:15002")
    assert spark_remote(engine) == "sc://connect:15002"


def test_memory_limit_becomes_a_spark_size():
    assert [spark_memory(m) for m in ("3GB", "512MB", "1.5GiB")] == ["3072m", "512m", "1536m"]


def test_spark_without_pyspark_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # import fails as if pyspark were not installed
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    with pytest.raises(SegmentationError, match=r"pip install -r requirements-spark.lock"):
        connect(EngineParams(name="spark"))


# --- transaction input -------------------------------------------------------------------------------------------

CDNOW = ROOT / "tests" / "fixtures" / "cdnow" / "cdnow_orders.csv.gz"


@pytest.fixture(scope="module")
def cdnow_parts(tmp_path_factory):
    """The CDNOW orders as a folder of two Parquet files (typed columns, as a warehouse export would have)."""
    frame = pd.read_csv(CDNOW, dtype={"customer_id": str}, parse_dates=["order_date"])
    frame["order_date"] = frame["order_date"].dt.date
    folder = tmp_path_factory.mktemp("cdnow-parts")
    half = len(frame) // 2
    frame.iloc[:half].to_parquet(folder / "part-0.parquet", index=False)
    frame.iloc[half:].to_parquet(folder / "part-1.parquet", index=False)
    return folder


@pytest.mark.spark
@pytest.mark.parametrize("source", ["csv", "parquet folder"])
def test_transaction_input_gives_the_same_mart_on_both_engines(tmp_path, spark, cdnow_parts, source):
    orders = CDNOW if source == "csv" else cdnow_parts
    built = {}
    for name in ("duckdb", "spark"):
        (tmp_path / name).mkdir()
        path = params_copy(ROOT / "params" / "default.yaml", tmp_path / name, input=None,
                           transactions={"path": str(orders)}, mart_dir=tmp_path / name / "mart",
                           reference_date="1998-06-01", engine={**LOCAL, "name": name})
        built[name] = load_params(path)
        run(built[name])
    duck, spark_mart = (pd.read_parquet(built[e].mart_dir / CUSTOMERS) for e in ("duckdb", "spark"))
    assert len(duck) > 20_000
    pd.testing.assert_frame_equal(spark_mart, duck, check_exact=True)
    quality = {e: read_json(built[e], QUALITY) for e in built}
    assert quality["spark"] == quality["duckdb"]
    checks = {c["id"]: c for c in quality["duckdb"]["checks"]}
    assert checks["order_value_not_positive"]["count"] == 80 and checks["orders_after_reference"]["count"] > 0


@pytest.mark.spark
@pytest.mark.parametrize("unknown", [1, 0])  # no unknown customer: a sum over no rows (NaN on Spark) must count 0
def test_orders_with_a_customer_file_and_bad_rows_give_the_same_mart_on_both_engines(tmp_path, spark, unknown):
    from tests.mart.test_transactions import ORDERS, write_customers

    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS + "7,A,2026-02-01,0,1\n11,,2026-02-01,9.00,1\n" + "10,Z,2026-02-01,9.00,1\n" * unknown)
    customers = write_customers(tmp_path / "customers.csv")
    built = {}
    for name in ("duckdb", "spark"):
        (tmp_path / name).mkdir()
        built[name] = load_params(params_copy(
            ROOT / "params" / "default.yaml", tmp_path / name, input=customers, transactions={"path": str(orders)},
            mart_dir=tmp_path / name / "mart", reference_date="2026-04-01", engine={**LOCAL, "name": name}))
        run(built[name])
    duck, spark_mart = (pd.read_parquet(built[e].mart_dir / CUSTOMERS) for e in ("duckdb", "spark"))
    pd.testing.assert_frame_equal(spark_mart, duck, check_exact=True)
    assert read_json(built["spark"], QUALITY) == read_json(built["duckdb"], QUALITY)
    assert {c["id"]: c["count"] for c in read_json(built["duckdb"], QUALITY)["checks"]}["unknown_customers"] == unknown


# --- real store exports: mapping, formats, returns, attributes -------------------------------------------------------


def built_on_both(tmp_path, transactions: dict, reference_date: str) -> dict:
    """The same orders-only params run on DuckDB and on Spark: {engine: Params}."""
    built = {}
    for name in ("duckdb", "spark"):
        (tmp_path / name).mkdir()
        built[name] = load_params(params_copy(
            ROOT / "params" / "default.yaml", tmp_path / name, input=None, transactions=transactions,
            mart_dir=tmp_path / name / "mart", reference_date=reference_date, engine={**LOCAL, "name": name}))
        run(built[name])
    return built


def assert_same_marts(built: dict) -> None:
    duck, spark_mart = (pd.read_parquet(built[e].mart_dir / CUSTOMERS) for e in ("duckdb", "spark"))
    pd.testing.assert_frame_equal(spark_mart, duck, check_exact=True)
    assert read_json(built["spark"], QUALITY) == read_json(built["duckdb"], QUALITY)


@pytest.mark.spark
@pytest.mark.parametrize("policy", ["net", "drop"])
def test_a_mapped_export_with_returns_and_attributes_gives_the_same_mart_on_both_engines(tmp_path, spark, policy):
    from tests.mart.test_orders import RETAIL_COLUMNS, RETAIL_HEADER, RETAIL_ROWS, write

    orders = write(tmp_path / "online_retail.csv", RETAIL_HEADER, RETAIL_ROWS)
    built = built_on_both(tmp_path, {
        "path": str(orders), "columns": RETAIL_COLUMNS, "format": {"date_format": "%Y-%m-%d %H:%M:%S"},
        "returns": {"policy": policy, "order_id_pattern": "^C"},
    }, "2009-12-31")
    assert_same_marts(built)
    customers = pd.read_parquet(built["spark"].mart_dir / CUSTOMERS).set_index("source_customer_id")
    assert customers.loc["17850", "country"] == "France" and "13078" in customers.index
    assert read_json(built["spark"], QUALITY)["orders"]["returns"]["rows"] == 4


@pytest.mark.spark
def test_whitespace_separated_headerless_text_reads_the_same_on_both_engines(tmp_path, spark):
    frame = pd.read_csv(CDNOW, dtype={"customer_id": str}, parse_dates=["order_date"]).iloc[:3000]
    original = tmp_path / "CDNOW_master.txt"
    with original.open("w", encoding="ascii", newline="") as out:
        for row in frame.itertuples(index=False):
            out.write(f"{row.customer_id:>6} {row.order_date:%Y%m%d} {row.quantity:>3} {row.order_value:>8.2f}\r\n")
    built = built_on_both(tmp_path, {
        "path": str(original),
        "columns": {"customer_id": "column1", "order_date": "column2", "quantity": "column3", "order_value": "column4"},
        "format": {"separator": "whitespace", "header": False, "date_format": "%Y%m%d"},
    }, "1998-07-01")
    assert_same_marts(built)
    assert read_json(built["spark"], QUALITY)["orders"]["rows_in"] == 3000


@pytest.mark.spark
def test_european_numbers_and_dates_read_the_same_on_both_engines_and_fail_alike(tmp_path, spark):
    orders = tmp_path / "orders.csv"
    orders.write_text("Kunde;Datum;Betrag\n17850.0;31/12/2010;1.234,56\n 42 ;1/2/2011;19,60\n"
                      "42;02/02/2011 10:00;1.006,00\nC1;3/2/2011;-5,00\n", encoding="utf-8")
    transactions = {"path": str(orders), "columns": {"customer_id": "Kunde", "order_date": "Datum",
                                                     "order_value": "Betrag"},
                    "format": {"separator": ";", "date_format": "%d/%m/%Y", "decimal": ",", "thousands": "."}}
    (tmp_path / "good").mkdir()
    assert_same_marts(built_on_both(tmp_path / "good", transactions, "2011-03-01"))
    messages = {}
    for name in ("duckdb", "spark"):
        folder = tmp_path / f"bad-{name}"
        folder.mkdir()
        params = load_params(params_copy(
            ROOT / "params" / "default.yaml", folder, input=None,
            transactions={**transactions, "format": {**transactions["format"], "thousands": None}},
            mart_dir=folder / "mart", reference_date="2011-03-01", engine={**LOCAL, "name": name}))
        with pytest.raises(InputDataError) as err:
            run(params)
        messages[name] = str(err.value).replace(str(folder), "")
    assert messages["spark"] == messages["duckdb"]
    assert "field order_value (column 'Betrag'): 2 values do not parse" in messages["duckdb"]
    assert "row 1 '1.234,56'" in messages["duckdb"]


@pytest.mark.spark
def test_a_mapped_european_customer_file_reads_the_same_on_both_engines(tmp_path, spark, small_csv):
    from tests.mart.test_load import RENAMED, european

    export = tmp_path / "export.csv"
    european(pd.read_csv(small_csv, dtype=str, keep_default_na=False).iloc[:300]).to_csv(export, index=False, sep=";")
    section = {"path": str(export), "columns": RENAMED,
               "format": {"separator": ";", "decimal": ",", "date_format": "%d/%m/%Y"}}
    built = {}
    for name in ("duckdb", "spark"):
        (tmp_path / name).mkdir()
        built[name] = load_params(params_copy(ROOT / "params" / "default.yaml", tmp_path / name, input=section,
                                              mart_dir=tmp_path / name / "mart", reference_date="2026-11-01",
                                              engine={**LOCAL, "name": name}))
        run(built[name])
    assert_same_marts(built)
    assert len(pd.read_parquet(built["spark"].mart_dir / CUSTOMERS)) > 250
