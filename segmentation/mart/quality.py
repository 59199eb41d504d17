"""Validated stage: parse the raw fields, run every data-quality check, apply each check's policy, record it all.

Every check is one Ibis predicate over the parsed table (true = the row fails). One pass over the input stores
the typed fields with the result of every check a row decides alone; counts for all checks come from one
aggregate; `fail` stops the run, `drop` removes rows, `flag` keeps them and names the check in `dq_flags`.
What the validated fields promise (types, no nulls, ranges the policies guarantee) is checked on the written mart
in one query; pandera describes a broken promise.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
from ibis import _
from ibis.backends import BaseBackend

from segmentation.config.params import (
    DATE_DIRECTIVES,
    NUMBER_LIMIT,
    QUALITY_CHECKS,
    TIME_DIRECTIVES,
    FileFormat,
    Params,
    PlausibleParams,
)
from segmentation.config.schema import PERSONAL_FIELDS, field_types
from segmentation.core.errors import InputDataError, describe_rows
from segmentation.core.stats import whole
from segmentation.mart.engine import store
from segmentation.mart.load import ROW, store_rows

if TYPE_CHECKING:
    import pandera.ibis

RAW = "raw_"  # prefix of the unparsed text columns kept while checking
FLAGS = "dq_flags"
FAILS = "fails_"  # prefix of the stored yes/no column of each check
ROW_HASH = "row_hash"  # hash of all 20 fields as written: finds exact copies and breaks ties between customers
OPTIONAL_FIELDS = ("name", "email", "city")  # blank is tolerated: not needed for RFM or segment profiles
RANGES = {"age": (18, 80), "credit_score": (300, 850), "churn_risk": (0, 1)}
MONEY = ("total_spent", "avg_order_value", "income")
DATES = ("first_purchase_date", "last_purchase_date")
EXAMPLES = 5
MIN_AOV = 0.01  # a positive average order value below one cent is implausible: total ÷ it overflows the frequency


@dataclass(frozen=True)
class Check:
    """One data-quality check: which fields it reads and the predicate that is true on a failing row."""

    id: str
    fields: tuple[str, ...]
    failing: Callable[[ibis.Table], ibis.BooleanValue]
    # for checks that test each field alike: the predicate on one field (names the failing fields in an error)
    field_failing: Callable[[ibis.Table, str], ibis.BooleanValue] | None = None
    bounds: str = ""  # the bounds from the params this run used, for error messages

    @classmethod
    def each(cls, check_id: str, fields: Sequence[str], one: Callable[[ibis.Table, str], ibis.BooleanValue],
             bounds: str = "") -> Check:
        """A check that fails a row when any of `fields` fails `one`."""
        return cls(check_id, tuple(fields), lambda t: any_of(one(t, n) for n in fields), one, bounds)

    @property
    def description(self) -> str:
        """What the check looks for, in words."""
        return QUALITY_CHECKS[self.id][1]


@dataclass
class CheckResult:
    """What one check found and what was done about it."""

    id: str
    description: str
    fields: list[str]
    policy: str
    count: int
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def action(self) -> str:
        """What was done, for the console line of `validate` (not stored: the report words it from policy and
        count)."""
        if not self.count:
            return "none needed"
        return {"drop": "dropped", "flag": "kept and flagged"}.get(self.policy, self.policy) + \
            f" {describe_rows(self.count)}"


@dataclass(frozen=True)
class ReferenceExclusion:
    """What an explicit reference date leaves out: `count` of `total` customers or orders (`unit`), and why."""

    reference_date: dt.date
    unit: str  # "customers" or "orders"
    count: int
    total: int
    why: str  # e.g. "whose purchase dates fall on or after it"

    @property
    def share(self) -> float:
        """The part of the total left out (0 when there is none)."""
        return self.count / self.total if self.total else 0.0

    def describe(self) -> str:
        """One console line: 'reference date 2026-05-01 excludes 41,223 of 100,000 customers (41.2%) whose …'."""
        return (f"reference date {self.reference_date} excludes {self.count:,} of {self.total:,} {self.unit} "
                f"({self.share:.1%}) {self.why}")


def check_exclusion(exclusion: ReferenceExclusion, params: Params, source: Path | str | None) -> None:
    """Stop, in one line naming the two settings that decide it, when the reference date leaves out more than
    `max_excluded_by_reference` of the customers or orders."""
    limit = params.max_excluded_by_reference
    if exclusion.share <= limit:
        return
    raise InputDataError(
        f"{source}: {exclusion.describe()}, more than max_excluded_by_reference ({limit:.1%}) allows; set a later "
        f"reference_date in {params.path} (or null: the day after the latest purchase), or raise "
        f"max_excluded_by_reference there"
    )


@dataclass
class QualityReview:
    """The validated table and the review that produced it."""

    table: ibis.Table
    reference_date: dt.date
    rows_in: int
    rows_out: int
    duplicate_ids: dict[str, int]
    checks: list[CheckResult]
    optional: tuple[str, ...] = OPTIONAL_FIELDS  # fields allowed to be empty
    orders: dict[str, Any] | None = None  # the orders table's part of the review (transaction input only)
    plausible: PlausibleParams = field(default_factory=PlausibleParams)  # the bounds the checks used
    # the earliest purchase date after the day of the run (left out as implausible): it counts once that day comes
    first_future_day: dt.date | None = None
    # every input row with its flags (`table` has none), dropped ones too: joined to a table that only validated
    # rows are in (the id numbers), it gives the validated rows without filtering them again
    flagged: ibis.Table | None = None
    # what an explicit reference date left out (orders, and the customers they leave without one, come first)
    exclusions: tuple[ReferenceExclusion, ...] = ()

    def to_json(self, input_path: Path | str | None) -> dict[str, Any]:
        """The review as written to data_quality.json (order checks, if any, come first in `checks`)."""
        found = {
            "input": None if input_path is None else str(input_path),
            "reference_date": self.reference_date.isoformat(),
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "duplicate_ids": self.duplicate_ids,
            "checks": [vars(c) for c in self.checks],
            # as set in the params: a null latest_date means the day of the run (kept null so reruns match)
            "plausible": {
                "earliest_date": self.plausible.earliest_date.isoformat(),
                "latest_date": None if self.plausible.latest_date is None else self.plausible.latest_date.isoformat(),
                "max_money": self.plausible.max_money,
            },
        }
        if self.orders is not None:
            found["orders"] = self.orders
        return found


def parse(raw: ibis.Table, fmt: FileFormat | None = None) -> ibis.Table:
    """The customer file's fields typed (null where a value does not parse), non-text ones also as written."""
    return parse_fields(raw, field_types(), fmt=fmt, ids=("customer_id",))


def parse_fields(raw: ibis.Table, types: dict[str, str], keep: Sequence[str] = (ROW,),
                 any_type: Sequence[str] = (), fmt: FileFormat | None = None,
                 ids: Sequence[str] = ()) -> ibis.Table:
    """`keep` plus each field of `types` typed (null where a value does not parse) and, for non-text fields, its
    text as written (`raw_<name>`). Fields in `any_type` keep a non-text type they arrive with (only compared).
    Text is read as `fmt` says (decimal and thousands marks, date format); fields in `ids` are normalised
    (`normalise_id`)."""
    fmt = fmt or FileFormat()
    typed = {}
    for name, kind in types.items():
        column = raw[name]
        if column.type() == ibis.dtype(kind) or (name in any_type and not column.type().is_string()):
            written = column.nullif("") if column.type().is_string() else column  # typed input: nothing to parse
            parsed = written
        else:
            written = column.cast("string").nullif("")
            parsed = written if kind == "string" else parse_text(written, kind, fmt)
        if name in ids and parsed.type().is_string():
            parsed = normalise_id(parsed)
            written = parsed
        if ibis.dtype(kind).is_numeric():
            parsed = usable_number(parsed)
        if kind != "string":
            typed[RAW + name] = written
        typed[name] = parsed
    return raw.select(*keep, **typed)


def normalise_id(value: ibis.StringValue) -> ibis.StringValue:
    """An id as text by one rule: surrounding spaces stripped; an integer-valued float text ("17850.0",
    "17850.00", as spreadsheets write ids) is the integer ("17850"); empty is missing."""
    # most ids need nothing: the strip and the regex run only where a space or a point is
    needs = value.startswith(" ") | value.endswith(" ") | value.contains(".")
    stripped = value.strip()
    whole_float = ibis.ifelse(stripped.re_search(r"^[0-9]+\.0+$"), stripped.re_replace(r"\.0+$", ""), stripped)
    return ibis.ifelse(needs, whole_float, value).nullif("")


def parse_text(text: ibis.StringValue, kind: str, fmt: FileFormat) -> ibis.Value:
    """A text column parsed as `kind` the way `fmt` writes it; null where it does not parse (never a guess)."""
    if kind == "date":
        return parse_date(text, fmt.date_format)
    if ibis.dtype(kind).is_numeric() and not fmt.plain_numbers:
        return parse_number(text, kind, fmt)
    return text.try_cast(kind)


def parse_number(text: ibis.StringValue, kind: str, fmt: FileFormat) -> ibis.NumericValue:
    """A number written with `fmt`'s decimal mark and, optionally, thousands mark. A mark in the wrong place is no
    number: with decimal ',' and no thousands mark, '1.006' does not parse (thousands or a decimal point?)."""
    valid = text.re_search(number_pattern(fmt))
    plain = text
    if fmt.thousands is not None:
        plain = plain.re_replace(thousands_class(fmt.thousands), "")
    if fmt.decimal == ",":
        plain = plain.replace(",", ".")
    return ibis.ifelse(valid, plain.try_cast(kind), ibis.null(kind))


def number_pattern(fmt: FileFormat) -> str:
    """The regular expression a number written in `fmt` matches (sign, digits grouped by the thousands mark or not,
    decimal part)."""
    decimal = re.escape(fmt.decimal)
    digits = "[0-9]+"
    if fmt.thousands is not None:
        digits = f"([0-9]{{1,3}}({thousands_class(fmt.thousands)}[0-9]{{3}})+|[0-9]+)"
    return f"^[+-]?({digits}({decimal}[0-9]*)?|{decimal}[0-9]+)$"


def thousands_class(mark: str) -> str:
    """The thousands mark as a regex character class (a space also as no-break and narrow no-break space)."""
    return "[ \u00a0\u202f]" if mark == " " else f"[{re.escape(mark)}]"


def parse_date(text: ibis.StringValue, date_format: str | None) -> ibis.DateValue:
    """A date written in `date_format` (strptime), or an ISO date without one; a time part is cut off (a day is
    all the mart needs). Built as ISO text and cast, so an impossible day (2010-02-30) does not parse."""
    if date_format is None:
        iso = text.try_cast("date")
        # a date-time the engine's date cast refuses (a zone, a 'T' on some engines): cut to the day
        cut = text.length().cast("int64") > 10
        return ibis.ifelse(iso.isnull() & cut & text.substr(10, 1).isin([" ", "T"]),
                           text.substr(0, 10).try_cast("date"), iso)
    pattern, groups = date_regex(date_format)
    year = text.re_extract(pattern, groups["year"])
    if "y" in groups:  # two-digit year: 69–99 are 1969–1999, 00–68 are 2000–2068 (as Python's strptime)
        year = ibis.ifelse(year.try_cast("int64") >= 69, "19", "20") + year
    month = text.re_extract(pattern, groups["month"])
    if "b" in groups:
        month = month.lower().substr(0, 3).substitute(_MONTHS, else_="")
    day = text.re_extract(pattern, groups["day"])
    iso = year + "-" + month.lpad(2, "0") + "-" + day.lpad(2, "0")
    return ibis.ifelse(text.re_search(pattern), iso.try_cast("date"), ibis.null("date"))


_MONTHS = {name: f"{i:02d}" for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_DIRECTIVE_PATTERNS = {
    "Y": "([0-9]{4})", "y": "([0-9]{2})", "m": "([0-9]{1,2})", "d": "([0-9]{1,2})", "b": "([A-Za-z]+)",
    "B": "([A-Za-z]+)", "H": "[0-9]{1,2}", "I": "[0-9]{1,2}", "M": "[0-9]{1,2}", "S": "[0-9]{1,2}",
    "f": "[0-9]{1,9}", "p": "[AaPp][Mm]", "z": "(?:Z|[+-][0-9]{2}:?[0-9]{2})", "Z": "[A-Za-z]+",
    "a": "[A-Za-z]+", "A": "[A-Za-z]+",
}


def unparsable_error(source: Path | str | None, name: str, column: str, kind: str, count: int,
                     examples: Sequence[tuple[int, str]], fmt: FileFormat, section: str, fix: str) -> InputDataError:
    """One line for a field whose values do not parse: the field (and its column), how many values, up to five of
    them with their rows, and a hint when the values look like another format (else `fix`)."""
    where = name if column == name else f"{name} (column {column!r})"
    shown = ", ".join(f"row {row} {value!r}" for row, value in examples[:EXAMPLES])
    more = ", …" if count > len(examples[:EXAMPLES]) else ""
    values = "value does" if count == 1 else "values do"
    hint = format_hint([value for _row, value in examples], kind, fmt, section)
    return InputDataError(f"{source}: field {where}: {count:,} {values} not parse as {_written_as(kind, fmt)}: "
                          f"{shown}{more}; {hint or fix}")


def _written_as(kind: str, fmt: FileFormat) -> str:
    """What a field's values must look like, in words."""
    if kind == "date":
        return f"dates in the format {fmt.date_format!r}" if fmt.date_format else "ISO dates (YYYY-MM-DD)"
    if kind == "boolean":
        return "true or false"
    marks = f"decimal {fmt.decimal!r}" + (f" and thousands {fmt.thousands!r}" if fmt.thousands else "")
    noun = "whole numbers" if ibis.dtype(kind).is_integer() else "numbers"
    return f"{noun} with {marks} (finite, within ±1e12)"


def format_hint(values: Sequence[str], kind: str, fmt: FileFormat, section: str) -> str | None:
    """The setting that would read these unparsed values, when they look like another format: the first hint any
    value gives, naming the value ("'19,60' looks like a decimal comma: set transactions.format.decimal: ','")."""
    hints = _date_hint if kind == "date" else _number_hint
    if kind == "boolean":
        return None
    for value in values:
        hint = hints(str(value).strip(), fmt, f"{section}.format")
        if hint:
            return f"{value!r} {hint}"
    return None


def _date_hint(value: str, fmt: FileFormat, keys: str) -> str | None:
    """What a date that did not parse looks like, and the date_format that reads it."""
    found = re.match(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?!\d)", value)
    if found:
        first, sep, second = int(found[1]), found[2], int(found[3])
        year = "%Y" if len(found[4]) == 4 else "%y"
        day_first, month_first = f"%d{sep}%m{sep}{year}", f"%m{sep}%d{sep}{year}"
        if first > 12 and second <= 12 and fmt.date_format != day_first:
            return f"looks like day/month/year: set {keys}.date_format: {day_first!r}"
        if second > 12 and first <= 12 and fmt.date_format != month_first:
            return f"looks like month/day/year: set {keys}.date_format: {month_first!r}"
        if first <= 12 and second <= 12 and fmt.date_format not in (day_first, month_first):
            return (f"is day/month/year or month/day/year: set {keys}.date_format: {day_first!r} or "
                    f"{month_first!r}")
        return None
    guesses = [
        (r"\d{8}", "looks like year, month and day without separators", "%Y%m%d"),
        (r"\d{4}/\d{1,2}/\d{1,2}", "looks like year/month/day", "%Y/%m/%d"),
        (r"\d{1,2}([ /-])[A-Za-z]{3}\1\d{4}", "looks like day, month name and year", None),
    ]
    for pattern, words, suggested in guesses:
        match = re.match(pattern + r"(?![0-9])", value)
        if match:
            suggested = suggested or f"%d{match[1]}%b{match[1]}%Y"
            return None if fmt.date_format == suggested else f"{words}: set {keys}.date_format: {suggested!r}"
    if fmt.date_format and re.match(r"\d{4}-\d{1,2}-\d{1,2}(?![0-9])", value):
        return f"looks like an ISO date: remove {keys}.date_format (ISO dates need none)"
    return None


def _number_hint(value: str, fmt: FileFormat, keys: str) -> str | None:
    """What a number that did not parse looks like, and the decimal / thousands setting that reads it."""
    if re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+,\d*", value) and (fmt.decimal, fmt.thousands) != (",", "."):
        return f"looks like a decimal comma with '.' between thousands: set {keys}.decimal: ',' and thousands: '.'"
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+\.\d*", value) and fmt.thousands != ",":
        return f"looks like ',' between thousands: set {keys}.thousands: ','"
    if fmt.decimal == "." and re.fullmatch(r"[+-]?\d{1,3},\d{3}", value):
        return (f"is a decimal comma or ',' between thousands: set {keys}.decimal: ',' (and check the other "
                f"values) or thousands: ','")
    if fmt.decimal == "." and re.fullmatch(r"[+-]?\d*,\d+", value):
        return f"looks like a decimal comma: set {keys}.decimal: ','"
    if fmt.decimal == "," and fmt.thousands != "." and re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+", value):
        return (f"is ambiguous with decimal ',' and no thousands mark (a decimal point, or '.' between "
                f"thousands?): if '.' groups thousands, set {keys}.thousands: '.'")
    if fmt.decimal == "," and re.fullmatch(r"[+-]?\d*\.\d+", value):
        return f"looks like a decimal point: set {keys}.decimal: '.'"
    if fmt.thousands is None and re.fullmatch(r"[+-]?\d{1,3}([ '\u00a0\u202f]\d{3})+([.,]\d*)?", value):
        mark = "\"'\"" if "'" in value else "' '"
        return f"looks like {mark} between thousands: set {keys}.thousands: {mark}"
    if re.search(r"\d", value) and re.search(r"[£$€¥]", value):
        return "carries a currency sign: write amounts as plain numbers (the currency is set in the params)"
    return None


def date_regex(date_format: str) -> tuple[str, dict[str, int]]:
    """A strptime format as an anchored regular expression, and the group number of its year, month and day
    ("y" / "b" keys mark a two-digit year and a month name). Whitespace matches any run of whitespace, as in
    strptime; without a time directive, a time part after a space or 'T' is allowed (and ignored)."""
    pieces, groups, group = ["^"], {}, 0
    tokens = re.findall(r"%.|\s+|[^%\s]+", date_format)
    for token in tokens:
        if token == "%%":
            pieces.append("%")
        elif token.startswith("%"):
            directive = token[1]
            pieces.append(_DIRECTIVE_PATTERNS[directive])
            if directive in DATE_DIRECTIVES:
                group += 1
                groups[DATE_DIRECTIVES[directive]] = group
                if directive in "yb" or directive == "B":
                    groups["y" if directive == "y" else "b"] = group
        elif token.isspace():
            pieces.append("\\s+")
        else:
            pieces.append(re.escape(token))
    if not any(t.startswith("%") and t[1] in TIME_DIRECTIVES for t in tokens):
        pieces.append("(?:[ T][0-9].*)?")
    pieces.append("$")
    return "".join(pieces), groups


def usable_number(value: ibis.NumericValue) -> ibis.NumericValue:
    """The value, or null where it is NaN, ±inf or beyond ±NUMBER_LIMIT (such a value counts as not parsed)."""
    usable = value.between(-NUMBER_LIMIT, NUMBER_LIMIT)
    if value.type().is_floating():
        usable = ~value.isnan() & ~value.isinf() & usable
    return ibis.ifelse(usable, value, ibis.null(value.type()))


def as_written(name: str) -> str:
    """The column holding a field's text as written in the file."""
    return name if field_types()[name] == "string" else RAW + name


def checks(reference_date: dt.date, optional: tuple[str, ...] = OPTIONAL_FIELDS,
           plausible: PlausibleParams | None = None, today: dt.date | None = None) -> list[Check]:
    """All checks, in report order; predicates treat an unknown (null) outcome as passing. The date window ends on
    plausible.latest_date or, by default, on `today` (the day of the run)."""
    found = {c.id: c for c in [*row_checks(optional, plausible, today), *table_checks(reference_date)]}
    return [found[cid] for cid in QUALITY_CHECKS]


def row_checks(optional: tuple[str, ...] = OPTIONAL_FIELDS, plausible: PlausibleParams | None = None,
               today: dt.date | None = None) -> list[Check]:
    """The checks a row passes or fails on its own, on the parsed fields and their text as written."""
    plausible = plausible or PlausibleParams()
    types = field_types()
    required = [n for n in types if n not in optional]
    parsed_kinds = [n for n, k in types.items() if k not in ("string", "date")]
    return [
        Check.each("nulls", required, lambda t, n: t[as_written(n)].isnull()),
        Check.each("unparsable_values", parsed_kinds, _unparsed),
        Check.each("unparsable_dates", DATES, _unparsed),
        Check.each("implausible_dates", DATES, lambda t, n: ~in_window(t[n], plausible, today),
                   f"{plausible.earliest_date} to {plausible.latest(today)}"),
        Check.each("out_of_range", RANGES, lambda t, n: ~t[n].between(*RANGES[n])),
        Check("last_before_first", DATES, lambda t: t.last_purchase_date < t.first_purchase_date),
        Check.each("negative_money", MONEY, lambda t, n: t[n] < 0),
        Check.each("implausible_money", MONEY, lambda t, n: _implausible_money(t[n], n, plausible.max_money),
                   f"max_money {plausible.max_money:,}"),
        Check("aov_not_positive", ("avg_order_value",), lambda t: t.avg_order_value <= 0),
        # one cent of slack: both values are rounded to cents independently
        Check(
            "aov_above_total", ("avg_order_value", "total_spent"),
            lambda t: t.avg_order_value > t.total_spent + 0.01,
        ),
    ]


def table_checks(reference_date: dt.date) -> list[Check]:
    """The checks that need the whole table (its reference date, or the other rows), on the typed fields and the
    marks of `mark_repeats`."""
    ref = ibis.date(reference_date)
    return [
        Check.each("dates_after_reference", DATES, lambda t, n: t[n] >= ref),
        Check("duplicate_ids", ("customer_id",), lambda t: t.id_rows > 1),
        Check("duplicate_rows", tuple(field_types()), lambda t: t.copy_number > 1),
    ]


def _implausible_money(value: ibis.NumericValue, name: str, max_money: float) -> ibis.BooleanValue:
    """Beyond ±max_money; an average order value also when above zero but below one cent."""
    beyond = value.abs() > max_money
    return beyond | ((value > 0) & (value < MIN_AOV)) if name == "avg_order_value" else beyond


def in_window(date: ibis.DateValue, plausible: PlausibleParams, today: dt.date | None = None) -> ibis.BooleanValue:
    """Whether a date lies in the plausible window (null stays null)."""
    return date.between(ibis.date(plausible.earliest_date), ibis.date(plausible.latest(today)))


def reference_date_for(parsed: ibis.Table, params: Params, source: Path | str | None = None,
                       today: dt.date | None = None) -> dt.date:
    """The params' reference date, or the day after the latest last purchase inside the plausible date window
    (a purchase dated 2099 must not move it)."""
    if params.reference_date is not None:
        return params.reference_date
    source = source or params.input_path
    plausible = params.plausible
    last = parsed.last_purchase_date
    found = parsed.aggregate(
        rows=_.count(), latest=ibis.ifelse(in_window(last, plausible, today), last, None).max(),
    ).execute().iloc[0]
    if not whole(found["rows"]):
        raise no_rows(source)
    if is_missing(found["latest"]):
        raise InputDataError(
            f"{source}: field last_purchase_date: none of the {describe_rows(whole(found['rows']))} has a date between "
            f"{plausible.earliest_date} and {plausible.latest(today)}, so there is no reference date; fix the dates, "
            f"or set reference_date (or plausible.earliest_date / latest_date) in {params.path}"
        )
    return as_date(found["latest"]) + dt.timedelta(days=1)


def no_rows(source: Path | str | None) -> InputDataError:
    """The error for an input without data rows."""
    return InputDataError(f"{source}: no data rows (only a header?); expected one customer per row")


def review(con: BaseBackend, raw: ibis.Table, params: Params, *, source: Path | str | None = None,
           reference_date: dt.date | None = None, optional: tuple[str, ...] = OPTIONAL_FIELDS,
           orders: dict[str, Any] | None = None, order_checks: list[CheckResult] = (),
           today: dt.date | None = None, file_order: bool = False,
           exclusions: Sequence[ReferenceExclusion] = ()) -> QualityReview:
    """Run every check on the raw table, apply the policies, and return the validated table with the review.

    One pass over the raw table parses it and runs every check a row decides alone into a stored table (typed
    fields, the row hash, one yes/no column per check); the reference date, the checks that need the whole table,
    the counts, the validated rows and the flags are then cheap reads of it. The raw table is read again only for
    examples of failing checks on fields that are not text, and to compare rows that share a hash. `source` names
    the input in error messages (default: the params' customer file); `optional` lists the fields that may be
    empty. With transaction input, `orders` and `order_checks` are the orders table's review, reported ahead of the
    customer checks. `today` (the day of the run by default) ends the plausible date window unless the params set
    plausible.latest_date. `file_order`: `raw` is the customer file as read, row for row (`load.store_rows`). No
    row left after the checks stops the run, naming the checks that removed the rows. An explicit reference date
    that drops more than `max_excluded_by_reference` of the rows stops it too; `exclusions` are what it left out of
    the orders, reported first.
    """
    parsed = parse(raw, params.input_format)
    source = source or params.input_path
    today = today or dt.date.today()
    kept = [n for n in field_types() if n not in PERSONAL_FIELDS]
    on_rows = row_checks(optional, params.plausible, today)
    checked = store_rows(
        con, "checked",
        parsed.select(ROW, *kept, **{ROW_HASH: row_hash(parsed)},
                      **{FAILS + c.id: c.failing(parsed).fill_null(False) for c in on_rows}),
        file_order=file_order,
    )
    reference_date = reference_date or reference_date_for(checked, params, source, today)
    repeats = mark_repeats(con, parsed, checked, unique_ids=orders is not None)
    marked = repeats.mark(checked)
    all_checks = checks(reference_date, optional, params.plausible, today)
    fails = _fails(marked, all_checks)
    drop_ids = [c.id for c in all_checks if params.quality[c.id] == "drop"]
    dropped = any_of(fails[cid] for cid in drop_ids)
    future = {}
    if params.plausible.latest_date is None:  # the window ends on the day of the run, so it moves with the clock
        after_today = [ibis.ifelse(marked[n] > ibis.date(today), marked[n], None).min() for n in DATES]
        future = {"first_future_day": ibis.least(*after_today)}
    by_reference = _reference_counts(fails, drop_ids) if _reference_drops(params) else {}
    counts = marked.aggregate(
        **future,
        **by_reference,
        rows=_.count(),
        dropped=(dropped if dropped is not None else ibis.literal(False)).cast("int64").sum(),
        **{cid: fail.cast("int64").sum() for cid, fail in fails.items()},
    ).execute().iloc[0]
    rows_in = int(counts["rows"])

    failing = [c for c in all_checks if whole(counts[c.id])]
    examples = _examples(parsed, marked, {c.id: (fails[c.id], c.fields) for c in failing})
    results = []
    for check in all_checks:
        policy = params.quality[check.id]
        count = whole(counts[check.id])
        result = CheckResult(check.id, check.description, list(check.fields), policy, count)
        if count:
            result.examples = examples[check.id]
            if policy == "fail" and check.id in ("unparsable_values", "unparsable_dates"):
                raise _unparsable_failed(source, params, parsed, check)
            if policy == "fail":
                raise _failed(source, params, parsed, check, count, [e[ROW] for e in result.examples])
        results.append(result)
    if by_reference:
        exclusions = (*exclusions, *_excluded_by_reference(params, reference_date, whole(counts["only_by_reference"]),
                                                          whole(counts["usable"]), source))

    rows_out = rows_in - whole(counts["dropped"])
    if not rows_out:
        raise nothing_left(source, params, rows_in, [*order_checks, *results], reference_date, orders is not None)
    # each table looks up shared ids and copies only where its checks need them (validated: to drop; flagged: to
    # flag), as a lookup joins every row. Names and emails stop here: the mart never holds them; the row hash
    # carries them into the id tie-break
    validated = repeats.mark(checked, ids="duplicate_ids" in drop_ids, copies="duplicate_rows" in drop_ids)
    if drop_ids:
        validated = validated.filter(~any_of(_fails(validated, all_checks)[cid] for cid in drop_ids))
    validated = validated.select(ROW, *kept, ROW_HASH)
    flagging = [r.id for r in results if r.policy == "flag" and r.count]
    flagged = repeats.mark(checked, ids="duplicate_ids" in flagging, copies="duplicate_rows" in flagging)
    flag_fails = _fails(flagged, all_checks)
    flags = _concat([ibis.ifelse(flag_fails[cid], "," + cid, "") for cid in flagging]).substr(1)
    flagged = flagged.mutate(**{FLAGS: flags}).select(ROW, *kept, FLAGS, ROW_HASH)
    duplicate_ids = {"ids": repeats.shared_ids, "rows": whole(counts["duplicate_ids"])}
    first_future_day = counts.get("first_future_day")
    return QualityReview(validated, reference_date, rows_in, rows_out, duplicate_ids, [*order_checks, *results],
                         optional, orders, params.plausible,
                         None if is_missing(first_future_day) else as_date(first_future_day), flagged, exclusions)


def _reference_drops(params: Params) -> bool:
    """Whether an explicit reference date drops customers: a derived date has no plausible purchase after it, `flag`
    keeps them and `fail` stops the run on its own."""
    return params.reference_date is not None and params.quality["dates_after_reference"] == "drop"


def _reference_counts(fails: dict[str, ibis.BooleanValue], drop_ids: Sequence[str]) -> dict[str, ibis.Value]:
    """Aggregates: the rows only the reference date drops (every other check passes them), and the rows every other
    dropping check passes."""
    others = any_of(fails[cid] for cid in drop_ids if cid != "dates_after_reference")
    usable = ~others if others is not None else ibis.literal(True)
    return {"only_by_reference": (fails["dates_after_reference"] & usable).cast("int64").sum(),
            "usable": usable.cast("int64").sum()}


def _excluded_by_reference(params: Params, reference_date: dt.date, count: int, usable: int,
                           source: Path | str | None) -> tuple[ReferenceExclusion, ...]:
    """The customers only an explicit reference date drops (dates_after_reference), of those every other check
    passes, stopping the run when they are too many."""
    if not count:
        return ()
    found = ReferenceExclusion(reference_date, "customers", count, usable, "whose purchase dates fall on or after it")
    check_exclusion(found, params, source)
    return (found,)


def _fails(table: ibis.Table, all_checks: Sequence[Check]) -> dict[str, ibis.BooleanValue]:
    """Per check, true on a failing row of `table` (a check done in the stored pass is read from its column)."""
    return {c.id: table[FAILS + c.id] if FAILS + c.id in table.columns else c.failing(table).fill_null(False)
            for c in all_checks}


def row_hash(parsed: ibis.Table) -> ibis.IntegerValue:
    """The hash of all 20 fields as written: finds exact copies and breaks ties between customers."""
    return ibis.struct({c: parsed[c] for c in (as_written(n) for n in field_types())}).hash()


def _unparsable_failed(source: Path | str | None, params: Params, parsed: ibis.Table,
                       check: Check) -> InputDataError:
    """The one-line error for values that do not parse: ONE field (the first in file order with such values), up
    to five of its values with their rows, and the format setting that would read them."""
    assert check.field_failing is not None
    flags = {n: check.field_failing(parsed, n).fill_null(False) for n in check.fields}
    found = parsed.aggregate(**{n: f.cast("int64").sum() for n, f in flags.items()}).execute().iloc[0]
    name = next(n for n in check.fields if whole(found[n]))
    rows = parsed.filter(flags[name]).select(ROW, RAW + name).order_by(ROW).limit(EXAMPLES).execute()
    examples = [(int(r), str(v)) for r, v in zip(rows[ROW], rows[RAW + name])]
    fix = f"fix those rows, or set quality.{check.id}: drop in {params.path}"
    return unparsable_error(source, name, params.input_columns.column(name), field_types()[name],
                            whole(found[name]), examples, params.input_format, "input", fix)


def _failed(source: Path | str | None, params: Params, parsed: ibis.Table, check: Check, count: int,
            rows: list[int]) -> InputDataError:
    """The one-line error for a `fail` check: the fields that fail (and the first row's value), rows, fix."""
    fields, first = list(check.fields), ""
    if check.field_failing is not None:
        flags = {n: check.field_failing(parsed, n).fill_null(False) for n in check.fields}
        found = parsed.aggregate(**{n: f.cast("int64").sum() for n, f in flags.items()}).execute().iloc[0]
        fields = [n for n in check.fields if whole(found[n])]
        row = parsed.filter(parsed[ROW] == rows[0])
        row = row.select(**{f"is_{n}": flags[n] for n in fields}, **{n: parsed[as_written(n)] for n in fields})
        values = row.execute().iloc[0]
        name = next((n for n in fields if values[f"is_{n}"]), None)
        if name is not None and name not in PERSONAL_FIELDS:
            value = values[name]
            first = f"; row {rows[0]} has {name} {'empty' if is_missing(value) else repr(str(value))}"
    shown = ", ".join(fields[:4]) + ("…" if len(fields) > 4 else "")
    return InputDataError(
        f"{source}: field {shown}: {check.description}{f' [{check.bounds}]' if check.bounds else ''} in "
        f"{describe_rows(count, rows)}{first}; policy for check "
        f"'{check.id}' is 'fail' in {params.path}: fix those rows, or set it to drop"
    )


def nothing_left(source: Path | str | None, params: Params, rows_in: int, results: Sequence[CheckResult],
                 reference_date: dt.date, from_orders: bool) -> InputDataError:
    """The error for a review that leaves no customer: which checks removed the rows, and what to change."""
    if not rows_in and not from_orders:
        return no_rows(source)
    dropping = [r for r in results if r.policy == "drop" and r.count]
    why = ", ".join(f"{r.id} dropped {describe_rows(r.count)}" for r in dropping) or "no check dropped rows"
    what = (f"{rows_in:,} customers from the orders in" if rows_in else "no order passed") if from_orders \
        else f"{describe_rows(rows_in)} in"
    fix = f"fix those rows, or change those checks' policies in {params.path}"
    if params.reference_date is not None and any(r.id in ("dates_after_reference", "orders_after_reference")
                                                  for r in dropping):
        fix = (f"set a reference_date later than {reference_date} in {params.path} (or null: the day after the "
               f"latest purchase), or {fix}")
    return InputDataError(f"{source}: no customer left after the data-quality checks ({what}; {why}); {fix}")


@dataclass(frozen=True)
class Repeats:
    """Rows that repeat others: the ids used by more than one row and the later exact copies, as small stored
    tables (None when there are none), and how many ids are shared."""

    ids: ibis.Table | None = None
    copies: ibis.Table | None = None
    shared_ids: int = 0

    def mark(self, table: ibis.Table, *, ids: bool = True, copies: bool = True) -> ibis.Table:
        """`table` plus id_rows (rows sharing this customer id) and copy_number (>1 on a later exact copy of a row),
        each looked up only when asked for (else 1, as for a row of its own)."""
        one = ibis.literal(1, "int64")
        if ids and self.ids is not None:
            table = table.left_join(self.ids, "customer_id").drop("customer_id_right")
            table = table.mutate(id_rows=table.id_rows.fill_null(1))
        else:
            table = table.mutate(id_rows=one)
        if copies and self.copies is not None:
            table = table.left_join(self.copies, ROW).drop(f"{ROW}_right")
            return table.mutate(copy_number=table.copy_number.fill_null(1))
        return table.mutate(copy_number=one)


def mark_repeats(con: BaseBackend, parsed: ibis.Table, checked: ibis.Table, *, unique_ids: bool = False) -> Repeats:
    """The ids of `checked` used by more than one row, and its later exact copies.

    Rows whose `row_hash` is shared are the candidates for copies; only they are compared field by field, as
    written in `parsed` (read again only when some hash is shared), so the table is never sorted on all 20 fields.
    With `unique_ids` (customers rolled up from orders, one row per id) there are neither shared ids nor copies.
    """
    if unique_ids:
        return Repeats()
    # a row per id used more than once: 90,000 at most in a generated customer file, none in a clean one
    id_rows = store(
        con, "id_rows",
        checked.filter(_.customer_id.notnull()).group_by("customer_id").aggregate(id_rows=_.count())
        .filter(_.id_rows > 1),
        in_order=False,
    )
    shared_ids = whole(id_rows.count().execute())
    shared = checked.group_by(ROW_HASH).aggregate(n=_.count()).filter(_.n > 1).select(ROW_HASH)
    candidates = store(con, "copy_candidates", checked.semi_join(shared, ROW_HASH).select(ROW), in_order=False)
    if not whole(candidates.count().execute()):
        return Repeats(id_rows if shared_ids else None, None, shared_ids)
    written = [as_written(n) for n in field_types()]
    copies = store(
        con, "repeated_rows",
        parsed.semi_join(candidates, ROW)
        .mutate(copy_number=ibis.row_number().over(group_by=written, order_by=ROW) + 1)
        .filter(_.copy_number > 1)
        .select(ROW, "copy_number"),
    )
    return Repeats(id_rows if shared_ids else None, copies, shared_ids)


@dataclass(frozen=True)
class Promise:
    """What one column of the validated fields promises: its type, whether it may be null, and bounds that every
    known value keeps (("ge" | "gt" | "le" | "lt", bound), all of them)."""

    dtype: str
    nullable: bool = True
    bounds: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Contract:
    """What the validated fields promise: a Promise per column, and the rules between columns (TABLE_RULES)."""

    columns: dict[str, Promise]
    rules: tuple[str, ...] = ()


# rules between columns, by name: true on a row that keeps the rule
TABLE_RULES: dict[str, Callable[[ibis.Table], ibis.BooleanValue]] = {
    "last_on_or_after_first": lambda t: t.last_purchase_date >= t.first_purchase_date,
}
BOUNDS: dict[str, Callable[[ibis.Value, Any], ibis.BooleanValue]] = {
    "ge": lambda value, bound: value >= bound, "gt": lambda value, bound: value > bound,
    "le": lambda value, bound: value <= bound, "lt": lambda value, bound: value < bound,
}


def validated_contract(params: Params, reference_date: dt.date,
                       optional: tuple[str, ...] = OPTIONAL_FIELDS) -> Contract:
    """What the validated fields promise, given the policies: types always; the rest unless a check only flags.

    Checked on the mart, which carries every validated field except names and emails.
    """
    drops = {cid for cid, policy in params.quality.items() if policy != "flag"}
    max_money = params.plausible.max_money
    columns = {}
    for name, kind in field_types().items():
        if name in PERSONAL_FIELDS:
            continue
        bounds: list[tuple[str, Any]] = []
        if name in RANGES and "out_of_range" in drops:
            bounds += [("ge", RANGES[name][0]), ("le", RANGES[name][1])]
        if name in MONEY and "negative_money" in drops:
            bounds.append(("ge", 0))
        if name in MONEY:  # implausible_money is never only flagged
            bounds += [("ge", -max_money), ("le", max_money)]
        if name in DATES:  # nor is implausible_dates; the window's end is the run's day at the latest
            bounds.append(("ge", params.plausible.earliest_date))
        if name == "avg_order_value" and "aov_not_positive" in drops:
            bounds.append(("gt", 0))
        if name in DATES and "dates_after_reference" in drops:
            bounds.append(("lt", reference_date))
        nullable = name in optional or "nulls" not in drops
        source = "source_customer_id" if name == "customer_id" else name
        columns[source] = Promise(kind, nullable, tuple(bounds))
    columns[FLAGS] = Promise("string")
    return Contract(columns, ("last_on_or_after_first",) if "last_before_first" in drops else ())


def contract_holds(table: ibis.Table, contract: Contract) -> bool:
    """True when `table` keeps every promise of `contract`: its columns and types from the schema, every bound, null
    and rule in one aggregate query. A null value keeps every bound; a column that may not be null holds no null
    (nor NaN), as pandera counts them."""
    schema = table.schema()
    for name, promise in contract.columns.items():
        if name not in schema or schema[name].copy(nullable=True) != ibis.dtype(promise.dtype).copy(nullable=True):
            return False
    broken: dict[str, ibis.BooleanValue] = {}
    for name, promise in contract.columns.items():
        value = table[name]
        if not promise.nullable:
            broken[f"{name} null"] = value.isnull() | value.isnan() if value.type().is_floating() else value.isnull()
        for index, (op, bound) in enumerate(promise.bounds):
            broken[f"{name} {index}"] = ~BOUNDS[op](value, bound)
    for rule in contract.rules:
        broken[rule] = ~TABLE_RULES[rule](table)
    counts = table.aggregate(**{k: v.fill_null(False).cast("int64").sum() for k, v in broken.items()}).execute()
    return not any(whole(n) for n in counts.iloc[0])


def pandera_schema(contract: Contract) -> pandera.ibis.DataFrameSchema:
    """The contract as a pandera schema, whose validation says in detail what a table breaks (pandera is imported
    only then: a third of a second that a mart keeping its contract does not pay)."""
    import pandera.ibis as pa

    checks = {"ge": pa.Check.ge, "gt": pa.Check.gt, "le": pa.Check.le, "lt": pa.Check.lt}
    columns = {name: pa.Column(ibis.dtype(p.dtype), checks=[checks[op](bound) for op, bound in p.bounds],
                               nullable=p.nullable)
               for name, p in contract.columns.items()}
    rules = [pa.Check(lambda data, rule=TABLE_RULES[name]: rule(data.table), name=name) for name in contract.rules]
    return pa.DataFrameSchema(columns, checks=rules, name="validated customer fields")


def _examples(parsed: ibis.Table, marked: ibis.Table,
              failing: dict[str, tuple[ibis.BooleanValue, tuple[str, ...]]]) -> dict[str, list[dict[str, Any]]]:
    """Per failing check, up to five failing rows (row number and the checked fields as written in the file), never
    personal data. `failing` maps a check id to its predicate on `marked` and its fields. Text fields are as written
    in `marked`, read with the rows; other fields are read from `parsed`, in one query for every check."""
    shown = {cid: [f for f in fields if f not in PERSONAL_FIELDS][:8] for cid, (_fail, fields) in failing.items()}
    from_file = {cid for cid, fields in shown.items() if any(as_written(f) != f for f in fields)}
    first: dict[str, list[int]] = {}
    values: dict[int, dict[str, Any]] = {}
    for cid, (fail, _fields) in failing.items():
        columns = [] if cid in from_file else shown[cid]
        found = marked.filter(fail).select(ROW, *columns).order_by(ROW).limit(EXAMPLES).execute()
        first[cid] = [int(r) for r in found[ROW]]
        for rec in found.to_dict("records"):
            values.setdefault(int(rec[ROW]), {}).update(rec)
    if from_file:
        rows = sorted({r for cid in from_file for r in first[cid]})
        columns = sorted({as_written(f) for cid in from_file for f in shown[cid]})
        for rec in parsed.filter(parsed[ROW].isin(rows)).select(ROW, *columns).execute().to_dict("records"):
            values.setdefault(int(rec[ROW]), {}).update(rec)
    out = {}
    for cid in failing:
        out[cid] = []
        for row in first[cid]:
            rec = values[row]
            item = {ROW: row}
            item.update({f: (None if is_missing(rec[as_written(f)]) else rec[as_written(f)]) for f in shown[cid]})
            out[cid].append(item)
    return out


def _unparsed(t: ibis.Table, name: str) -> ibis.BooleanValue:
    """Text present but not parsable as the field's type."""
    return t[RAW + name].notnull() & t[name].isnull()


def any_of(predicates: Iterable[ibis.BooleanValue | None]) -> ibis.BooleanValue | None:
    """OR of the predicates, each null counted as false; None for no predicates."""
    result = None
    for p in predicates:
        p = p.fill_null(False)
        result = p if result is None else result | p
    return result


def _concat(parts: list[ibis.StringValue]) -> ibis.StringValue:
    """Concatenation of string expressions ('' for none)."""
    result = ibis.literal("")
    for p in parts:
        result = result + p
    return result


def as_date(value: Any) -> dt.date:
    """A date from what an engine returns for a date scalar (a datetime or Timestamp on some)."""
    return value.date() if isinstance(value, dt.datetime) else value


def is_missing(value: Any) -> bool:
    """True for None and NaN."""
    return value is None or value != value
