"""Hostile input: every bad value or setting ends in one `error:` line and exit code 2 with the previous mart kept,
and nothing implausible slips into a result (a stray date, an unusable number, a flagged row that cannot be kept)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from segmentation.cli import main
from segmentation.config.params import load_params
from segmentation.mart.pipeline import run
from segmentation.mart.store import CUSTOMERS, MANIFEST, QUALITY
from tests.conftest import ROOT, params_copy
from tests.customer_files import GOOD, customer_file, params_for

DEFAULT = ROOT / "params" / "default.yaml"
HEADER = ",".join(GOOD) + "\n"


@pytest.fixture(scope="module")
def previous_mart(tmp_path_factory) -> Path:
    """A mart built from six good rows: every failing case must leave a copy of it byte for byte."""
    folder = tmp_path_factory.mktemp("previous")
    run(params_for(folder, customer_file(folder, [{}] * 6)))
    return folder / "mart"


def snapshot(mart: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in mart.iterdir()}


def setup(tmp_path: Path, previous_mart: Path, rows: list[dict[str, str]] | None = None, change=None,
          **overrides) -> tuple[Path, dict[str, bytes]]:
    """A params file (default.yaml, edited by `change(raw)`) reading `rows` (a header-only file for None), whose mart
    folder holds a copy of the previous mart; returns it and the mart's bytes."""
    data = customer_file(tmp_path, rows) if rows is not None else tmp_path / "customers.csv"
    if rows is None:
        data.write_text(HEADER)
    mart = tmp_path / "mart"
    shutil.copytree(previous_mart, mart)
    path = params_copy(DEFAULT, tmp_path, input=data, mart_dir=mart, **overrides)
    if change is not None:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(raw)
        path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path, snapshot(mart)


def fails(capsys, argv: list[str], *parts: str) -> str:
    """Run the CLI; expect exit 2 and exactly one `error:` line holding every part."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for part in parts:
        assert part in err, (part, err)
    return err


def unchanged(tmp_path: Path, before: dict[str, bytes]) -> None:
    """The previous mart is byte-identical and no staging folder is left."""
    assert snapshot(tmp_path / "mart") == before
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]


def review(mart: Path) -> tuple[dict, dict]:
    found = json.loads((mart / QUALITY).read_text())
    return found, {c["id"]: c for c in found["checks"]}


# --- numbers: NaN, ±inf and absurd magnitudes are not numbers ----------------------------------------------------

@pytest.mark.parametrize(("edits", "field", "value"), [
    ({"total_spent": "nan"}, "total_spent", "'nan'"),
    ({"avg_order_value": "inf", "total_spent": "inf"}, "total_spent, avg_order_value", "'inf'"),
    ({"income": "-Infinity"}, "income", "'-Infinity'"),
    ({"total_spent": "1e20"}, "total_spent", "'1e20'"),
    ({"churn_risk": "NaN"}, "churn_risk", "'NaN'"),
    ({"loyalty_points": "9000000000000000000"}, "loyalty_points", "'9000000000000000000'"),
])
def test_unusable_numbers_stop_the_run_naming_field_row_and_value(tmp_path, capsys, previous_mart, edits, field, value):
    params, before = setup(tmp_path, previous_mart, [{}, {}, {}, edits])
    first = field.split(",")[0]  # one field at a time: the first in file order
    err = fails(capsys, ["run", "--params", str(params)], str(tmp_path / "customers.csv"),
                f"field {first}: 1 value does not parse as", f"row 4 {value}", "quality.unparsable_values: drop",
                str(params))
    assert "numbers with decimal '.' (finite, within ±1e12)" in err
    unchanged(tmp_path, before)


def test_money_beyond_the_plausible_bound_is_dropped_and_counted(tmp_path, previous_mart):
    rows = [{}, {}, {}, {"total_spent": "5000000000"}, {"income": "-2e9"}, {"avg_order_value": "0.001"},
            {"total_spent": "999999999", "avg_order_value": "999999999"}]
    params, _ = setup(tmp_path, previous_mart, rows)
    assert main(["run", "--params", str(params)]) == 0
    found, checks = review(tmp_path / "mart")
    assert checks["implausible_money"]["count"] == 3 and checks["implausible_money"]["policy"] == "drop"
    assert [e["input_row"] for e in checks["implausible_money"]["examples"]] == [4, 5, 6]
    assert found["rows_out"] == 4 and found["plausible"]["max_money"] == 1_000_000_000
    mart = pd.read_parquet(tmp_path / "mart" / CUSTOMERS)
    assert len(mart) == 4 and mart["monetary"].max() == 999999999


def test_implausible_money_with_policy_fail_names_the_bound(tmp_path, capsys, previous_mart):
    params, before = setup(tmp_path, previous_mart, [{}, {}, {"avg_order_value": "0.004"}],
                           change=lambda raw: raw["quality"].update(implausible_money="fail"))
    fails(capsys, ["run", "--params", str(params)], "field avg_order_value:", "max_money 1,000,000,000",
          "1 row (e.g. row 3)", "row 3 has avg_order_value '0.004'", "implausible_money")
    unchanged(tmp_path, before)


# --- dates: a plausible window ------------------------------------------------------------------------------------

@pytest.mark.parametrize("date", ["2099-01-01", "9999-12-31", "0001-01-01", "1899-12-31"])
def test_a_purchase_date_outside_the_window_is_dropped_and_does_not_move_the_reference_date(tmp_path, previous_mart,
                                                                                             date):
    field = "first_purchase_date" if date < "2024" else "last_purchase_date"
    params, _ = setup(tmp_path, previous_mart, [{}, {}, {}, {field: date}])
    assert main(["run", "--params", str(params)]) == 0
    found, checks = review(tmp_path / "mart")
    assert found["reference_date"] == "2025-06-02"  # the day after the latest plausible purchase (2025-06-01)
    assert checks["implausible_dates"]["count"] == 1 and checks["implausible_dates"]["policy"] == "drop"
    assert checks["implausible_dates"]["examples"][0][field] == date
    assert found["rows_out"] == 3
    assert len(pd.read_parquet(tmp_path / "mart" / CUSTOMERS)) == 3


def test_a_mart_that_left_out_a_purchase_after_today_is_rebuilt_once_that_day_has_come(tmp_path, previous_mart):
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    params, _ = setup(tmp_path, previous_mart, [{}, {}, {}, {"last_purchase_date": tomorrow}])
    first = run(load_params(params))
    assert first.manifest["first_future_day"] == tomorrow
    assert run(load_params(params)).skipped  # the day has not come
    manifest_path = tmp_path / "mart" / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["first_future_day"] = dt.date.today().isoformat()  # as if the day had come
    manifest_path.write_text(json.dumps(manifest))
    assert not run(load_params(params)).skipped


def test_a_window_set_in_the_params_does_not_wait_for_any_day(tmp_path, previous_mart):
    params, _ = setup(tmp_path, previous_mart, [{}, {}, {}, {"last_purchase_date": "2099-01-01"}],
                      change=lambda raw: raw.update(plausible={"latest_date": "2030-12-31"}))
    assert run(load_params(params)).manifest["first_future_day"] is None


def test_the_date_window_comes_from_the_params(tmp_path, capsys, previous_mart):
    window = {"earliest_date": "2024-02-01", "latest_date": "2025-12-31"}
    params, before = setup(tmp_path, previous_mart, [{}, {}, {}, {"last_purchase_date": "2026-01-15"}],
                           change=lambda raw: (raw.update(plausible=window),
                                               raw["quality"].update(implausible_dates="fail")))
    # every row's first purchase (2024-01-10) is before the window: one line, naming the window and the rows
    fails(capsys, ["run", "--params", str(params)], "field first_purchase_date, last_purchase_date:",
          "[2024-02-01 to 2025-12-31]", "4 rows (e.g. row 1, 2, 3, 4)", "row 1 has first_purchase_date '2024-01-10'",
          "implausible_dates")
    unchanged(tmp_path, before)


def test_no_plausible_last_purchase_means_no_reference_date(tmp_path, capsys, previous_mart):
    params, before = setup(tmp_path, previous_mart, [{"last_purchase_date": "2099-01-01"}] * 3)
    fails(capsys, ["run", "--params", str(params)], "field last_purchase_date:", "none of the 3 rows",
          "between 1900-01-01 and", "set reference_date", str(params))
    unchanged(tmp_path, before)


# --- zero rows left ---------------------------------------------------------------------------------------------

def test_a_header_only_file_is_one_line(tmp_path, capsys, previous_mart):
    params, before = setup(tmp_path, previous_mart, None)
    fails(capsys, ["run", "--params", str(params)], str(tmp_path / "customers.csv"), "no data rows")
    unchanged(tmp_path, before)


def test_a_header_only_file_with_a_reference_date_is_one_line(tmp_path, capsys, previous_mart):
    params, before = setup(tmp_path, previous_mart, None, reference_date="2026-01-01")
    fails(capsys, ["validate", "--params", str(params)], str(tmp_path / "customers.csv"), "no data rows")
    unchanged(tmp_path, before)


def test_every_date_unparsable_names_the_check_that_removed_the_rows(tmp_path, capsys, previous_mart):
    params, before = setup(tmp_path, previous_mart, [{"first_purchase_date": "soon"}] * 3)
    fails(capsys, ["run", "--params", str(params)], str(tmp_path / "customers.csv"),
          "no customer left after the data-quality checks", "3 rows in", "unparsable_dates dropped 3 rows",
          f"change those checks' policies in {params}")
    unchanged(tmp_path, before)


def test_a_reference_date_before_every_purchase_says_so(tmp_path, capsys, previous_mart):
    # a date that leaves out every customer stops at max_excluded_by_reference (tests/mart/test_reference_date.py);
    # allowed all of them, it leaves no one
    params, before = setup(tmp_path, previous_mart, [{}] * 3, reference_date="2000-01-01", max_excluded_by_reference=1)
    fails(capsys, ["run", "--params", str(params)], "no customer left", "dates_after_reference dropped 3 rows",
          f"set a reference_date later than 2000-01-01 in {params}")
    unchanged(tmp_path, before)


# --- flag: keeps the row and the types, or is refused when the params are read ----------------------------------

REFUSED = {"nulls", "unparsable_values", "unparsable_dates", "implausible_dates", "implausible_money",
           "aov_not_positive"}
TRIGGERS = {  # a row that fails the check (and, as far as possible, only it)
    "nulls": {"total_spent": ""},
    "unparsable_values": {"credit_score": "excellent"},
    "unparsable_dates": {"first_purchase_date": "2024-02-30"},
    "implausible_dates": {"first_purchase_date": "1850-01-01"},
    "out_of_range": {"age": "95"},
    "last_before_first": {"first_purchase_date": "2025-05-01", "last_purchase_date": "2025-04-01"},
    "dates_after_reference": {"last_purchase_date": "2025-07-01"},
    "negative_money": {"income": "-5.0"},
    "implausible_money": {"income": "5000000000"},
    "aov_not_positive": {"avg_order_value": "0"},
    "aov_above_total": {"avg_order_value": "400.0"},
    "duplicate_ids": {"customer_id": "10001", "age": "41"},
    "duplicate_rows": {"customer_id": "10001"},  # an exact copy of row 1
}


@pytest.mark.parametrize("check", sorted(TRIGGERS))
def test_flag_keeps_the_row_with_whole_scores_or_is_refused_at_load(tmp_path, capsys, previous_mart, check):
    params, before = setup(tmp_path, previous_mart, [{}, {}, {}, TRIGGERS[check]], reference_date="2025-06-02",
                           change=lambda raw: raw["quality"].update({check: "flag"}))
    if check in REFUSED:
        fails(capsys, ["run", "--params", str(params)], str(params),
              f"quality: key '{check}' must be one of fail, drop (", "got 'flag'")
        unchanged(tmp_path, before)
        return
    assert main(["run", "--params", str(params)]) == 0
    found, checks = review(tmp_path / "mart")
    assert checks[check]["count"] >= 1 and checks[check]["policy"] == "flag"
    mart = pd.read_parquet(tmp_path / "mart" / CUSTOMERS)
    assert len(mart) == found["rows_out"] == found["rows_in"] == 4
    assert mart["dq_flags"].str.contains(check).sum() >= 1
    for column in ("r_score", "f_score", "m_score", "frequency", "recency_days"):
        assert mart[column].dtype == "int64", column


# --- params ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "parts"), [
    (lambda raw: raw["premium"].update(confidence="high"), ["premium: key 'confidence' must be a number in [0.5, 1)",
                                                            "got 'high'"]),
    (lambda raw: raw["premium"].update(confidence=None), ["premium: key 'confidence' must be a number", "got None"]),
    (lambda raw: raw["premium"].update(confidence="0.95"), ["write it unquoted", "got '0.95'"]),
    (lambda raw: raw["premium"].update(confidence=1), ["premium: key 'confidence' must be a number in [0.5, 1)"]),
    (lambda raw: raw["premium"].update(bootstrap_samples=0), ["premium: key 'bootstrap_samples' must be between 1",
                                                              "got 0"]),
    (lambda raw: raw["premium"].update(bootstrap_samples=-3), ["key 'bootstrap_samples'", "got -3"]),
    (lambda raw: raw["premium"].update(seed=-1), ["premium: key 'seed' must be a whole number ≥ 0"]),
    (lambda raw: raw["segments"][0].update(color="#zzzzzz"), ["segment 'top': key 'color' must be a hex colour",
                                                              "or a CSS colour name", "got '#zzzzzz'"]),
    (lambda raw: raw["segments"][1].update(color="tab:blue"), ["segment 'at_risk': key 'color'", "got 'tab:blue'"]),
    (lambda raw: raw["fallback"].update(color="red; background: url(x)"), ["segment 'steady': key 'color'"]),
    (lambda raw: raw.update(plausible={"max_money": "1e9"}), ["plausible: key 'max_money' must be a number",
                                                              "1.0e+9", "got '1e9'"]),
    (lambda raw: raw.update(plausible={"max_money": 1e15}), ["plausible: key 'max_money'", "at most 1e12"]),
    (lambda raw: raw.update(plausible={"latest_date": "2020-01-01", "earliest_date": "2021-01-01"}),
     ["plausible: key 'latest_date' 2020-01-01 is before earliest_date 2021-01-01"]),
    (lambda raw: raw.update(plausible={"earliest": "2021-01-01"}), ["plausible: unknown key 'earliest'"]),
    (lambda raw: raw["quality"].update(order_implausible="flag"),
     ["quality: key 'order_implausible' must be one of fail, drop"]),
])
def test_bad_params_are_one_line_at_load(tmp_path, capsys, previous_mart, change, parts):
    params, before = setup(tmp_path, previous_mart, [{}] * 3, change=change)
    fails(capsys, ["run", "--params", str(params)], str(params), *parts)
    unchanged(tmp_path, before)


def test_params_that_are_not_utf8_name_the_byte(tmp_path, capsys, previous_mart):
    params, before = setup(tmp_path, previous_mart, [{}] * 3)
    text = params.read_bytes()
    params.write_bytes(text.replace(b"title: ", b"title: Caf\xe9 ", 1))
    at = text.index(b"title: ") + len(b"title: Caf")
    line = text[:at].count(b"\n") + 1
    fails(capsys, ["run", "--params", str(params)], str(params), "not UTF-8",
          f"byte 0xe9 at byte position {at} (line {line})", "save the file as UTF-8")
    unchanged(tmp_path, before)


@pytest.mark.parametrize(("written", "used"), [("#07b", "#0077bb"), ("SteelBlue", "#4682B4"), ("#0072b2", "#0072b2")])
def test_short_hex_and_css_colour_names_are_spelled_out(tmp_path, previous_mart, written, used):
    params, _ = setup(tmp_path, previous_mart, [{}] * 3, change=lambda raw: raw["segments"][0].update(color=written))
    assert load_params(params).segment("top").color == used  # what the report, dashboard and summary get


# --- orders -------------------------------------------------------------------------------------------------------

ORDERS = "order_id,customer_id,order_date,order_value\n1,A,2026-01-05,10.00\n2,B,2026-02-10,100.00\n"


def orders_setup(tmp_path: Path, previous_mart: Path, text: str, **overrides) -> tuple[Path, dict[str, bytes]]:
    orders = tmp_path / "orders.csv"
    orders.write_text(text)
    mart = tmp_path / "mart"
    shutil.copytree(previous_mart, mart)
    settings = {"reference_date": "2026-04-01", **overrides}
    path = params_copy(DEFAULT, tmp_path, input=None, transactions={"path": str(orders)}, mart_dir=mart, **settings)
    return path, snapshot(mart)


@pytest.mark.parametrize("value", ["nan", "-inf", "1e20"])
def test_unusable_order_values_stop_the_run(tmp_path, capsys, previous_mart, value):
    params, before = orders_setup(tmp_path, previous_mart, ORDERS + f"3,A,2026-02-01,{value}\n")
    fails(capsys, ["run", "--params", str(params)], str(tmp_path / "orders.csv"),
          "field order_value: 1 value does not parse as numbers", f"row 3 '{value}'", "order_unparsable")
    unchanged(tmp_path, before)


def test_implausible_orders_are_dropped_and_counted(tmp_path, previous_mart):
    params, _ = orders_setup(tmp_path, previous_mart, ORDERS + "3,A,2026-02-01,5000000000\n4,B,0001-01-01,5.00\n",
                             reference_date=None)
    assert main(["run", "--params", str(params)]) == 0
    found, checks = review(tmp_path / "mart")
    assert checks["order_implausible"]["count"] == 2
    assert [e["input_row"] for e in checks["order_implausible"]["examples"]] == [3, 4]
    mart = pd.read_parquet(tmp_path / "mart" / CUSTOMERS).set_index("source_customer_id")
    assert mart.loc["A", "monetary"] == 10.0 and str(mart.loc["B", "first_purchase_date"])[:10] == "2026-02-10"
    assert found["reference_date"] == "2026-02-11"


@pytest.mark.parametrize(("text", "overrides", "parts"), [
    ("order_id,customer_id,order_date,order_value\n", {}, ["no order rows"]),
    ("order_id,customer_id,order_date,order_value\n", {"reference_date": None}, ["no order rows"]),
    (ORDERS, {"reference_date": "2020-01-01", "max_excluded_by_reference": 1},
     ["no customer left", "orders_after_reference dropped 2 rows", "set a reference_date later than 2020-01-01"]),
    ("order_id,customer_id,order_date,order_value\n1,A,2026-01-05,0\n", {"reference_date": None},
     ["no order passes the data-quality checks", "order_value_not_positive dropped 1 row"]),
])
def test_no_order_left_is_one_line(tmp_path, capsys, previous_mart, text, overrides, parts):
    params, before = orders_setup(tmp_path, previous_mart, text, **overrides)
    fails(capsys, ["run", "--params", str(params)], str(tmp_path / "orders.csv"), *parts)
    unchanged(tmp_path, before)
