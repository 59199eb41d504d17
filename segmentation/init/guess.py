"""Guessing what a sampled file is (an orders table or the 20-field customer file) and which column holds which
field, from the columns' names first and their values second.

The result is data for the params file (`columns`, `format`, `returns`, `currency`) plus Findings: one per field,
with the column, sample values and what the analyst should check, for the command to print. Names and values from
the file are only compared and copied, never interpreted.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from segmentation.config.schema import field_names, field_types
from segmentation.core.errors import InputDataError
from segmentation.init.sniff import Sample
from segmentation.init.values import MARKS, DateGuess, guess_date_format, has_marks, parse_number, readable_marks

ORDERS, CUSTOMERS = "orders", "customers"
DEFAULT_CURRENCY = "USD"
EXAMPLES = 3

# Roles found by the words in a column's normalised name (lower case, words joined by "_", CamelCase split).
CUSTOMER_NAME = re.compile(r"(^|_)(customer|cust|client|kunde|kunden|kundennummer|kundennr|member|user|buyer|"
                           r"account|shopper|consumer|cliente|klant)(_?(id|no|nr|number|num|code))?(_|$)")
ORDER_ID_NAME = re.compile(r"(^|_)(invoice|order|transaction|receipt|basket|ticket|bill|rechnung|bestellung|beleg|"
                           r"facture|commande|txn|trans)(_?(id|no|nr|number|num|code))?(_|$)")
DATE_WORDS = re.compile(r"(date|time|datum|day|fecha)")
ORDER_DATE_NAME = re.compile(r"(order|invoice|purchase|transaction|sale|bestell|rechnung|kauf|buchung|txn)")
VALUE_NAME = re.compile(r"(^|_)(amount|value|total|revenue|sales|spent|spend|betrag|umsatz|montant|importe|sum|"
                        r"turnover|net|gross|paid|dollar|dollars|subtotal)(_|$)")
UNIT_PRICE_NAME = re.compile(r"(^|_)(price|unitprice|preis|einzelpreis|prix|precio|rate|cost|each)(_|$)")
QUANTITY_NAME = re.compile(r"(^|_)(qty|quantity|quantities|units|items|pieces|pcs|menge|anzahl|cantidad|quantite|"
                           r"count|cds|number_of|num_of|no_of)(_|$)")
# Customer fields also known by other names (after normalising).
SYNONYMS = {
    "customer_id": ("customer_id", "customer", "customer_no", "customer_number", "client_id", "cust_id", "id"),
    "country": ("country", "country_name", "land", "nation", "pays", "pais"),
    "city": ("city", "town", "stadt", "ort", "ville", "ciudad"),
    "gender": ("gender", "sex", "geschlecht"),
    "favorite_category": ("favorite_category", "favourite_category", "category", "product_category", "categorie",
                          "kategorie", "department"),
    "device_type": ("device_type", "device", "platform"),
}
# The order in which an orders table's findings are told (attributes, then the rest, follow).
ORDERS_FINDINGS = ("file", "customer id", "order date", "order id", "order value", "quantity", "returns")
PURCHASE_FIELDS = ("customer_id", "first_purchase_date", "last_purchase_date", "total_spent")
# Fields an orders table may describe a customer with: every customer-file field but the purchase ones and contacts.
NOT_ATTRIBUTES = {"customer_id", "name", "email", "first_purchase_date", "last_purchase_date", "total_spent",
                  "avg_order_value"}
FLOAT_ID = re.compile(r"\s*[+-]?\d+\.0+\s*")
RETURN_PREFIX = re.compile(r"[A-Za-z]{1,3}(?=\d)")
RETURN_SHARE = 0.9  # the share of a prefix's rows that must be negative (and of negative rows that carry it)
CURRENCY_BY_COUNTRY = {
    "united kingdom": "GBP", "uk": "GBP", "great britain": "GBP", "england": "GBP", "gb": "GBP",
    "united states": "USD", "united states of america": "USD", "usa": "USD", "us": "USD",
    "eire": "EUR", "ireland": "EUR", "germany": "EUR", "deutschland": "EUR", "de": "EUR", "france": "EUR",
    "fr": "EUR", "netherlands": "EUR", "nl": "EUR", "belgium": "EUR", "spain": "EUR", "es": "EUR", "italy": "EUR",
    "it": "EUR", "portugal": "EUR", "austria": "EUR", "österreich": "EUR", "at": "EUR", "finland": "EUR",
    "switzerland": "CHF", "schweiz": "CHF", "ch": "CHF", "australia": "AUD", "canada": "CAD", "japan": "JPY",
    "sweden": "SEK", "norway": "NOK", "denmark": "DKK", "india": "INR",
}


@dataclass(frozen=True)
class Column:
    """One column of the sample: its name, its non-empty values as text, and what they read as."""

    index: int
    name: str
    key: str  # the name normalised: lower case, words joined by "_"
    values: tuple[str, ...]
    empty: int  # sample rows where it is empty
    date: DateGuess | None
    marks: tuple[tuple[str, str | None], ...]  # the number marks every value reads with; () when not numbers

    @property
    def kind(self) -> str:
        """'date', 'number' or 'text'."""
        return "date" if self.date else "number" if self.marks else "text"

    def examples(self, count: int = EXAMPLES) -> list[str]:
        """The first distinct values."""
        return list(dict.fromkeys(self.values))[:count]

    @property
    def integer_valued(self) -> bool:
        """Whether every value is a whole number ("12", "17850.0")."""
        if not self.marks:
            return False
        numbers = [parse_number(v, *self.marks[0]) for v in self.values]
        return all(n is not None and n == int(n) for n in numbers)

    @property
    def distinct(self) -> int:
        """How many different values the sample holds."""
        return len(set(self.values))


@dataclass(frozen=True)
class Finding:
    """What was guessed for one field, for the analyst to read: the field, the file's columns it comes from (or
    words saying where), sample values, and what to check. Columns and examples are the file's text; `words` and
    `note` are generated."""

    label: str
    columns: tuple[str, ...] = ()
    words: str = ""
    examples: list[str] = field(default_factory=list)
    note: str = ""
    check: bool = False  # True: a guess the sample could not settle; the analyst should look
    joiner: str = ", "  # between columns: ", " or " × " (quantity × unit price)


def quoted(text: str, limit: int = 40) -> str:
    """A text from the file as one printable, quoted line: control and format characters escaped, long texts cut."""
    cut = text if len(text) <= limit else text[: limit - 1] + "…"
    escaped = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in cut)
    return '"' + escaped.replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Guess:
    """A file's kind, its column mapping, format and returns marker, and the findings behind them."""

    kind: str  # ORDERS or CUSTOMERS
    columns: dict[str, Any]  # field → column name (order_value may be {quantity, unit_price})
    format: dict[str, Any]
    returns: dict[str, Any] | None  # orders only
    currency: str
    findings: list[Finding]
    unused: list[str]  # columns not mapped


def profile(sample: Sample) -> list[Column]:
    """Every column of the sample with what its values read as."""
    columns = []
    for index, name in enumerate(sample.columns):
        values = sample.values(index)
        columns.append(Column(
            index=index, name=name, key=normalised(name), values=tuple(values), empty=len(sample.rows) - len(values),
            date=guess_date_format(values), marks=readable_marks(values),
        ))
    return columns


def normalised(name: str) -> str:
    """A column name in lower case with words joined by "_" ("Customer ID", "CustomerID" → customer_id)."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()


def guess(sample: Sample) -> Guess:
    """The file's kind and mapping: the 20-field customer file when its purchase fields are there by name, an
    orders table otherwise."""
    columns = profile(sample)
    customer_fields = _customer_file_fields(columns)
    if set(PURCHASE_FIELDS) <= set(customer_fields):
        return _customer_file(sample, columns, customer_fields)
    return _orders(sample, columns)


def _customer_file_fields(columns: list[Column]) -> dict[str, Column]:
    """The customer-file fields found by name (first column wins)."""
    found: dict[str, Column] = {}
    for name in field_names():
        for column in columns:
            if column.key == name or column.key in SYNONYMS.get(name, ()):
                if column not in found.values():
                    found[name] = column
                    break
    return found


def _customer_file(sample: Sample, columns: list[Column], found: dict[str, Column]) -> Guess:
    """The mapping of a customer file: only names that differ from the field are written."""
    findings = [Finding("file", words="the 20-field customer file (one row per customer)")]
    types = field_types()
    numbers = [found[f] for f in found if types[f] in ("int64", "float64")]
    decimal, thousands, number_findings = _number_marks(numbers)
    dates = [found[f] for f in ("first_purchase_date", "last_purchase_date")]
    date_format, date_findings = _date_format(dates, "purchase dates")
    for name, column in found.items():
        findings.append(Finding(name.replace("_", " "), (column.name,), examples=column.examples()))
    missing = [name for name in field_names() if name not in found]
    if missing:
        findings.append(Finding("not found", words=", ".join(missing), note="the run stops until each is mapped under "
                                "input: columns (field: the file's column name)", check=True))
    findings += date_findings + number_findings
    mapping = {name: column.name for name, column in found.items() if column.name != name}
    fmt = _format(sample, date_format, decimal, thousands)
    used = {column.index for column in found.values()}
    return Guess(CUSTOMERS, mapping, fmt, None, _currency(found.get("country"), findings), findings,
                 [c.name for c in columns if c.index not in used])


def _orders(sample: Sample, columns: list[Column]) -> Guess:
    """The mapping of an orders table: date, value (one column or quantity × unit price), customer, order id,
    returns and attribute columns."""
    findings: list[Finding] = [Finding("file", words="an orders table (one row per order or order line)")]
    used: set[int] = set()
    date = _order_date(columns, used)
    value, quantity = _value(columns, used, findings)
    customer = _customer(sample, columns, used)
    order_id = _by_name(columns, used, ORDER_ID_NAME, lambda c: c.kind != "date" and not DATE_WORDS.search(c.key))
    missing = [label for label, found in (("customer id", customer), ("order date", date), ("order value", value))
               if found is None]
    if missing:
        listed = ", ".join(f"{quoted(c.name)} ({c.kind})" for c in columns)
        raise InputDataError(
            f"{sample.path}: cannot tell which column holds the {' and the '.join(missing)}; columns found: {listed}; "
            "write the params by hand (README, Your own data) or rename the column"
        )
    mapping: dict[str, Any] = {"customer_id": customer.name, "order_date": date.name}
    findings.append(_customer_finding(customer, len(sample.rows), by_name=sample.header))
    date_format, date_findings = _date_format([date], "order dates")
    findings.append(Finding("order date", (date.name,), examples=date.examples(),
                            note=_date_words(date.date) + ("" if sample.header else "; guessed from the values"),
                            check=not sample.header))
    if order_id is not None:
        mapping["order_id"] = order_id.name
        findings.append(Finding("order id", (order_id.name,), examples=order_id.examples(),
                                note="rows with the same id are one order"))
    else:
        findings.append(Finding("order id", words="none", note="each purchase day of a customer counts as one order"))
    mapping["order_value"] = value
    if quantity is not None and isinstance(value, str):
        mapping["quantity"] = quantity.name
    attributes = _attributes(columns, used, findings)
    mapping.update(attributes)
    numbers = [c for c in columns if c.name in _value_columns(value) or (quantity is not None and c is quantity)]
    decimal, thousands, number_findings = _number_marks(numbers)
    returns, return_finding = _returns(sample, columns, order_id, value, quantity, decimal, thousands)
    findings.append(return_finding)
    findings += date_findings + number_findings
    country = next((c for c in columns if attributes.get("country") == c.name), None)
    currency = _currency(country, findings)
    fmt = _format(sample, date_format, decimal, thousands)
    findings.sort(key=lambda f: ORDERS_FINDINGS.index(f.label) if f.label in ORDERS_FINDINGS else len(ORDERS_FINDINGS))
    return Guess(ORDERS, mapping, fmt, returns, currency, findings, [c.name for c in columns if c.index not in used])


def _order_date(columns: list[Column], used: set[int]) -> Column | None:
    """The order date: a date column, one named like an order or invoice date first."""
    dates = [c for c in columns if c.kind == "date"]
    for wanted in (ORDER_DATE_NAME, DATE_WORDS, None):
        for column in dates:
            if wanted is None or wanted.search(column.key):
                used.add(column.index)
                return column
    return None


def _value(columns: list[Column], used: set[int],
           findings: list[Finding]) -> tuple[str | dict[str, str] | None, Column | None]:
    """The order value: a value column, else quantity × unit price; and a quantity column when there is one."""
    numbers = lambda c: c.kind == "number"  # noqa: E731 - a short filter
    value = _by_name(columns, used, VALUE_NAME, lambda c: numbers(c) and not UNIT_PRICE_NAME.search(c.key))
    quantity = _by_name(columns, used, QUANTITY_NAME, numbers)
    if value is not None:
        findings.append(Finding("order value", (value.name,), examples=value.examples(), note="the value of the row"))
        if quantity is not None:
            findings.append(Finding("quantity", (quantity.name,), examples=quantity.examples(),
                                    note="items in the row"))
        return value.name, quantity
    price = _by_name(columns, used, UNIT_PRICE_NAME, numbers)
    if price is not None and quantity is not None:
        findings.append(Finding("order value", (quantity.name, price.name), joiner=" × ",
                                examples=quantity.examples(1) + price.examples(1),
                                note="quantity × unit price of each row"))
        return {"quantity": quantity.name, "unit_price": price.name}, None
    if price is not None:
        findings.append(Finding("order value", (price.name,), examples=price.examples(),
                                note="a price column and no quantity: each row's value is taken as its price",
                                check=True))
        return price.name, None
    # no name to go by (e.g. a file without a header): the value is the last column with fractions, quantity a
    # whole-number column beside it
    fractional = [c for c in columns if numbers(c) and c.index not in used and not c.integer_valued]
    if not fractional:
        return None, quantity
    value = fractional[-1]
    used.add(value.index)
    findings.append(Finding("order value", (value.name,), examples=value.examples(),
                            note="guessed from the values: the last column with decimals", check=True))
    if quantity is None:
        quantity = _headerless_quantity(columns, used)
    if quantity is not None:
        findings.append(Finding("quantity", (quantity.name,), examples=quantity.examples(),
                                note="guessed from the values: the whole numbers with the fewest different values",
                                check=True))
    return value.name, quantity


def _headerless_quantity(columns: list[Column], used: set[int]) -> Column | None:
    """A whole-number column with the fewest different values (items per row repeat; ids do not)."""
    whole = [c for c in columns if c.index not in used and c.kind == "number" and c.integer_valued
             and not _leading_zeros(c)]
    if not whole:
        return None
    quantity = min(whole, key=lambda c: (c.distinct, c.index))
    used.add(quantity.index)
    return quantity


def _leading_zeros(column: Column) -> bool:
    """Whether some value starts with a zero before other digits ("00001": an id, not a count)."""
    return any(re.match(r"\s*0\d", value) for value in column.values)


def _customer(sample: Sample, columns: list[Column], used: set[int]) -> Column | None:
    """The customer id: by name, else (no header) the text or whole-number column with the most different values."""
    by_name = _by_name(columns, used, CUSTOMER_NAME, lambda c: c.kind != "date")
    if by_name is not None or sample.header:
        return by_name
    candidates = [c for c in columns if c.index not in used and (c.kind == "text" or c.integer_valued)]
    if not candidates:
        return None
    customer = max(candidates, key=lambda c: (c.distinct, -c.index))
    used.add(customer.index)
    return customer


def _customer_finding(customer: Column, rows: int, *, by_name: bool) -> Finding:
    """The customer id's finding: float-looking ids, empty ids, a guess from values."""
    notes = [] if by_name else ["guessed from the values: the column with the most different values"]
    if customer.values and all(FLOAT_ID.fullmatch(v) for v in customer.values):
        example = customer.values[0].strip()
        notes.append(f"ids written like {example} are read as {example.split('.')[0]}")
    if customer.empty:
        notes.append(f"{customer.empty / rows:.0%} of the sampled rows have none, left out")
    return Finding("customer id", (customer.name,), examples=customer.examples(), note="; ".join(notes),
                   check=not by_name)


def _by_name(columns: list[Column], used: set[int], pattern: re.Pattern[str], accept: Any) -> Column | None:
    """The first unused column whose normalised name matches `pattern` and that `accept`s; marked used."""
    for column in columns:
        if column.index not in used and pattern.search(column.key) and accept(column):
            used.add(column.index)
            return column
    return None


def _value_columns(value: str | dict[str, str] | None) -> set[str]:
    """The column names the order value is read from."""
    if isinstance(value, dict):
        return set(value.values())
    return {value} if value else set()


def _attributes(columns: list[Column], used: set[int], findings: list[Finding]) -> dict[str, str]:
    """Customer attributes an orders table carries (country, category, …), by name: per customer the most
    frequent value of its orders."""
    found = {}
    for name in field_names():
        if name in NOT_ATTRIBUTES:
            continue
        for column in columns:
            if column.index in used or column.kind == "date":
                continue
            if column.key == name or column.key in SYNONYMS.get(name, ()):
                used.add(column.index)
                found[name] = column.name
                findings.append(Finding(name.replace("_", " "), (column.name,), examples=column.examples(),
                                        note="per customer: the most frequent value among its orders"))
                break
    return found


def _returns(sample: Sample, columns: list[Column], order_id: Column | None, value: Any, quantity: Column | None,
             decimal: str, thousands: str | None) -> tuple[dict[str, Any], Finding]:
    """The returns policy (net) and, when the order ids of negative rows share a letter prefix that other ids
    lack (Online Retail's "C" invoices), an order-id pattern."""
    signed = {c.index for c in columns if c.name in _value_columns(value) or (quantity and c is quantity)}
    negative_rows = [row for row in sample.rows if any(_negative(row[i], decimal, thousands) for i in signed)]
    returns: dict[str, Any] = {"policy": "net"}
    if not negative_rows:
        return returns, Finding("returns", words="none in the sample",
                                note="rows with a negative quantity or value would be netted against purchases")
    count = len(negative_rows)
    what = f"{count:,} sampled {'row has' if count == 1 else 'rows have'} a negative quantity or value"
    if order_id is not None:
        prefix = _return_prefix(sample.rows, negative_rows, order_id.index, decimal, thousands, signed)
        if prefix is not None:
            returns["order_id_pattern"] = f"^{prefix}"
            examples = list(dict.fromkeys(r[order_id.index] for r in negative_rows if r[order_id.index]))[:EXAMPLES]
            return returns, Finding("returns", words=f"order ids starting with {prefix}", examples=examples,
                                    note=f"{what}; they are netted against the same customer's purchases")
    return returns, Finding("returns", words="rows with a negative quantity or value", note=f"{what}; netted against "
                            "the same customer's purchases")


def _return_prefix(rows: tuple[tuple[str | None, ...], ...], negative_rows: list[tuple[str | None, ...]],
                   id_index: int, decimal: str, thousands: str | None, signed: set[int]) -> str | None:
    """The letter prefix nearly all negative rows' order ids carry, and nearly only they, or None."""
    prefixes = Counter(_prefix(row[id_index]) for row in negative_rows)
    prefix, count = prefixes.most_common(1)[0]
    if prefix is None or count < RETURN_SHARE * len(negative_rows):
        return None
    carrying = [row for row in rows if _prefix(row[id_index]) == prefix]
    negative = sum(1 for row in carrying if any(_negative(row[i], decimal, thousands) for i in signed))
    plain = any(_prefix(row[id_index]) is None and row[id_index] for row in rows)
    return prefix if plain and negative >= RETURN_SHARE * len(carrying) else None


def _prefix(order_id: str | None) -> str | None:
    """The letters an order id starts with before its digits ("C489449" → "C"), or None."""
    match = RETURN_PREFIX.match(order_id.strip()) if order_id else None
    return match.group(0) if match else None


def _negative(text: str | None, decimal: str, thousands: str | None) -> bool:
    """Whether a value reads as a number below zero."""
    number = parse_number(text, decimal, thousands) if text else None
    return number is not None and number < 0


def _date_format(columns: list[Column], what: str) -> tuple[str | None, list[Finding]]:
    """The date format the columns share, and a finding when day and month order is a guess."""
    guesses = [c.date for c in columns if c.date is not None]
    if not guesses:
        return None, []
    formats = {g.format for g in guesses}
    chosen = guesses[0]
    findings = []
    if len(formats) > 1:
        findings.append(Finding("dates", words=f"{what} are written in different formats",
                                note=f"using {chosen.format}", check=True))
    if all(g.ambiguous for g in guesses):
        order = "day first" if chosen.day_first else "month first"
        findings.append(Finding("date order", words=f"{order}, format {chosen.format}", check=True,
                                note="no day above 12 in the sample, so day-first and month-first both fit: "
                                "check a date you know"))
    return chosen.format, findings


def _date_words(date: DateGuess) -> str:
    """A date format in words."""
    if date.has_time:
        return f"date and time, format {date.format}; the time is ignored"
    return f"date, format {date.format}"


def _number_marks(columns: list[Column]) -> tuple[str, str | None, list[Finding]]:
    """The decimal and thousands marks every number column reads with; findings when the sample cannot tell."""
    columns = [c for c in columns if c.marks]
    if not columns:
        return ".", None, []
    shared = [m for m in MARKS if all(m in c.marks for c in columns)]
    findings = []
    if not shared:
        shared = list(columns[0].marks)
        findings.append(Finding("numbers", tuple(c.name for c in columns), check=True,
                                note="these columns use different decimal or thousands marks: the first one's "
                                "are used"))
    decimal, thousands = shared[0]
    values = [v for c in columns for v in c.values]
    words = ("decimal point" if decimal == "." else "decimal comma") + (
        ", no thousands mark" if thousands is None else f", thousands mark {thousands!r}")
    ambiguous = has_marks(values) and len({d for d, _ in shared}) > 1
    if ambiguous:
        example = next(v for v in values if any(mark in v for mark in ".,"))
        findings.append(Finding("numbers", words=words, examples=[example], check=True,
                                note="no value shows which mark is the decimal one: check that the example is read "
                                "as you mean it"))
    else:
        findings.append(Finding("numbers", words=words))
    return decimal, thousands, findings


def _format(sample: Sample, date_format: str | None, decimal: str, thousands: str | None) -> dict[str, Any]:
    """The params' `format` section, every key written out."""
    return {"separator": sample.separator, "header": sample.header, "date_format": date_format or "%Y-%m-%d",
            "decimal": decimal, "thousands": thousands}


def _currency(country: Column | None, findings: list[Finding]) -> str:
    """The ISO 4217 code of the most frequent country's currency, else USD; always one to check."""
    if country is not None and country.values:
        most, _ = Counter(v.strip() for v in country.values).most_common(1)[0]
        code = CURRENCY_BY_COUNTRY.get(most.lower())
        if code:
            findings.append(Finding("currency", words=code, examples=[most],
                                    note="guessed from the most frequent country", check=True))
            return code
    findings.append(Finding("currency", words=DEFAULT_CURRENCY, note="amounts carry no currency: set currency to your "
                            "ISO 4217 code, such as GBP or EUR", check=True))
    return DEFAULT_CURRENCY
