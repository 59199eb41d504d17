"""Data-quality checks, policies, and every failure path of the CLI (one line, exit 2, previous outputs kept)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from types import SimpleNamespace

import ibis
import pandas as pd
import pytest
from pandera.errors import SchemaErrors

from segmentation.cli import main
from segmentation.core.errors import InputDataError
from segmentation.mart import quality
from segmentation.mart.engine import connect
from segmentation.mart.pipeline import check_contract, run, validate_only
from segmentation.mart.store import CUSTOMERS, QUALITY, read_mart
from tests.conftest import ROOT, params_copy
from tests.customer_files import customer_file, params_for


def checks_of(review) -> dict[str, object]:
    return {c.id: c for c in review.checks}


def test_every_check_counts_its_rows_and_shows_examples(tmp_path):
    rows = [{}] * 5 + [
        {"age": ""},                                                  # nulls (drop)
        {"age": "95"},                                                # out_of_range (flag)
        {"first_purchase_date": "2025-07-01"},                        # last_before_first (drop)
        {"first_purchase_date": "2024-02-30"},                        # unparsable_dates (drop)
        {"total_spent": "-5.0"},                                      # negative_money + aov_above_total (drop)
        {"avg_order_value": "0"},                                     # aov_not_positive (drop)
        {"avg_order_value": "400.0"},                                 # aov_above_total (drop)
        {"customer_id": "10001", "age": "41"},                        # duplicate_ids (flag)
    ]
    path = customer_file(tmp_path, rows)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    pd.concat([frame, frame.iloc[[1]]]).to_csv(path, index=False)  # an exact duplicate of row 2
    params = params_for(tmp_path, path, reference_date="2025-12-01")
    review = validate_only(params, out_dir=tmp_path / "review")
    found = checks_of(review)
    assert found["nulls"].count == 1 and found["nulls"].examples[0]["input_row"] == 6
    assert found["out_of_range"].count == 1 and found["out_of_range"].action == "kept and flagged 1 row"
    assert found["last_before_first"].count == 1
    assert found["unparsable_dates"].count == 1
    assert found["negative_money"].count == 1
    assert found["aov_not_positive"].count == 1
    assert found["aov_above_total"].count == 2
    assert found["duplicate_rows"].count == 1 and found["duplicate_rows"].examples[0]["input_row"] == 14
    assert review.duplicate_ids == {"ids": 2, "rows": 4}  # 10001: rows 1 and 13; 10002: row 2 and its copy
    assert review.rows_in == 14
    dropped = {6, 8, 9, 10, 11, 12, 14}
    assert review.rows_out == review.rows_in - len(dropped)
    written = json.loads((tmp_path / "review" / QUALITY).read_text())
    assert [c["id"] for c in written["checks"]] == list(found)
    assert all("name" not in e and "email" not in e for c in written["checks"] for e in c["examples"])


def test_flagged_rows_carry_their_check_ids_into_the_mart(tmp_path):
    path = customer_file(tmp_path, [{}, {"age": "95"}, {"customer_id": "10001", "age": "41"}, {}])
    params = params_for(tmp_path, path)
    run(params)
    mart = pd.read_parquet(tmp_path / "mart" / CUSTOMERS).set_index("age")
    assert mart.loc[95, "dq_flags"] == "out_of_range"
    assert sorted(mart["dq_flags"]) == ["", "duplicate_ids", "duplicate_ids", "out_of_range"]


def test_drop_policy_can_be_changed_to_fail(tmp_path):
    path = customer_file(tmp_path, [{}, {}, {"avg_order_value": "0"}])
    params = params_for(tmp_path, path, quality={"aov_not_positive": "fail"})
    with pytest.raises(InputDataError) as err:
        run(params)
    message = str(err.value)
    assert str(path) in message and "avg_order_value" in message and "1 row (e.g. row 3)" in message


def test_policy_keep_lets_out_of_range_rows_through_without_breaking_the_contract(tmp_path):
    path = customer_file(tmp_path, [{}, {"age": "120"}])
    run(params_for(tmp_path, path, quality={"out_of_range": "flag"}))
    assert (tmp_path / "mart" / CUSTOMERS).exists()


BROKEN_PROMISES = {
    "in range": lambda t: t.mutate(age=ibis.ifelse(t.customer_id == "C000002", 120, t.age)),
    "not negative": lambda t: t.mutate(income=ibis.ifelse(t.customer_id == "C000002", -1.0, t.income)),
    "above zero": lambda t: t.mutate(avg_order_value=ibis.ifelse(t.customer_id == "C000002", 0.0, t.avg_order_value)),
    "before the reference date": lambda t: t.mutate(last_purchase_date=ibis.date(2026, 1, 1)),
    "last on or after first": lambda t: t.mutate(first_purchase_date=ibis.ifelse(
        t.customer_id == "C000002", t.last_purchase_date + ibis.interval(days=1), t.first_purchase_date)),
    "not null": lambda t: t.mutate(country=ibis.ifelse(t.customer_id == "C000002", ibis.null("string"), t.country)),
    "not NaN": lambda t: t.mutate(churn_risk=ibis.ifelse(t.customer_id == "C000002", float("nan"), t.churn_risk)),
    "its type": lambda t: t.mutate(age=t.age.cast("float64")),
    "its columns": lambda t: t.drop("income"),
}


@pytest.fixture(scope="module")
def two_customer_mart(tmp_path_factory):
    folder = tmp_path_factory.mktemp("contract")
    params = params_for(folder, customer_file(folder, [{}, {"age": "44"}]), reference_date="2025-12-01",
                        quality={"out_of_range": "drop"})  # so that the contract holds the ranges too
    run(params)
    return params


@pytest.mark.parametrize("broken", [None, *BROKEN_PROMISES])
def test_the_one_query_contract_check_agrees_with_pandera(two_customer_mart, broken):
    params = two_customer_mart
    mart = connect().read_parquet(params.mart_dir / CUSTOMERS)
    mart = BROKEN_PROMISES[broken](mart) if broken else mart
    contract = quality.validated_contract(params, dt.date(2025, 12, 1), quality.OPTIONAL_FIELDS)
    try:
        quality.pandera_schema(contract).validate(mart, lazy=True)
        pandera_passes = True
    except SchemaErrors:
        pandera_passes = False
    assert quality.contract_holds(mart, contract) is pandera_passes is (broken is None)
    if broken:  # the run stops, with pandera's account of what is broken
        review = SimpleNamespace(reference_date=dt.date(2025, 12, 1), optional=quality.OPTIONAL_FIELDS)
        with pytest.raises(RuntimeError, match="breaks the validated-fields contract"):
            check_contract(mart, params, review)


def test_a_run_that_keeps_the_contract_does_not_load_pandera(tmp_path):
    path = customer_file(tmp_path, [{}, {}])
    params_path = params_copy(ROOT / "params" / "default.yaml", tmp_path, input=path, mart_dir=tmp_path / "mart")
    code = ("import sys; from segmentation.cli import main; assert main(['run', '--params', sys.argv[1]]) == 0; "
            "print('pandera' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, str(params_path)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def cli(*args: str) -> subprocess.CompletedProcess:
    """Run the real command line in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "segmentation", *args], capture_output=True, text=True, cwd=ROOT)


def test_bad_input_is_one_line_exit_2_and_leaves_the_previous_mart(tmp_path):
    good = customer_file(tmp_path, [{}, {}, {}], name="good.csv")
    params_path = params_copy(ROOT / "params" / "default.yaml", tmp_path, input=good, mart_dir=tmp_path / "mart")
    assert cli("run", "--params", str(params_path)).returncode == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "mart").iterdir()}

    bad = customer_file(tmp_path, [{}, {"credit_score": "excellent"}, {"loyalty_points": "many"}], name="bad.csv")
    result = cli("run", "--params", str(params_path), "--input", str(bad))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    # one field at a time (the first in file order), its values and rows
    assert str(bad) in result.stderr and "field credit_score: 1 value does not parse" in result.stderr
    assert "row 2 'excellent'" in result.stderr and "loyalty_points" not in result.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "mart").iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mart-staging")]

    debug = cli("--debug", "run", "--params", str(params_path), "--input", str(bad))
    assert debug.returncode == 2 and "Traceback" in debug.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "input file not found"),
        ("customer_id,name\n1,x\n", "field(s) email, age"),
        ("", "file is empty"),
        ("\x00\x01PAR1 not really", "field(s) customer_id"),
    ],
)
def test_unreadable_input_files(tmp_path, capsys, content, expected):
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_text(content)
    params_path = params_copy(ROOT / "params" / "default.yaml", tmp_path, input=path, mart_dir=tmp_path / "mart")
    assert main(["run", "--params", str(params_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(path) in err and expected in err
    assert not (tmp_path / "mart").exists()


def test_bad_params_exit_2_with_file_and_key(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text((ROOT / "params" / "default.yaml").read_text().replace("bins: 5", "bins: 5\n  bin: 3"))
    assert main(["rules", str(path)]) == 2
    assert f"{path}: scores: unknown key 'bin'" in capsys.readouterr().err


def test_rules_command_prints_coverage(capsys):
    assert main(["rules", str(ROOT / "params" / "rfm11.yaml")]) == 0
    out = capsys.readouterr().out
    assert "125 cells" in out and "Champions" in out and "M=5" in out


def test_parquet_input_reads_like_csv(tmp_path, small_csv, small_mart):
    parquet = tmp_path / "customers.parquet"
    pd.read_csv(small_csv, dtype={"customer_id": str}).to_parquet(parquet)
    params = params_for(tmp_path, parquet)
    run(params)
    got = read_mart(params.mart_dir).customers.drop(columns=["first_purchase_date", "last_purchase_date"])
    expected = read_mart(small_mart.mart_dir).customers.drop(columns=["first_purchase_date", "last_purchase_date"])
    pd.testing.assert_frame_equal(got, expected)
