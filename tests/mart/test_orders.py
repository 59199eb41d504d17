"""Real store exports through the orders stage: column mapping, quantity × unit price, formats and their errors,
returns (net or drop) and attributes from the orders, checked against an independent pandas computation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.config.params import load_params
from segmentation.core.errors import InputDataError
from segmentation.mart.pipeline import run
from tests.conftest import ROOT, params_copy

# An Online-Retail-II-like export: several lines per invoice, a "C" invoice with negative quantity, a Price 0 line,
# an empty id, float-looking ids with spaces, date-times, a customer with only a return, one netted to zero.
RETAIL_HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"
RETAIL_ROWS = [
    "489434,85048,LIGHT,12,2009-12-01 07:45:00,6.95,13085.0,United Kingdom",
    "489434,79323P,PINK,12,2009-12-01 07:45:00,6.75,13085.0,United Kingdom",
    "489435,22350,CAT,12,2009-12-01 07:46:00,2.55,13085.0,United Kingdom",
    "489436,21523,MAT,10,2009-12-01 09:06:00,5.95,13078.0,United Kingdom",
    "489437,22143,BAG,6,2009-12-02 09:08:00,2.10,15362.0,United Kingdom",
    "489437,POST,POSTAGE,1,2009-12-02 09:08:00,0.00,15362.0,United Kingdom",
    "C489449,22087,PAPER,-12,2009-12-03 10:33:00,2.95,13085.0,United Kingdom",
    "489450,21871,SIGN,8,2009-12-04 10:00:00,1.25,,United Kingdom",
    "489451,22111,CUP,3,2009-12-05 11:00:00,4.25, 17850.0 ,France",
    "489452,22112,CUP,1,2009-12-06 12:00:00,3.00,17850,France",
    "489453,22113,MUG,2,2009-12-07 12:00:00,1.50,17850.0,United Kingdom",
    "C489454,22114,MAT,-5,2009-12-08 12:00:00,10.00,13078.0,United Kingdom",
    "C489455,22115,LAMP,-1,2009-12-08 13:00:00,20.00,15999.0,Germany",
    "489456,22116,LAMP,1,2009-12-09 10:00:00,5.00,16000.0,Germany",
    "C489457,22116,LAMP,-1,2009-12-10 10:00:00,5.00,16000.0,Germany",
    "489458,22117,BELL,4,2009-12-11 10:00:00,1.00,12346.0,Spain",
    "489459,22117,BELL,4,2009-12-12 10:00:00,1.00,12346.0,Portugal",
]
RETAIL_COLUMNS = {"customer_id": "Customer ID", "order_date": "InvoiceDate", "order_id": "Invoice",
                  "order_value": {"quantity": "Quantity", "unit_price": "Price"}, "country": "Country",
                  "favorite_category": "Description"}
REFERENCE = "2009-12-31"


def write(path: Path, header: str, rows: list[str], sep: str = ",") -> Path:
    """A text file of a header and rows (commas replaced by `sep`)."""
    path.write_text("\n".join([header, *rows]).replace(",", sep) + "\n", encoding="utf-8")
    return path


def orders_params(folder: Path, orders: Path, reference_date: str = REFERENCE, **transactions) -> object:
    """Params (a copy of the default, no customer file) reading `orders` with the given transactions keys."""
    path = params_copy(ROOT / "params" / "default.yaml", folder, input=None, mart_dir=folder / "mart",
                       transactions={"path": str(orders), **transactions}, reference_date=reference_date)
    return load_params(path)


def retail_params(folder: Path, orders: Path | None = None, **transactions) -> object:
    """The Online-Retail-like export with its mapping; `transactions` adds or replaces keys."""
    orders = orders or write(folder / "online_retail.csv", RETAIL_HEADER, RETAIL_ROWS)
    settings = {"columns": RETAIL_COLUMNS, "format": {"date_format": "%Y-%m-%d %H:%M:%S"},
                "returns": {"order_id_pattern": "^C"}, **transactions}
    return orders_params(folder, orders, **settings)


def mart(params) -> pd.DataFrame:
    return pd.read_parquet(params.mart_dir / "customer_segments.parquet").set_index("source_customer_id")


def quality(params) -> dict:
    return json.loads((params.mart_dir / "data_quality.json").read_text(encoding="utf-8"))


def independent(frame: pd.DataFrame, returns: str = "net") -> pd.DataFrame:
    """Per-customer revenue, frequency and first/last purchase from an Online-Retail-like frame, in plain pandas:
    ids normalised, value = quantity × price, returns = "C" invoices or negative quantity, netted (or dropped),
    zero-value lines left out, customers kept when they have a purchase and a positive net value."""
    frame = frame.copy()
    ids = frame["Customer ID"].astype("string").str.strip()
    ids = ids.where(~ids.str.fullmatch(r"\d+\.0+").fillna(False), ids.str.split(".").str[0])
    frame["customer"] = ids.replace("", pd.NA)
    frame = frame.dropna(subset=["customer"])
    frame["cents"] = (frame["Quantity"] * frame["Price"] * 100).round().astype("int64")
    frame["day"] = pd.to_datetime(frame["InvoiceDate"]).dt.normalize()
    is_return = frame["Invoice"].astype(str).str.startswith("C") | (frame["Quantity"] < 0)
    purchases = frame[~is_return & (frame["cents"] > 0)]
    per = purchases.groupby("customer").agg(first=("day", "min"), last=("day", "max"),
                                             frequency=("Invoice", "nunique"), cents=("cents", "sum"))
    if returns == "net":
        netted = frame[is_return].groupby("customer")["cents"].sum()
        per["cents"] = per["cents"].add(-netted.abs().reindex(per.index, fill_value=0))
    return per[per["cents"] > 0]


def test_the_mapped_export_gives_the_independently_computed_net_purchases(tmp_path):
    params = retail_params(tmp_path)
    run(params)
    got = mart(params)
    frame = pd.read_csv(tmp_path / "online_retail.csv", dtype={"Customer ID": str}, keep_default_na=False)
    expected = independent(frame)
    assert sorted(got.index) == sorted(expected.index) == ["12346", "13078", "13085", "15362", "17850"]
    for customer, row in expected.iterrows():
        assert round(got.loc[customer, "monetary"] * 100) == row["cents"], customer
        assert got.loc[customer, "frequency"] == row["frequency"], customer
        assert pd.Timestamp(got.loc[customer, "first_purchase_date"]) == row["first"], customer
        assert pd.Timestamp(got.loc[customer, "last_purchase_date"]) == row["last"], customer
    assert got.loc["13078", "monetary"] == pytest.approx(59.5 - 50.0)  # the return is netted
    assert got.loc["13085", "frequency"] == 2  # two invoices; the "C" invoice is no visit


def test_data_quality_states_what_the_returns_did(tmp_path):
    params = retail_params(tmp_path)
    run(params)
    found = quality(params)
    returns = found["orders"]["returns"]
    assert returns == {"policy": "net", "order_id_pattern": "^C", "rows": 4, "customers": 4,
                       "value": pytest.approx(35.4 + 50.0 + 20.0 + 5.0), "customers_not_positive": 2}
    checks = {c["id"]: c for c in found["checks"]}
    assert checks["order_value_not_positive"]["count"] == 1  # the Price 0 line, not the returns
    assert checks["order_nulls"]["count"] == 1  # the empty id
    assert found["orders"]["rows_in"] == len(RETAIL_ROWS)
    assert found["orders"]["attributes"] == ["country", "favorite_category"]
    # 15999 (only a return) and 16000 (netted to zero) are rolled up, then dropped by the customer checks
    assert found["rows_in"] == 7 and found["rows_out"] == 5


def test_drop_leaves_returns_out_and_counts_them(tmp_path):
    params = retail_params(tmp_path, returns={"policy": "drop", "order_id_pattern": "^C"})
    run(params)
    got = mart(params)
    frame = pd.read_csv(tmp_path / "online_retail.csv", dtype={"Customer ID": str}, keep_default_na=False)
    expected = independent(frame, returns="drop")
    assert sorted(got.index) == sorted(expected.index)
    assert got.loc["13078", "monetary"] == pytest.approx(59.5) and "16000" in got.index
    returns = quality(params)["orders"]["returns"]
    assert (returns["policy"], returns["rows"], returns["customers"]) == ("drop", 4, 4)
    assert returns["customers_not_positive"] == 0 and quality(params)["orders"]["rows_out"] == 11


def test_without_a_pattern_negative_quantities_are_the_returns(tmp_path):
    params = retail_params(tmp_path, returns={})
    run(params)
    assert quality(params)["orders"]["returns"]["rows"] == 4  # every "C" line has a negative quantity
    assert mart(params).loc["13078", "monetary"] == pytest.approx(9.5)


def test_attributes_are_each_customers_most_frequent_value_ties_alphabetical(tmp_path):
    params = retail_params(tmp_path)
    run(params)
    got = mart(params)
    assert got.loc["17850", "country"] == "France"  # France twice, United Kingdom once
    assert got.loc["12346", "country"] == "Portugal"  # Spain once, Portugal once: alphabetically first
    assert got.loc["13085", "favorite_category"] == "CAT"  # the three purchase lines tie; the return is not bought
    assert got.loc["17850", "favorite_category"] == "CUP"
    assert got.loc["17850", "country_iso3"] == "FRA"
    assert got["age"].isna().all()  # unmapped attributes stay unknown


def test_a_value_column_and_ids_written_as_floats(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text("Kunde;Datum;Betrag\n17850.0;31/12/2010;1.234,56\n 42 ;1/2/2011;19,60\n"
                      "42;02/02/2011 10:00;1.006,00\n", encoding="utf-8")
    params = orders_params(tmp_path, orders, "2011-03-01",
                           columns={"customer_id": "Kunde", "order_date": "Datum", "order_value": "Betrag"},
                           format={"separator": ";", "date_format": "%d/%m/%Y", "decimal": ",", "thousands": "."})
    run(params)
    got = mart(params)
    assert sorted(got.index) == ["17850", "42"]
    assert got.loc["17850", "monetary"] == pytest.approx(1234.56)
    assert got.loc["42", "monetary"] == pytest.approx(19.60 + 1006.00) and got.loc["42", "frequency"] == 2
    assert str(got.loc["42", "last_purchase_date"])[:10] == "2011-02-02"


# --- errors: one line, exit code 2, the field, its values and rows, the fix ------------------------------------------


def cli_run(params) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "segmentation", "run", "--params", str(params.path)],
                          capture_output=True, text=True, cwd=ROOT, check=False)


def failing(tmp_path, rows, **transactions) -> str:
    """The one-line error of a run over `rows` (header customer_id,order_date,order_value)."""
    orders = write(tmp_path / "orders.csv", "customer_id;order_date;order_value", rows, sep=",")
    params = orders_params(tmp_path, orders, **{"format": {"separator": ";"}, **transactions})
    with pytest.raises(InputDataError) as err:
        run(params)
    assert "\n" not in str(err.value)
    assert not params.mart_dir.exists()  # no partial output
    return str(err.value)


def test_a_decimal_comma_names_the_field_values_rows_and_the_setting(tmp_path):
    message = failing(tmp_path, ["A;2010-12-01;19,60", "B;2010-12-01;5.00", "C;2010-12-02;1.234,56",
                                 "D;2010-12-03;7"])
    assert message.startswith(f"{tmp_path / 'orders.csv'}: field order_value: 2 values do not parse as numbers "
                              f"with decimal '.'")
    assert "row 1 '19,60', row 3 '1.234,56'; '19,60' looks like a decimal comma: set transactions.format.decimal: " \
           "','" in message
    assert "order_date" not in message  # one field


def test_an_ambiguous_value_is_an_error_never_a_guess(tmp_path):
    message = failing(tmp_path, ["A;2010-12-01;1.006", "B;2010-12-01;5,00"], format={"separator": ";",
                                                                                   "decimal": ","})
    assert "field order_value: 1 value does not parse as numbers with decimal ','" in message
    assert "row 1 '1.006'" in message and "set transactions.format.thousands: '.'" in message


def test_a_day_first_date_names_the_date_format(tmp_path):
    message = failing(tmp_path, ["A;31/12/2010;1.00", "B;01/12/2010;2,00"])
    assert "field order_date: 2 values do not parse as ISO dates (YYYY-MM-DD): row 1 '31/12/2010', row 2 " \
           "'01/12/2010'; '31/12/2010' looks like day/month/year: set transactions.format.date_format: '%d/%m/%Y'" \
           in message
    assert "order_value" not in message  # one field at a time, dates first


def test_unparsable_through_the_command_line_is_one_line_and_exit_2(tmp_path):
    orders = write(tmp_path / "orders.csv", RETAIL_HEADER, [*RETAIL_ROWS, "489460,1,X,1,2009-12-13 10:00:00,1;5,"
                                                                          "13085.0,Spain"])
    params = retail_params(tmp_path, orders)
    done = cli_run(params)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "field unit_price (column 'Price'): 1 value does not parse" in done.stderr
    assert f"row {len(RETAIL_ROWS) + 1} '1;5'" in done.stderr


def test_missing_mapped_columns_list_the_files_columns(tmp_path):
    columns = {**RETAIL_COLUMNS, "order_date": "Invoice Date", "customer_id": "CustomerID"}
    orders = write(tmp_path / "online_retail.csv", RETAIL_HEADER, RETAIL_ROWS)
    with pytest.raises(InputDataError) as err:
        run(retail_params(tmp_path, orders, columns=columns))
    message = str(err.value)
    assert "field(s) customer_id (mapped to column 'CustomerID'), order_date (mapped to column 'Invoice Date') " \
           "missing" in message
    assert "the file has columns 'Invoice', 'StockCode', 'Description', 'Quantity', 'InvoiceDate', 'Price', " \
           "'Customer ID', 'Country'" in message
    assert "transactions.columns" in message and "\n" not in message


def test_a_pattern_needs_an_order_id(tmp_path):
    orders = write(tmp_path / "orders.csv", "customer_id,order_date,order_value", ["A,2026-01-01,1.00"])
    with pytest.raises(InputDataError, match="order_id_pattern needs an order id"):
        run(orders_params(tmp_path, orders, returns={"order_id_pattern": "^C"}))


# --- separators and headers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sep", "header"), [("\t", True), ("|", False), ("whitespace", True),
                                             ("whitespace", False)])
def test_separators_and_headerless_files_give_the_same_mart(tmp_path, sep, header):
    rows = [["A", "2026-01-05", "10.00"], ["A", "2026-03-01", "20.25"], ["B", "2026-02-10", "100.00"]]
    plain = tmp_path / "plain.csv"
    plain.write_text("customer_id,order_date,order_value\n" + "".join(",".join(r) + "\n" for r in rows))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    expected = orders_params(tmp_path / "a", plain, "2026-04-01")
    run(expected)
    joiner = "  \t " if sep == "whitespace" else sep
    lines = ([joiner.join(["customer_id", "order_date", "order_value"])] if header else []) + \
        [("  " if sep == "whitespace" else "") + joiner.join(r) for r in rows]
    other = tmp_path / "other.txt"
    other.write_text("\r\n".join(lines) + "\r\n")
    columns = {} if header else {"customer_id": "column1", "order_date": "column2", "order_value": "column3"}
    params = orders_params(tmp_path / "b", other, "2026-04-01", columns=columns,
                           format={"separator": sep, "header": header})
    run(params)
    pd.testing.assert_frame_equal(mart(params), mart(expected))


def test_order_id_with_pattern_on_typed_parquet(tmp_path):
    frame = pd.DataFrame({"Invoice": ["1", "1", "C2"], "cid": [17850.0, 17850.0, 17850.0],
                          "day": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-02"]).date,
                          "value": [5.0, 7.0, 2.0]})
    frame.to_parquet(tmp_path / "orders.parquet", index=False)
    params = orders_params(tmp_path, tmp_path / "orders.parquet", "2026-04-01", returns={"order_id_pattern": "^C"},
                           columns={"customer_id": "cid", "order_date": "day", "order_value": "value",
                                    "order_id": "Invoice"})
    run(params)
    got = mart(params)
    assert list(got.index) == ["17850"] and got.loc["17850", "monetary"] == pytest.approx(10.0)
    assert got.loc["17850", "frequency"] == 1 and np.isclose(got.loc["17850", "avg_order_value"], 10.0)
