"""Params of real store exports: column mapping, file format and returns in the input and transactions sections."""

from __future__ import annotations

import pytest

from segmentation.config.params import ColumnMap, FileFormat, ReturnsParams, load_params
from segmentation.core.errors import ParamsError
from tests.config.test_params import edited

RETAIL = {
    "path": "data/raw/online_retail.csv",
    "columns": {"customer_id": "Customer ID", "order_date": "InvoiceDate", "order_id": "Invoice",
                "order_value": {"quantity": "Quantity", "unit_price": "Price"}, "country": "Country",
                "favorite_category": "Description"},
    "format": {"separator": ";", "header": True, "date_format": "%d/%m/%Y %H:%M", "decimal": ",",
               "thousands": "."},
    "returns": {"policy": "drop", "order_id_pattern": "^C"},
}


def with_transactions(section, input_=None):
    """A change to default.yaml: orders from `section`, customer file `input_` (None: orders only)."""
    return lambda raw: raw.update(transactions=section, input=input_)


def test_a_plain_input_path_keeps_working_with_the_default_format(tmp_path):
    params = load_params(edited(tmp_path, lambda raw: raw.update(input="data/raw/x.csv")), root=tmp_path)
    assert params.input_path == tmp_path / "data/raw/x.csv"
    assert params.input_columns == ColumnMap() and params.input_format == FileFormat()
    assert params.input_format.plain_numbers


def test_an_input_section_maps_columns_and_sets_the_format(tmp_path):
    section = {"path": "data/raw/customers.csv", "columns": {"customer_id": "Customer ID", "total_spent": "Spent"},
               "format": {"separator": ";", "date_format": "%d/%m/%Y", "decimal": ",", "thousands": "."}}
    params = load_params(edited(tmp_path, lambda raw: raw.update(input=section)), root=tmp_path)
    assert params.input_path == tmp_path / "data/raw/customers.csv"
    assert params.input_columns.column("customer_id") == "Customer ID"
    assert params.input_columns.column("age") == "age"  # unmapped: its own name
    assert params.input_format == FileFormat(";", True, "%d/%m/%Y", ",", ".")
    assert not params.input_format.plain_numbers


def test_a_transactions_section_is_typed(tmp_path):
    params = load_params(edited(tmp_path, with_transactions(RETAIL)), root=tmp_path)
    tx = params.transactions
    assert tx.columns.product == ("Quantity", "Price")
    assert tx.columns.column("quantity") == "Quantity" and tx.columns.column("unit_price") == "Price"
    assert tx.columns.column("order_date") == "InvoiceDate"
    assert tx.attributes == ("country", "favorite_category")
    assert tx.format == FileFormat(";", True, "%d/%m/%Y %H:%M", ",", ".")
    assert tx.returns == ReturnsParams("drop", "^C")


def test_returns_net_by_default_and_whitespace_and_tab_separators(tmp_path):
    params = load_params(edited(tmp_path, with_transactions(
        {"path": "orders.txt", "format": {"separator": "whitespace", "header": False}})), root=tmp_path)
    assert params.transactions.returns == ReturnsParams("net", None)
    assert params.transactions.format.separator == "whitespace" and not params.transactions.format.header
    for written in ("\t", "\\t"):  # a tab, or backslash-t as single-quoted YAML keeps it
        params = load_params(edited(tmp_path, with_transactions({"path": "o.tsv", "format": {"separator": written}})))
        assert params.transactions.format.separator == "\t"


@pytest.mark.parametrize(("section", "message"), [
    ({"path": "o.csv", "format": {"sep": ";"}}, "transactions: format: unknown key 'sep'"),
    ({"path": "o.csv", "format": {"separator": ";;"}}, "transactions: format: key 'separator' must be one of"),
    ({"path": "o.csv", "format": {"decimal": ",", "thousands": ","}},
     "keys 'decimal' and 'thousands' are both ','; they must differ"),
    ({"path": "o.csv", "format": {"decimal": "·"}}, "key 'decimal' must be '.' or ','"),
    ({"path": "o.csv", "format": {"header": "yes"}}, "key 'header' must be true or false"),
    ({"path": "o.csv", "format": {"date_format": "%d/%m"}}, "must hold the year once"),
    ({"path": "o.csv", "format": {"date_format": "%d/%m/%Y %Q"}}, "uses %Q; known directives"),
    ({"path": "o.csv", "format": {"date_format": "%Y-%m-%d %"}}, "uses a lone %"),
    ({"path": "o.csv", "columns": {"colour": "Colour"}}, "transactions: columns: unknown key 'colour'"),
    ({"path": "o.csv", "columns": {"customer_id": ""}}, "columns: key 'customer_id' must be the file's column name"),
    ({"path": "o.csv", "columns": {"order_value": {"quantity": "Q"}}},
     "order_value must be one column name, or quantity and unit_price column names"),
    ({"path": "o.csv", "columns": {"order_value": {"quantity": "Q", "price": "P"}}},
     "columns: order_value: unknown key 'price'"),
    ({"path": "o.csv", "columns": {"quantity": "Qty", "order_value": {"quantity": "Q", "unit_price": "P"}}},
     "quantity is 'Qty' but order_value's quantity is 'Q'"),
    ({"path": "o.csv", "returns": {"policy": "keep"}}, "returns: key 'policy' must be net or drop"),
    ({"path": "o.csv", "returns": {"order_id_pattern": "^(C"}}, "key 'order_id_pattern' must be a regular expression"),
    ({"path": "o.csv", "returns": {"when": "always"}}, "transactions: returns: unknown key 'when'"),
])
def test_bad_mapping_format_or_returns_name_file_and_key(tmp_path, section, message):
    path = edited(tmp_path, with_transactions(section))
    with pytest.raises(ParamsError) as err:
        load_params(path)
    assert str(path) in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_order_attributes_need_an_orders_only_mart(tmp_path):
    section = {"path": "o.csv", "columns": {"country": "Country"}}
    with pytest.raises(ParamsError, match="country come from the customer file when 'input' names one"):
        load_params(edited(tmp_path, with_transactions(section, "data/raw/customers.csv")))


@pytest.mark.parametrize(("section", "message"), [
    ({"columns": {"customer_id": "id"}}, "input: key 'path' must name the customer file"),
    ({"path": "c.csv", "columns": {"spent": "Spent"}}, "input: columns: unknown key 'spent'"),
    ({"path": "c.csv", "format": {"decimal": ";"}}, "input: format: key 'decimal' must be '.' or ','"),
    ({"path": "c.csv", "sheet": 1}, "input: unknown key 'sheet'"),
])
def test_bad_input_sections_name_file_and_key(tmp_path, section, message):
    with pytest.raises(ParamsError, match=message):
        load_params(edited(tmp_path, lambda raw: raw.update(input=section)))
