"""Transaction input: orders rolled up per customer, their data-quality review, bad input, and migration as of a day."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest

from segmentation.config.params import load_params
from segmentation.core.errors import InputDataError
from segmentation.mart.pipeline import run
from segmentation.migration import MIGRATION, as_of_dir, command_hint, migrate_as_of
from segmentation.report import insights as insight_words
from segmentation.report.build import ReportLayout
from segmentation.words.formatting import Money
from tests.conftest import ROOT, params_copy

CUSTOMER_HEADER = ("customer_id,name,email,age,gender,city,country,income,credit_score,loyalty_points,"
                   "first_purchase_date,last_purchase_date,total_spent,avg_order_value,favorite_category,"
                   "device_type,churn_risk,subscription,marketing_opt_in,support_tickets")
ORDERS = """order_id,customer_id,order_date,order_value,quantity
1,A,2026-01-05,10.00,1
1,A,2026-01-05,5.50,2
2,A,2026-03-01,20.25,1
3,B,2026-02-10,100.00,1
4,C,2025-12-01,7.10,1
5,C,2026-03-30,7.10,1
6,D,2026-03-15,42.00,3
"""


def customer_row(cid: str, age: int, subscription: bool) -> str:
    """One customer-file row; its purchase fields are deliberately wrong: orders replace them."""
    return (f"{cid},Name {cid},{cid.lower()}@example.com,{age},Female,Leeds,United Kingdom,50000.0,700,10,"
            f"2020-01-01,2020-01-02,1.0,1.0,Books,Mobile,0.2,{subscription},True,0")


def write_customers(path: Path, ids=("A", "B", "C", "D")) -> Path:
    """A small customer file with the given ids."""
    rows = [customer_row(cid, 30 + i, i % 2 == 0) for i, cid in enumerate(ids)]
    path.write_text("\n".join([CUSTOMER_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def tx_params(folder: Path, orders, customers: Path | None, **overrides):
    """Params (a copy of the default) reading `orders`, with attributes from `customers` (or none)."""
    settings = {"reference_date": "2026-04-01", **overrides}
    path = params_copy(ROOT / "params" / "default.yaml", folder, input=customers,
                       transactions={"path": str(orders)}, mart_dir=folder / "mart", **settings)
    return load_params(path)


def mart_frame(params) -> pd.DataFrame:
    """The mart's customers, indexed by the orders' customer id."""
    return pd.read_parquet(params.mart_dir / "customer_segments.parquet").set_index("source_customer_id")


def checks_by_id(params) -> dict[str, dict]:
    """data_quality.json's checks by id."""
    quality = json.loads((params.mart_dir / "data_quality.json").read_text())
    return {c["id"]: c for c in quality["checks"]}


def cli(*args: str) -> subprocess.CompletedProcess:
    """Run the command line as a user would."""
    return subprocess.run([sys.executable, "-m", "segmentation", *args], capture_output=True, text=True, cwd=ROOT,
                          check=False)


def test_orders_roll_up_into_purchases_with_the_customer_files_attributes(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS)
    params = tx_params(tmp_path, orders, write_customers(tmp_path / "customers.csv"))
    run(params)
    mart = mart_frame(params)
    a = mart.loc["A"]
    assert a.frequency == 2  # two lines of order 1 are one order
    assert a.monetary == pytest.approx(35.75) and a.total_spent == pytest.approx(35.75)
    assert a.avg_order_value == pytest.approx(35.75 / 2)
    assert str(a.first_purchase_date)[:10] == "2026-01-05" and str(a.last_purchase_date)[:10] == "2026-03-01"
    assert a.recency_days == 31 and a.age == 30  # attributes come from the customer file
    assert mart.loc["C"].frequency == 2 and mart.loc["D"].monetary == 42.0
    manifest = json.loads((params.mart_dir / "manifest.json").read_text())
    assert manifest["transactions"]["rows_in"] == 7 and manifest["transactions"]["frequency"] == "orders"
    assert manifest["rows"]["mart"] == 4


def test_without_order_ids_frequency_counts_purchase_days_and_attributes_stay_empty(tmp_path):
    frame = pd.read_csv(pd.io.common.StringIO(ORDERS)).drop(columns="order_id")
    orders = tmp_path / "orders.csv"
    frame.to_csv(orders, index=False)
    params = tx_params(tmp_path, orders, None)
    run(params)
    mart = mart_frame(params)
    assert mart.loc["A"].frequency == 2  # 2026-01-05 (two lines) and 2026-03-01
    assert mart["age"].isna().all() and mart["country"].isna().all()
    summary = pd.read_parquet(params.mart_dir / "segment_summary.parquet")
    assert summary["premium_rate"].isna().all() and summary["opt_in_rate"].isna().all()  # unknown, not 0%
    assert summary["avg_monetary"].notna().any()
    insights = json.loads((params.mart_dir / "insights.json").read_text())["insights"]
    uplift = next(i for i in insights if i["id"] == "premium_uplift")
    assert uplift["numbers"]["customers_with_known_status"] == 0 and uplift["numbers"]["monetary"]["ratio"] is None
    assert "not measured" in insight_words.sentence(uplift, Money.of("USD"))
    assert json.loads((params.mart_dir / "data_quality.json").read_text())["orders"]["frequency"] == "days"


def test_bad_orders_are_counted_named_and_left_out(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS + "7,A,2026-02-01,0,1\n8,B,2026-02-01,-3.00,1\n9,B,2999-01-01,5.00,1\n"
                      "10,Z,2026-02-01,9.00,1\n11,,2026-02-01,9.00,1\n12,C,2026-05-01,9.00,1\n")
    # the reference date alone leaves out 1 of the 9 orders the other checks pass: allowed here
    params = tx_params(tmp_path, orders, write_customers(tmp_path / "customers.csv"), max_excluded_by_reference=0.2)
    run(params)
    found = checks_by_id(params)
    assert found["order_value_not_positive"]["count"] == 1  # the zero; the negative value is a return, netted
    assert [e["input_row"] for e in found["order_value_not_positive"]["examples"]] == [8]
    assert found["order_date_in_future"]["count"] == 1
    assert found["orders_after_reference"]["count"] == 2  # 2999-01-01 and 2026-05-01 (reference 2026-04-01)
    assert found["unknown_customers"]["count"] == 1 and found["order_nulls"]["count"] == 1
    mart = mart_frame(params)
    assert "Z" not in mart.index
    assert mart.loc["A"].monetary == pytest.approx(35.75) and mart.loc["B"].monetary == pytest.approx(97.0)
    returns = json.loads((params.mart_dir / "data_quality.json").read_text())["orders"]["returns"]
    assert (returns["policy"], returns["rows"], returns["customers"], returns["value"]) == ("net", 1, 1, 3.0)


def test_unparsable_order_value_stops_with_one_line_and_keeps_the_previous_mart(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS)
    params = tx_params(tmp_path, orders, None)
    run(params)
    before = (params.mart_dir / "customer_segments.parquet").read_bytes()
    orders.write_text(ORDERS + "13,A,2026-02-01,twelve,1\n")
    done = cli("run", "--params", str(params.path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert str(orders) in done.stderr and "order_value" in done.stderr and "row 8" in done.stderr
    assert (params.mart_dir / "customer_segments.parquet").read_bytes() == before


@pytest.mark.parametrize("content, words", [
    ("customer_id,order_date\nA,2026-01-01\n", "field(s) order_value missing"),
    ("", "file is empty"),
])
def test_unusable_orders_files_fail_with_one_line(tmp_path, content, words):
    orders = tmp_path / "orders.csv"
    orders.write_text(content)
    done = cli("run", "--params", str(tx_params(tmp_path, orders, None).path))
    assert done.returncode == 2 and words in done.stderr and str(orders) in done.stderr
    assert not (tmp_path / "mart").exists()


def test_missing_orders_and_repeated_customer_ids_are_refused(tmp_path):
    with pytest.raises(InputDataError, match="orders table not found"):
        run(tx_params(tmp_path, tmp_path / "nowhere" / "*.parquet", None))
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS)
    customers = write_customers(tmp_path / "customers.csv", ids=("A", "B", "C", "D", "B"))
    with pytest.raises(InputDataError, match=r"customer_id: 1 customer id\(s\) used by more than one row in 2 rows"):
        run(tx_params(tmp_path, orders, customers))


def test_a_folder_or_glob_of_parquet_files_gives_the_same_mart_as_one_csv(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS)
    customers = write_customers(tmp_path / "customers.csv")
    (tmp_path / "single").mkdir()
    single = tx_params(tmp_path / "single", orders, customers)
    run(single)
    table = pa.csv.read_csv(orders, convert_options=pa.csv.ConvertOptions(
        column_types={"order_id": pa.string(), "customer_id": pa.string(), "order_date": pa.date32()}))
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(table.slice(0, 3), parts / "part-0.parquet")
    pq.write_table(table.slice(3), parts / "part-1.parquet")
    for name, where in (("folder", parts), ("glob", parts / "part-*.parquet")):
        (tmp_path / name).mkdir()
        params = tx_params(tmp_path / name, where, customers)
        run(params)
        pd.testing.assert_frame_equal(mart_frame(params), mart_frame(single))


def test_migration_since_a_day_matches_an_independent_count(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS + "14,E,2026-03-20,300.00,1\n")
    params = tx_params(tmp_path, orders, None)
    flows = migrate_as_of(params, pd.Timestamp("2026-01-31").date())
    before_dir = as_of_dir(params.mart_dir, pd.Timestamp("2026-01-31").date())
    before = pd.read_parquet(before_dir / "customer_segments.parquet")
    after = pd.read_parquet(params.mart_dir / "customer_segments.parquet")
    # the earlier mart counts only orders up to that day
    raw = pd.read_csv(orders, dtype={"customer_id": str}, parse_dates=["order_date"])
    upto = raw[raw.order_date <= "2026-01-31"].groupby("customer_id").order_value.sum()
    assert before.set_index("source_customer_id").monetary.sort_index().tolist() == pytest.approx(upto.tolist())
    merged = before.merge(after, on="source_customer_id", how="outer", suffixes=("_b", "_a"))
    expected = merged.fillna({"segment_id_b": "__new__", "segment_id_a": "__lapsed__"}).groupby(
        ["segment_id_b", "segment_id_a"]).size()
    got = flows[flows.customers > 0].set_index(["from_segment_id", "to_segment_id"]).customers
    assert got.sort_index().to_dict() == expected.sort_index().to_dict()
    assert got.loc[("__new__", slice(None))].sum() == 3  # B, D and E bought first after 2026-01-31
    assert (params.mart_dir / MIGRATION).is_file()
    assert command_hint(params.mart_dir) == f"python -m segmentation migrate --params {params.path} --since YYYY-MM-DD"


def test_since_needs_transactions_and_an_earlier_day(tmp_path, small_mart):
    done = cli("migrate", "--params", str(small_mart.path), "--since", "2026-01-01")
    assert done.returncode == 2 and "--since needs transaction input" in done.stderr
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS)
    done = cli("migrate", "--params", str(tx_params(tmp_path, orders, None).path), "--since", "2026-03-31")
    assert done.returncode == 2 and "is not before the mart's last counted day" in done.stderr


@pytest.mark.slow
def test_report_from_orders_alone_builds_with_a_migration_chapter_and_no_invented_attributes(tmp_path):
    import nbformat

    from segmentation.report.build import build_report

    cdnow = ROOT / "tests" / "fixtures" / "cdnow" / "cdnow_orders.csv.gz"
    params = load_params(params_copy(ROOT / "params" / "default.yaml", tmp_path, input=None,
                                     transactions={"path": str(cdnow), "since": "1997-12-31"},
                                     mart_dir=tmp_path / "mart", reference_date="1998-07-01"))
    migrate_as_of(params, params.transactions.since)
    paths = build_report(params, progress=lambda _line: None, root=tmp_path)
    chapters = sorted(ReportLayout(tmp_path, params.name).chapters_dir.glob("*.ipynb"))
    assert any("migration" in p.stem for p in chapters)
    for path in chapters:
        outputs = [o for cell in nbformat.read(path, as_version=4).cells for o in cell.get("outputs", [])]
        assert not [o for o in outputs if o.output_type == "error"], path.name
    pages = " ".join(p.read_text(encoding="utf-8") for p in paths.site_index.parent.rglob("*.html"))
    assert "What changed since" in pages and "This data has no age, gender, income" in pages
    assert "are premium subscribers" not in pages and "opted in to marketing," not in pages
    for meaningless in ("0.00 vs 0.00", "0% vs 0%", "known status", "Premium share", "Marketing opt-in",
                        "Demographics of"):
        assert meaningless not in pages, meaningless
    assert paths.pdf.stat().st_size > 0


def test_dashboard_serves_a_mart_built_from_orders_alone(tmp_path):
    from segmentation.dashboard import data as d
    from segmentation.dashboard.filters import YES, Filters

    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS)
    params = tx_params(tmp_path, orders, None)
    run(params)
    data = d.load_dashboard_data(params.mart_dir)
    assert data.customers == 4 and data.dimensions["gender"].labels == ("Unknown",)
    assert data.mask(Filters()).sum() == 4
    assert data.mask(Filters(premium=YES)).sum() == 0  # unknown subscription never passes "premium = yes"
    assert data.mask(Filters(gender=("Unknown",))).sum() == 4


def test_reruns_are_byte_identical_and_a_changed_orders_file_rebuilds(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS)
    params = tx_params(tmp_path, orders, write_customers(tmp_path / "customers.csv"))
    outputs = ("customer_segments.parquet", "segment_summary.parquet", "insights.json", "data_quality.json")
    run(params)
    first = {name: (params.mart_dir / name).read_bytes() for name in outputs}
    assert run(params).skipped
    run(params, force=True)
    assert {name: (params.mart_dir / name).read_bytes() for name in outputs} == first
    orders.write_text(ORDERS + "15,B,2026-03-31,1.00,1\n")
    assert not run(params).skipped
    assert mart_frame(params).loc["B"].frequency == 2


def test_validate_command_reviews_the_orders_too(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS + "16,A,2026-02-01,0,1\n")
    done = cli("validate", "--params", str(tx_params(tmp_path, orders, None).path), "--out", str(tmp_path / "review"))
    assert done.returncode == 0, done.stderr
    assert "order_value_not_positive drop          1" in done.stdout


def test_a_mart_that_left_out_future_orders_is_rebuilt_once_their_day_has_come(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS + "17,B,2999-01-01,5.00,1\n")
    params = tx_params(tmp_path, orders, None, reference_date=None)
    run(params)
    manifest_path = params.mart_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["transactions"]["first_future_day"] == manifest["first_future_day"] == "2999-01-01"
    assert manifest["reference_date"] == "2026-03-31"  # the day after the latest order that counts
    assert run(params).skipped  # same input, and the future day has not come
    manifest["first_future_day"] = "2000-01-01"  # as if that day had come
    manifest_path.write_text(json.dumps(manifest))
    assert not run(params).skipped


def test_an_empty_customer_id_in_typed_parquet_is_an_empty_field_as_in_csv(tmp_path):
    import datetime as dt

    orders = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"customer_id": ["A", "", "B"], "order_date": [dt.date(2026, 1, 1)] * 3,
                             "order_value": [1.0, 2.0, 3.0]}), orders)
    params = tx_params(tmp_path, orders, None)
    run(params)
    assert checks_by_id(params)["order_nulls"]["count"] == 1
    assert sorted(mart_frame(params).index) == ["A", "B"]
