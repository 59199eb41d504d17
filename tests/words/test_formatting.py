"""The one number style: amounts in the params' currency (symbol and side from Babel), counts, shares, KPI values."""

from __future__ import annotations

import math

import pytest

from segmentation.words import formatting as fmt
from segmentation.words.formatting import NBSP, Money

USD, GBP, EUR, JPY, CHF = (Money.of(code) for code in ("USD", "GBP", "EUR", "JPY", "CHF"))
# A currency whose symbol follows the number (as in Swedish, "6,7 mn kr"): the English locale places every symbol
# first, so this one is built by hand to check the other side.
SEK_AFTER = Money(code="SEK", symbol="kr", symbol_first=False)


@pytest.mark.parametrize("money, symbol, prefix, suffix", [
    (USD, "$", "$", ""),
    (GBP, "£", "£", ""),
    (EUR, "€", "€", ""),
    (JPY, "¥", "¥", ""),
    (CHF, "CHF", "CHF" + NBSP, ""),  # a letter symbol is spaced off the digits
    (Money.of("CAD"), "CA$", "CA$", ""),
    (SEK_AFTER, "kr", "", NBSP + "kr"),
])
def test_symbol_and_side_come_from_babel(money: Money, symbol: str, prefix: str, suffix: str) -> None:
    assert (money.symbol, money.prefix, money.suffix) == (symbol, prefix, suffix)


def test_codes_are_looked_up_in_any_case_and_cached() -> None:
    assert Money.of("gbp") is GBP and GBP.code == "GBP"


@pytest.mark.parametrize("value, expected", [
    (812.4, "$812"),
    (9_999.0, "$9,999"),
    (12_345.0, "$12.3K"),
    (6_712_000.0, "$6.7M"),
    (1.2e9, "$1.2B"),
    (-12_345.0, "-$12.3K"),
    (-0.4, "$0"),
    (float("nan"), "–"),
    (None, "–"),
])
def test_amounts_read_short_with_thousands_separators(value: float, expected: str) -> None:
    assert USD(value) == expected


@pytest.mark.parametrize("money, expected", [
    (GBP, ["£812", "£9,999", "£6.7M", "-£12.3K"]),
    (EUR, ["€812", "€9,999", "€6.7M", "-€12.3K"]),
    (JPY, ["¥812", "¥9,999", "¥6.7M", "-¥12.3K"]),  # whole units: never cents, so never "¥812.40"
    (CHF, [f"CHF{NBSP}812", f"CHF{NBSP}9,999", f"CHF{NBSP}6.7M", f"-CHF{NBSP}12.3K"]),
    (SEK_AFTER, [f"812{NBSP}kr", f"9,999{NBSP}kr", f"6.7M{NBSP}kr", f"-12.3K{NBSP}kr"]),
])
def test_every_currency_reads_in_the_same_style(money: Money, expected: list[str]) -> None:
    assert [money(v) for v in (812.4, 9_999.0, 6_712_000.0, -12_345.0)] == expected


def test_ticks_use_as_few_digits_as_the_tick_needs() -> None:
    assert [GBP.tick(v) for v in (0, 500, 12_000, 1_500_000, -5_000)] == ["£0", "£500", "£12K", "£1.5M", "-£5K"]
    assert CHF.tick(2_000) == f"CHF{NBSP}2K" and SEK_AFTER.tick(2_000) == f"2K{NBSP}kr"


def test_labels_and_plotly_templates_carry_the_symbol() -> None:
    assert GBP.label("Total spend", "log scale") == "Total spend (£, log scale)"
    assert CHF.label("Income") == "Income (CHF)"
    assert GBP.around("%{y:,.0f}") == "£%{y:,.0f}" and SEK_AFTER.around("%{y:,.0f}") == f"%{{y:,.0f}}{NBSP}kr"


def test_export_columns_name_the_currency_by_its_code() -> None:
    assert GBP.column("monetary") == "monetary_gbp" and USD.column("monetary") == "monetary_usd"


@pytest.mark.parametrize("kpi, value, expected", [
    ("avg_monetary", 1_803.2, "£1,803"),
    ("avg_order_value", 45.6, "£46"),
    ("premium_rate", 0.123, "12.3%"),
    ("avg_recency_days", 41.6, "42 days"),
    ("avg_churn_risk", 0.256, "0.26"),
])
def test_kpi_values_read_in_their_unit(kpi: str, value: float, expected: str) -> None:
    assert fmt.kpi_value(kpi, value, GBP) == expected


def test_counts_shares_and_deltas() -> None:
    assert fmt.count(1234) == "1,234" and fmt.count(math.nan) == "–"
    assert fmt.share(0.123) == "12.3%" and fmt.share(0.5, 0) == "50%"
    assert fmt.delta(0.25) == "+25%" and fmt.delta(-0.4) == "−40%"
