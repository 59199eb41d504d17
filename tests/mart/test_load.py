"""The customer file as a store exports it: its own column names, separator, decimal comma and day-first dates
(`input: {path, columns, format}`), read into the same mart as the plain file."""

from __future__ import annotations

import pandas as pd
import pytest

from segmentation.core.errors import InputDataError
from segmentation.mart.pipeline import run
from tests.customer_files import customer_file, params_for

RENAMED = {"customer_id": "Customer ID", "total_spent": "Spent", "first_purchase_date": "First purchase"}
MONEY = ("income", "total_spent", "avg_order_value", "churn_risk")
DATES = ("first_purchase_date", "last_purchase_date")


def european(plain: pd.DataFrame) -> pd.DataFrame:
    """The same rows as a European spreadsheet writes them: decimal commas, dates day/month/year, renamed columns."""
    frame = plain.copy()
    for name in MONEY:
        frame[name] = frame[name].str.replace(".", ",", regex=False)
    for name in DATES:  # an ISO date becomes day/month/year; anything else stays as written
        frame[name] = frame[name].str.replace(r"^(\d{4})-(\d{2})-(\d{2})$", r"\3/\2/\1", regex=True)
    frame["customer_id"] = frame["customer_id"] + ".0"  # ids as a spreadsheet writes numbers
    return frame.rename(columns=RENAMED)


def mart_rows(params) -> pd.DataFrame:
    """The mart's customers in a fixed order, without the issued id (its last tie-break hashes the text as written)."""
    frame = pd.read_parquet(params.mart_dir / "customer_segments.parquet").drop(columns="customer_id")
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_a_mapped_european_customer_file_gives_the_same_mart_as_the_plain_one(tmp_path, small_csv):
    plain = pd.read_csv(small_csv, dtype=str, keep_default_na=False).iloc[:400]
    (tmp_path / "plain").mkdir()
    (tmp_path / "mapped").mkdir()
    plain_path = tmp_path / "plain" / "customers.csv"
    plain.to_csv(plain_path, index=False)
    mapped_path = tmp_path / "mapped" / "export.csv"
    european(plain).to_csv(mapped_path, index=False, sep=";")
    expected = params_for(tmp_path / "plain", plain_path, reference_date="2026-11-01")
    run(expected)
    section = {"path": str(mapped_path), "columns": RENAMED,
               "format": {"separator": ";", "decimal": ",", "date_format": "%d/%m/%Y"}}
    params = params_for(tmp_path / "mapped", section, reference_date="2026-11-01")
    run(params)
    pd.testing.assert_frame_equal(mart_rows(params), mart_rows(expected))


def test_a_missing_mapped_column_lists_the_files_columns(tmp_path):
    data = customer_file(tmp_path, [{}])
    section = {"path": str(data), "columns": {"customer_id": "Customer ID"}}
    with pytest.raises(InputDataError) as err:
        run(params_for(tmp_path, section))
    message = str(err.value)
    assert "field(s) customer_id (mapped to column 'Customer ID') missing" in message
    assert "the file has columns 'customer_id', 'name', 'email', 'age'" in message and "input.columns" in message


def test_an_unparsable_customer_number_names_one_field_its_values_and_the_setting(tmp_path):
    data = customer_file(tmp_path, [{"income": "50000,5"}, {}, {"income": "1.234,5", "age": "x"}])
    with pytest.raises(InputDataError) as err:
        run(params_for(tmp_path, data))
    message = str(err.value)
    assert message.startswith(f"{data}: field age: 1 value does not parse as whole numbers")  # first in file order
    assert "row 3 'x'" in message and "\n" not in message
    data = customer_file(tmp_path, [{"income": "50000,5"}, {}, {"income": "1.234,5"}])
    with pytest.raises(InputDataError) as err:
        run(params_for(tmp_path, data))
    assert "field income: 2 values do not parse as numbers with decimal '.' (finite, within ±1e12): row 1 " \
           "'50000,5', row 3 '1.234,5'; '50000,5' looks like a decimal comma: set input.format.decimal: ','" \
           in str(err.value)
