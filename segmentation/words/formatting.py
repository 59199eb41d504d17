"""How numbers read on every page: money (in the currency the params set), counts, shares and relative differences,
always the same way."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from babel import Locale
from babel.numbers import get_currency_symbol

# KPI columns of the segment summary, in display order, with the label a reader sees.
KPI_LABELS: dict[str, str] = {
    "avg_monetary": "Avg spend",
    "avg_frequency": "Avg orders",
    "avg_recency_days": "Avg days since last order",
    "avg_order_value": "Avg order value",
    "premium_rate": "Premium share",
    "opt_in_rate": "Marketing opt-in",
    "avg_churn_risk": "Avg churn risk",
    "avg_support_tickets": "Avg support tickets",
}

# For these KPIs a lower value is the better one (fewer days since the last order, lower churn risk, fewer tickets).
LOWER_IS_BETTER = frozenset({"avg_recency_days", "avg_churn_risk", "avg_support_tickets"})


CURRENCY_LOCALE = "en"  # the project's one number style: English symbols, "," for thousands, "." for decimals
NBSP = "\u00a0"  # between a letter symbol and the digits (CHF 812), so a line never breaks inside an amount


@dataclass(frozen=True)
class Money:
    """Amounts in one currency, always the same way: £812, £12.3K, £6.7M; CHF 6.7M; 6.7M kr.

    Build it with `Money.of(code)` from the ISO 4217 code the params set (the mart's manifest records it); every
    page, figure, dashboard card and export header that shows money takes it from there. Amounts are whole units
    (no cents, so a currency without minor units such as JPY reads the same way as one with them).
    """

    code: str
    symbol: str
    symbol_first: bool = True

    @classmethod
    def of(cls, code: str) -> Money:
        """The currency with this ISO 4217 code: its symbol, and its side, as Babel's English locale writes them."""
        return _money_of(code.upper())

    @property
    def prefix(self) -> str:
        """What goes before the number: the symbol when it leads, spaced off the digits when it ends in a letter."""
        if not self.symbol_first:
            return ""
        return self.symbol + (NBSP if self.symbol[-1].isalpha() else "")

    @property
    def suffix(self) -> str:
        """What goes after the number: a trailing symbol, always spaced off the digits."""
        return "" if self.symbol_first else NBSP + self.symbol

    def around(self, number: str) -> str:
        """An already formatted number (or a plotly placeholder such as '%{y:,.0f}') with the symbol on its side."""
        return f"{self.prefix}{number}{self.suffix}"

    def __call__(self, value: float | None) -> str:
        """An amount, abbreviated from ten thousand on: £812, £9,999, £12.3K, £6.7M, £1.2B; '–' when missing."""
        if value is None or math.isnan(value):
            return "–"
        size = abs(value)
        if size >= 1e9:
            shown = f"{size / 1e9:.1f}B"
        elif size >= 1e6:
            shown = f"{size / 1e6:.1f}M"
        elif size >= 1e4:
            shown = f"{size / 1e3:.1f}K"
        else:
            shown = f"{size:,.0f}"
        return ("-" if value < 0 and shown != "0" else "") + self.around(shown)

    def tick(self, value: float) -> str:
        """A short amount for an axis tick, as few digits as the tick needs: £500, £12K, £1.5M."""
        size = abs(value)
        if size >= 1e6:
            shown = f"{size / 1e6:g}M"
        elif size >= 1e3:
            shown = f"{size / 1e3:g}K"
        else:
            shown = f"{size:g}"
        return ("-" if value < 0 else "") + self.around(shown)

    def label(self, text: str, note: str = "") -> str:
        """An axis or column label with the currency's symbol: 'Total spend (£, log scale)', 'Income (CHF)'."""
        return f"{text} ({self.symbol}{', ' + note if note else ''})"

    def column(self, name: str) -> str:
        """A data column holding amounts, named with the currency's code: monetary → monetary_gbp."""
        return f"{name}_{self.code.lower()}"


@functools.cache
def _money_of(code: str) -> Money:
    """Babel's English symbol for the code and the side the locale's currency pattern puts it on."""
    pattern = Locale.parse(CURRENCY_LOCALE).currency_formats["standard"]
    return Money(code=code, symbol=get_currency_symbol(code, locale=CURRENCY_LOCALE),
                 symbol_first="\u00a4" in pattern.prefix[0])


def count(value: float) -> str:
    """A whole number with thousands separators: 1,234."""
    return "–" if value is None or math.isnan(value) else f"{value:,.0f}"


def share(value: float, digits: int = 1) -> str:
    """A 0–1 share as a percentage: 0.123 → 12.3%."""
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}%}"


def delta(value: float) -> str:
    """A relative difference with its sign: 0.25 → +25%, -0.4 → −40%."""
    if value is None or math.isnan(value):
        return "–"
    text = f"{value:+.0%}"
    return text.replace("-", "−")


def number(value: float) -> str:
    """A measured value with the precision its size calls for: 52,340, 41.3, 0.42."""
    if value is None or math.isnan(value):
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def score_span(rng: tuple[int, int] | None, fallback: str = "any") -> str:
    """A score range as '4–5', one score as '3', no range (the fallback segment) as `fallback`."""
    if rng is None:
        return fallback
    return str(rng[0]) if rng[0] == rng[1] else f"{rng[0]}–{rng[1]}"


def kpi_value(kpi: str, value: float, money: Money) -> str:
    """A KPI value in its natural unit (amounts in `money`'s currency)."""
    if kpi in ("avg_monetary", "avg_order_value"):
        return money(value)
    if kpi in ("premium_rate", "opt_in_rate"):
        return share(value)
    if kpi == "avg_recency_days":
        return f"{value:,.0f} days"
    return f"{value:,.2f}"
