"""An orders export in the layout of the UCI "Online Retail II" data set, drawn from a seed.

The file is what a small online shop's back office exports: one row per invoice line, comma-separated, with the
columns ``Invoice, StockCode, Description, Quantity, InvoiceDate, Price, Customer ID, Country``. What makes it a
realistic test of reading a store's own export:

- several lines per invoice, invoice numbers rising with time (``489434`` …), date-times such as
  ``2010-12-01 08:26:00``;
- customer ids written as float text (``17850.0``) and, on about ANONYMOUS_INVOICE_SHARE of the invoices, missing;
- cancellations: invoices ``C`` + number whose lines have a negative Quantity and reverse lines of an earlier
  invoice of the same customer, 1 to 10 days later but never after the export's last purchase day (about
  CANCELLING_CUSTOMER_SHARE of the customers have one; some reverse a whole invoice, so a one-invoice customer
  can end with a net value of zero);
- some lines with Price ``0.0`` (free items), never an invoice's first line;
- a few descriptions holding a comma, so the CSV quotes them.

The order value of a line is Quantity × Price. All randomness comes from one ``numpy.random.default_rng(seed)``:
the same customers and seed give a byte-identical file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segmentation.core import atomic
from segmentation.core.errors import SegmentationError

COLUMNS = ("Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country")
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
FIRST_INVOICE = 489434
FIRST_CUSTOMER_ID = 12346
PERIOD_START = dt.date(2009, 12, 1)
PERIOD_DAYS = 739  # up to 2011-12-09, the last day of the real data set
OPENING_HOURS = (7, 20)  # invoices are dated between 07:00 and 19:59
CANCELLATION_PREFIX = "C"

COUNTRY_WEIGHTS = {
    "United Kingdom": 0.82, "Germany": 0.04, "France": 0.04, "EIRE": 0.03, "Spain": 0.015, "Netherlands": 0.015,
    "Belgium": 0.01, "Switzerland": 0.01, "Portugal": 0.01, "Australia": 0.01,
}
ANONYMOUS_COUNTRY = "United Kingdom"
ANONYMOUS_INVOICE_SHARE = 0.08
CANCELLING_CUSTOMER_SHARE = 0.13
WHOLE_INVOICE_CANCELLED_SHARE = 0.2  # of the cancellations: every line of the invoice is reversed
FREE_LINE_SHARE = 0.01
# Invoices per customer: 1 + Geometric(p) - 1, mean 1 / p.
INVOICES_GEOMETRIC_P = 0.3
# Lines per invoice: 1 + Poisson(mean), at most MAX_LINES.
EXTRA_LINES_MEAN = 6.0
MAX_LINES = 40
CANCELLED_WITHIN_DAYS = 10  # a cancellation comes 1 to 10 days after its invoice

PRODUCTS = 240
PRICE_POINTS = (0.29, 0.42, 0.55, 0.65, 0.85, 1.25, 1.45, 1.65, 2.1, 2.55, 2.95, 3.75, 4.25, 4.95, 5.95, 6.75,
                7.95, 8.5, 9.95, 12.75)
QUANTITY_WEIGHTS = {1: 0.2, 2: 0.18, 3: 0.1, 4: 0.12, 6: 0.14, 8: 0.06, 10: 0.06, 12: 0.1, 24: 0.03, 48: 0.01}
# quantities drawn by inverting the cumulative weights (one searchsorted per invoice)
_QUANTITY_SIZES = np.array(list(QUANTITY_WEIGHTS))
_QUANTITY_CUMULATIVE = np.cumsum(list(QUANTITY_WEIGHTS.values()))[:-1] / sum(QUANTITY_WEIGHTS.values())
ADJECTIVES = ("WHITE HANGING", "VINTAGE", "REGENCY", "JUMBO", "PAPER", "RETRO", "SET OF 3", "SMALL", "LARGE",
              "GLASS", "WOODEN", "HEART")
COLOURS = ("RED", "PINK", "BLUE", "GREEN", "CREAM", "IVORY", "SPOTTY", "STRIPED")
ITEMS = ("T-LIGHT HOLDER", "LUNCH BAG", "CAKE TIN", "TEACUP AND SAUCER", "DOORMAT", "CHRISTMAS BAUBLE",
         "ALARM CLOCK", "NAPKINS", "GIFT WRAP", "BUNTING", "TOWELS, PANTRY DESIGN", "HOT WATER BOTTLE",
         "CANDLE, SCENTED", "PHOTO FRAME", "STORAGE JAR")


@dataclass(frozen=True)
class _Invoice:
    """One invoice before numbering: when, whose (None: no customer id), and its lines."""

    when: dt.datetime
    customer: int | None
    lines: tuple[tuple[int, int, float], ...]  # (product, quantity, price); quantity < 0 on a cancellation
    cancellation: bool = False


def write_online_retail(out: Path, customers: int = 1_000, seed: int = 42) -> Path:
    """Write an Online-Retail-II-layout orders CSV for `customers` customers atomically; return its path.

    UTF-8, a header line, ``\\n`` line ends, fields quoted only where they hold a comma. The same `customers` and
    `seed` always give the same bytes.
    """
    if customers < 1:
        raise SegmentationError(f"online retail export {out}: need at least one customer, got {customers}")
    out = Path(out)
    text = online_retail_csv(customers, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(out) as temporary:
        temporary.write_text(text, encoding="utf-8", newline="")
    return out


def online_retail_csv(customers: int, seed: int) -> str:
    """The whole export as CSV text (header first), invoices in number order, lines in drawn order."""
    rng = np.random.default_rng(seed)
    products = _products(rng)
    ids, countries = _customers(rng, customers)
    invoices = _customer_invoices(rng, customers)
    invoices += _anonymous_invoices(rng, len(invoices))
    invoices += _cancellations(rng, invoices)
    # numbers rise with time; the drawing order breaks ties, so the numbering is fixed by the seed
    numbered = sorted(enumerate(invoices), key=lambda pair: (pair[1].when, pair[0]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for number, (_, invoice) in enumerate(numbered, start=FIRST_INVOICE):
        name = f"{CANCELLATION_PREFIX if invoice.cancellation else ''}{number}"
        customer = "" if invoice.customer is None else f"{ids[invoice.customer]}.0"
        country = ANONYMOUS_COUNTRY if invoice.customer is None else countries[invoice.customer]
        when = invoice.when.strftime(DATE_FORMAT)
        for product, quantity, price in invoice.lines:
            code, description = products[product]
            writer.writerow((name, code, description, quantity, when, repr(price), customer, country))
    return buffer.getvalue()


def _products(rng: np.random.Generator) -> list[tuple[str, str]]:
    """PRODUCTS distinct (stock code, description) pairs; a few codes carry a letter, as in the real file."""
    names = sorted({f"{a} {c} {i}" for a in ADJECTIVES for c in COLOURS for i in ITEMS})
    picked = rng.choice(len(names), size=PRODUCTS, replace=False)
    codes = 20_000 + rng.choice(70_000, size=PRODUCTS, replace=False)
    suffixes = rng.choice(["", "", "", "", "A", "B"], size=PRODUCTS)
    return [(f"{code}{suffix}", names[index]) for code, suffix, index in zip(codes, suffixes, picked)]


def _customers(rng: np.random.Generator, count: int) -> tuple[list[int], list[str]]:
    """Distinct customer ids in ascending order and each customer's country."""
    span = max(2 * count, 6_000)
    ids = sorted(int(i) for i in FIRST_CUSTOMER_ID + rng.choice(span, size=count, replace=False))
    names, weights = list(COUNTRY_WEIGHTS), np.array(list(COUNTRY_WEIGHTS.values()))
    countries = [names[i] for i in rng.choice(len(names), size=count, p=weights / weights.sum())]
    return ids, countries


def _customer_invoices(rng: np.random.Generator, customers: int) -> list[_Invoice]:
    """Each customer's purchase invoices, dated from a first day onwards."""
    invoices = []
    counts = rng.geometric(INVOICES_GEOMETRIC_P, size=customers)
    first_days = rng.integers(0, PERIOD_DAYS, size=customers)
    for customer, (count, first_day) in enumerate(zip(counts, first_days)):
        days = np.sort(rng.integers(first_day, PERIOD_DAYS, size=count))
        days[0] = first_day
        invoices += [_Invoice(_moment(rng, int(day)), customer, _lines(rng)) for day in days]
    return invoices


def _anonymous_invoices(rng: np.random.Generator, known: int) -> list[_Invoice]:
    """Invoices without a customer id, ANONYMOUS_INVOICE_SHARE of all purchase invoices."""
    count = round(known * ANONYMOUS_INVOICE_SHARE / (1 - ANONYMOUS_INVOICE_SHARE))
    days = rng.integers(0, PERIOD_DAYS, size=count)
    return [_Invoice(_moment(rng, int(day)), None, _lines(rng)) for day in days]


def _cancellations(rng: np.random.Generator, purchases: list[_Invoice]) -> list[_Invoice]:
    """For CANCELLING_CUSTOMER_SHARE of the customers, one invoice reversing lines of one of their purchases."""
    last_day = max(invoice.when for invoice in purchases).date()
    by_customer: dict[int, list[_Invoice]] = {}
    for invoice in purchases:
        if invoice.customer is not None:
            by_customer.setdefault(invoice.customer, []).append(invoice)
    cancellations = []
    for customer in sorted(by_customer):
        if rng.random() >= CANCELLING_CUSTOMER_SHARE:
            continue
        own = by_customer[customer]
        original = own[int(rng.integers(0, len(own)))]
        paid = [line for line in original.lines if line[2] > 0]
        if rng.random() < WHOLE_INVOICE_CANCELLED_SHARE:
            reversed_lines = [(product, -quantity, price) for product, quantity, price in paid]
        else:
            picked = rng.permutation(len(paid))[: int(rng.integers(1, len(paid) + 1))]
            reversed_lines = [(paid[i][0], -int(rng.integers(1, paid[i][1] + 1)), paid[i][2]) for i in sorted(picked)]
        when = _later(rng, original.when, last_day)
        cancellations.append(_Invoice(when, customer, tuple(reversed_lines), cancellation=True))
    return cancellations


def _lines(rng: np.random.Generator) -> tuple[tuple[int, int, float], ...]:
    """An invoice's lines: distinct products, drawn quantities, the product's price (or 0.0 on a free line)."""
    count = min(1 + int(rng.poisson(EXTRA_LINES_MEAN)), MAX_LINES)
    products = rng.permutation(PRODUCTS)[:count].tolist()
    draws = rng.random((2, count))
    quantities = _QUANTITY_SIZES[np.searchsorted(_QUANTITY_CUMULATIVE, draws[0], side="right")].tolist()
    free = (draws[1] < FREE_LINE_SHARE).tolist()
    free[0] = False  # every invoice has a paid line
    return tuple(
        (product, quantity, 0.0 if is_free else _price(product))
        for product, quantity, is_free in zip(products, quantities, free)
    )


def _price(product: int) -> float:
    """A product's unit price: fixed per product, so reversals and repeat purchases agree."""
    return PRICE_POINTS[(product * 7) % len(PRICE_POINTS)]


def _later(rng: np.random.Generator, after: dt.datetime, last_day: dt.date) -> dt.datetime:
    """A moment 1 to CANCELLED_WITHIN_DAYS days after `after`, within opening hours, but not after `last_day`
    (the export's last purchase day); on that day itself, a minute after `after` at the latest."""
    day = min(after.date() + dt.timedelta(days=int(rng.integers(1, CANCELLED_WITHIN_DAYS + 1))), last_day)
    when = _moment(rng, (day - PERIOD_START).days)
    return when if when > after else after + dt.timedelta(minutes=1)


def _moment(rng: np.random.Generator, day: int) -> dt.datetime:
    """A time of day within opening hours, to the minute, on the given day of the period."""
    opening, closing = OPENING_HOURS
    minute = int(rng.integers(opening * 60, closing * 60))
    return dt.datetime.combine(PERIOD_START + dt.timedelta(days=day), dt.time()) + dt.timedelta(minutes=minute)
