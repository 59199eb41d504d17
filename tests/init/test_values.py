"""Dates and numbers told from text: one format for every value, or none; ambiguity said, never hidden."""

from __future__ import annotations

import pytest

from segmentation.init.values import guess_date_format, parse_number, readable_marks


@pytest.mark.parametrize(("values", "expected"), [
    (["2010-12-01", "2011-01-31"], "%Y-%m-%d"),
    (["2010-12-01 08:26:00", "2010-12-01 17:05:00"], "%Y-%m-%d %H:%M:%S"),
    (["2010-12-01T08:26:00", "2010-12-02T09:00:00"], "%Y-%m-%dT%H:%M:%S"),
    (["2010-12-01 08:26", "2010-12-01 9:05"], "%Y-%m-%d %H:%M"),
    (["19970101", "19980630"], "%Y%m%d"),
    (["31/12/2010", "05/01/2011"], "%d/%m/%Y"),
    (["12/31/2010", "1/5/2011"], "%m/%d/%Y"),
    (["31.12.2010", "01.02.2011"], "%d.%m.%Y"),
    (["31/12/10", "01/02/11"], "%d/%m/%y"),
    (["12/1/2010 8:26", "12/13/2010 17:05"], "%m/%d/%Y %H:%M"),
    (["2010/12/01"], "%Y/%m/%d"),
])
def test_a_date_format_every_value_fits(values, expected):
    assert guess_date_format(values).format == expected


def test_day_and_month_order_is_ambiguous_without_a_day_above_12():
    guess = guess_date_format(["01/02/2010", "12/11/2010"])
    assert guess.ambiguous and guess.day_first and guess.format == "%d/%m/%Y"
    assert not guess_date_format(["13/02/2010"]).ambiguous
    assert guess_date_format(["2010-12-01 08:26:00"]).has_time


@pytest.mark.parametrize("values", [
    ["2010-12-01", "01/12/2010"],           # two formats in one column
    ["2010-13-01"],                         # no 13th month
    ["20101301"],                           # eight digits that are no day
    ["17850"], ["C489434"], ["Paris"], [],  # not dates at all
    ["13/13/2010"],                         # neither day-first nor month-first
    ["2010-12-01", "2010-12-01 08:00:00"],  # with and without a time
    ["18001231"],                           # eight digits before 1900: an id, not a date
])
def test_no_format_when_the_values_do_not_all_fit_one(values):
    assert guess_date_format(values) is None


@pytest.mark.parametrize(("values", "marks"), [
    (["6.95", "12"], [(".", None), (".", ","), (".", " "), (".", "'")]),
    (["19,60", "7,00"], [(",", None), (",", "."), (",", " "), (",", "'")]),
    (["1.234,56", "19,60"], [(",", ".")]),
    (["1,234.56", "6.95"], [(".", ",")]),
    (["1 234,56"], [(",", " ")]),
    (["1'234.50"], [(".", "'")]),
    (["1.006"], [(".", None), (".", ","), (",", "."), (".", " "), (".", "'")]),  # a point or a thousands mark
    (["12.5.3"], []), (["£12.50"], []), (["abc"], []), (["1.23.456"], []),
])
def test_the_marks_that_read_every_value(values, marks):
    assert list(readable_marks(values)) == marks


@pytest.mark.parametrize(("text", "decimal", "thousands", "number"), [
    ("1.234,56", ",", ".", 1234.56), ("-7,00", ",", None, -7.0), ("1,234.5", ".", ",", 1234.5),
    ("17850.0", ".", None, 17850.0), ("1.006", ",", ".", 1006.0), ("1.006", ".", None, 1.006),
    ("19,60", ".", None, None), ("1.2345,6", ",", ".", None),
])
def test_parse_number_reads_only_what_the_marks_allow(text, decimal, thousands, number):
    assert parse_number(text, decimal, thousands) == number
