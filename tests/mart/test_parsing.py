"""Reading text as the params' format says: decimal and thousands marks, strptime dates cut to the day, the id rule,
and the hints an unparsed value gives (segmentation.mart.quality)."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from segmentation.config.params import FileFormat
from segmentation.mart.engine import connect_duckdb
from segmentation.mart.quality import date_regex, format_hint, normalise_id, parse_text, unparsable_error


@pytest.fixture(scope="module")
def con():
    return connect_duckdb(threads=1)


def parsed(con, values, kind, fmt):
    """`values` (text) parsed as `kind` with `fmt`, as a list (None where a value does not parse)."""
    table = ibis.memtable(pd.DataFrame({"v": pd.Series(values, dtype="string")}))
    out = con.execute(table.select(p=parse_text(table.v, kind, fmt)))["p"]
    return [None if pd.isna(v) else v for v in out]


@pytest.mark.parametrize(("fmt", "values", "expected"), [
    (FileFormat(), ["19.60", "-3", "1e3", "19,60", "1,234.56"], [19.6, -3.0, 1000.0, None, None]),
    (FileFormat(decimal=","), ["19,60", "-3", "1234,5", "1.006", "1.5", "1,2,3"],
     [19.6, -3.0, 1234.5, None, None, None]),
    (FileFormat(separator=";", decimal=",", thousands="."), ["1.006", "1.234,56", "1234,56", "1.5", "12.34.567"],
     [1006.0, 1234.56, 1234.56, None, None]),
    (FileFormat(separator=";", thousands=","), ["1,234.56", "1234.56", "1,2", "12,34"], [1234.56, 1234.56, None, None]),
    (FileFormat(decimal=",", thousands=" "), ["1 234,5", "1\u00a0234,5", "12 34"], [1234.5, 1234.5, None]),
    (FileFormat(thousands="'"), ["1'234.5", "'1"], [1234.5, None]),
])
def test_numbers_read_with_the_decimal_and_thousands_marks_and_never_guess(con, fmt, values, expected):
    assert parsed(con, values, "float64", fmt) == expected


def test_whole_numbers_take_the_thousands_mark(con):
    assert parsed(con, ["1.000", "-12"], "int64", FileFormat(decimal=",", thousands=".")) == [1000, -12]


@pytest.mark.parametrize(("date_format", "values", "expected"), [
    (None, ["2010-12-01", "2010-12-01 08:26:00", "2010-12-01T08:26:00Z", "2010-02-30", "01/12/2010"],
     ["2010-12-01", "2010-12-01", "2010-12-01", None, None]),
    ("%d/%m/%Y", ["31/12/2010", "1/2/2011", "31/12/2010 08:26", "12/31/2010", "2010-12-31", "31/12/2010x"],
     ["2010-12-31", "2011-02-01", "2010-12-31", None, None, None]),
    ("%Y%m%d", ["19970101", "19971231", "1997010"], ["1997-01-01", "1997-12-31", None]),
    ("%m/%d/%Y %H:%M", ["12/1/2010 8:26", "12/1/2010"], ["2010-12-01", None]),
    ("%d-%b-%y", ["01-Dec-10", "9-jan-99", "01-Foo-10"], ["2010-12-01", "1999-01-09", None]),
    ("%d.%m.%Y", ["29.02.2012", "29.02.2011"], ["2012-02-29", None]),
])
def test_dates_read_with_the_strptime_format_and_date_times_cut_to_the_day(con, date_format, values, expected):
    got = parsed(con, values, "date", FileFormat(date_format=date_format))
    assert [None if v is None else pd.Timestamp(v).date().isoformat() for v in got] == expected


def test_a_strptime_format_becomes_an_anchored_pattern_with_its_date_groups():
    pattern, groups = date_regex("%d/%m/%Y")
    assert pattern.startswith("^") and pattern.endswith("$")
    assert groups == {"day": 1, "month": 2, "year": 3}


def test_ids_follow_one_rule(con):
    table = ibis.memtable(pd.DataFrame({"v": ["17850.0", " 42 ", "17850.00", "17850.5", "A.0", "", "00017", "  "]}))
    got = con.execute(table.select(v=normalise_id(table.v.nullif(""))))["v"].tolist()
    assert [None if pd.isna(v) else v for v in got] == ["17850", "42", "17850", "17850.5", "A.0", None, "00017",
                                                        None]


@pytest.mark.parametrize(("values", "kind", "fmt", "hint"), [
    (["19,60"], "float64", FileFormat(), "'19,60' looks like a decimal comma: set transactions.format.decimal: ','"),
    (["abc", "1.234,56"], "float64", FileFormat(),
     "'1.234,56' looks like a decimal comma with '.' between thousands: set transactions.format.decimal: ',' "
     "and thousands: '.'"),
    (["1.006"], "float64", FileFormat(decimal=","), "set transactions.format.thousands: '.'"),
    (["19.60"], "float64", FileFormat(decimal=","), "'19.60' looks like a decimal point: set transactions.format."
                                                     "decimal: '.'"),
    (["1,234.50"], "float64", FileFormat(), "looks like ',' between thousands: set transactions.format.thousands: ','"),
    (["1,006"], "float64", FileFormat(), "is a decimal comma or ',' between thousands"),
    (["£12.50"], "float64", FileFormat(), "carries a currency sign"),
    (["31/12/2010"], "date", FileFormat(), "'31/12/2010' looks like day/month/year: set transactions.format."
                                           "date_format: '%d/%m/%Y'"),
    (["12/31/2010 08:00"], "date", FileFormat(), "looks like month/day/year: set transactions.format.date_format: "
                                                 "'%m/%d/%Y'"),
    (["05/06/2010"], "date", FileFormat(), "is day/month/year or month/day/year"),
    (["19970101"], "date", FileFormat(), "set transactions.format.date_format: '%Y%m%d'"),
    (["01-Dec-2010"], "date", FileFormat(), "set transactions.format.date_format: '%d-%b-%Y'"),
    (["2010-12-01"], "date", FileFormat(date_format="%d/%m/%Y"), "looks like an ISO date: remove"),
    (["2010-02-30"], "date", FileFormat(), None),
    (["twelve"], "float64", FileFormat(), None),
])
def test_an_unparsed_value_hints_at_the_setting_that_reads_it(values, kind, fmt, hint):
    found = format_hint(values, kind, fmt, "transactions")
    assert (found is None) if hint is None else (hint in found)


def test_the_error_names_one_field_five_values_with_rows_and_the_hint():
    examples = [(2, "19,60"), (7, "1.234,56"), (9, "x"), (11, "y"), (12, "z"), (13, "w")]
    err = unparsable_error("orders.csv", "unit_price", "Price", "float64", 8, examples, FileFormat(), "transactions",
                           "fix those rows")
    assert str(err) == (
        "orders.csv: field unit_price (column 'Price'): 8 values do not parse as numbers with decimal '.' (finite, "
        "within ±1e12): row 2 '19,60', row 7 '1.234,56', row 9 'x', row 11 'y', row 12 'z', …; '19,60' looks like "
        "a decimal comma: set transactions.format.decimal: ','"
    )
    err = unparsable_error("c.csv", "age", "age", "int64", 1, [(4, "x")], FileFormat(), "input", "fix those rows")
    assert str(err).endswith("1 value does not parse as whole numbers with decimal '.' (finite, within ±1e12): "
                             "row 4 'x'; fix those rows")
