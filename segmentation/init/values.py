"""Telling dates and numbers from text: which date format every value of a column fits, and which decimal and
thousands marks every number of a column can be read with.

Everything works on the values as written (text); nothing is evaluated. A format is only proposed when every
non-empty value of the sample fits it; where the sample cannot decide (no day above 12, no "1.234,56"), the result
says so, so the caller can ask the analyst to check instead of guessing silently.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from segmentation.config.params import FileFormat
from segmentation.mart import quality

# (decimal, thousands) pairs a number may be written with, most common first: the first that reads every value of
# every mapped number column wins when the sample cannot tell them apart.
MARKS: tuple[tuple[str, str | None], ...] = (
    (".", None), (",", None), (".", ","), (",", "."), (".", " "), (",", " "), (".", "'"), (",", "'"),
)
YEARS = (1900, 2100)  # an eight-digit number is read as YYYYMMDD only with a year in this range

_TIME = r"(?:(?P<tsep>[ T])(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?(?P<fraction>\.\d+)?)?"
ISO = re.compile(r"\d{4}-\d{1,2}-\d{1,2}" + _TIME)
YEAR_FIRST_SLASH = re.compile(r"\d{4}/\d{1,2}/\d{1,2}" + _TIME)
DAY_MONTH = re.compile(r"(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})" + _TIME)
COMPACT = re.compile(r"\d{8}")


@dataclass(frozen=True)
class DateGuess:
    """A strptime format every sampled value fits; `ambiguous` when day-first and month-first both fit."""

    format: str
    has_time: bool
    ambiguous: bool = False
    day_first: bool | None = None  # None: the format has no day/month order question (ISO, YYYYMMDD)


def guess_date_format(values: list[str]) -> DateGuess | None:
    """The date format all `values` are written in, or None when they are not all dates of one format."""
    if not values:
        return None
    first = values[0].strip()
    if COMPACT.fullmatch(first):
        return _compact(values)
    for pattern, date_part in ((ISO, "%Y-%m-%d"), (YEAR_FIRST_SLASH, "%Y/%m/%d")):
        if pattern.fullmatch(first):
            return _fixed(values, pattern, date_part)
    match = DAY_MONTH.fullmatch(first)
    if match:
        return _day_month(values, match["sep"], "%Y" if len(match["year"]) == 4 else "%y")
    return None


def _compact(values: list[str]) -> DateGuess | None:
    """YYYYMMDD, when every value is a real day within YEARS."""
    for value in values:
        text = value.strip()
        if not COMPACT.fullmatch(text) or not YEARS[0] <= int(text[:4]) <= YEARS[1] or not _parses(text, "%Y%m%d"):
            return None
    return DateGuess("%Y%m%d", has_time=False)


def _fixed(values: list[str], pattern: re.Pattern[str], date_part: str) -> DateGuess | None:
    """A year-first date, with one time layout for all values."""
    layouts = set()
    for value in values:
        match = pattern.fullmatch(value.strip())
        if match is None:
            return None
        layouts.add(_time_layout(match))
    if len(layouts) != 1:
        return None
    fmt = date_part + layouts.pop()
    if not all(_parses(value.strip(), fmt) for value in values):
        return None
    return DateGuess(fmt, has_time=fmt != date_part)


def _day_month(values: list[str], sep: str, year: str) -> DateGuess | None:
    """Day-first or month-first: decided by a first part above 12 (day-first) or a second one (month-first)."""
    layouts = set()
    for value in values:
        match = DAY_MONTH.fullmatch(value.strip())
        if match is None or match["sep"] != sep or (len(match["year"]) == 4) != (year == "%Y"):
            return None
        layouts.add(_time_layout(match))
    if len(layouts) != 1:
        return None
    layout = layouts.pop()
    day_first = f"%d{sep}%m{sep}{year}{layout}"
    month_first = f"%m{sep}%d{sep}{year}{layout}"
    fits = [fmt for fmt in (day_first, month_first) if all(_parses(v.strip(), fmt) for v in values)]
    if not fits:
        return None
    # both fit when no day in the sample is above 12: day-first is chosen, and flagged for the analyst to check
    return DateGuess(fits[0], has_time=bool(layout), ambiguous=len(fits) == 2, day_first=fits[0] == day_first)


def _time_layout(match: re.Match[str]) -> str:
    """The strptime suffix of a matched time part ('' without one)."""
    if match["hour"] is None:
        return ""
    layout = ("T" if match["tsep"] == "T" else " ") + "%H:%M"
    if match["second"] is not None:
        layout += ":%S"
    if match["fraction"] is not None:
        layout += ".%f"
    return layout


def _parses(text: str, fmt: str) -> bool:
    """Whether strptime reads `text` with `fmt`."""
    try:
        dt.datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


def number_pattern(decimal: str, thousands: str | None) -> re.Pattern[str]:
    """The shape of a number written with these marks, as the mart reads it (`quality.number_pattern`): what init
    calls a number is what the run will parse."""
    return re.compile(quality.number_pattern(FileFormat(decimal=decimal, thousands=thousands)))


_PATTERNS = {marks: number_pattern(*marks) for marks in MARKS}


def readable_marks(values: list[str]) -> tuple[tuple[str, str | None], ...]:
    """The (decimal, thousands) pairs that read every value as a number, in MARKS order (empty: not numbers)."""
    if not values:
        return ()
    return tuple(marks for marks in MARKS if all(_PATTERNS[marks].fullmatch(v.strip()) for v in values))


def parse_number(text: str, decimal: str, thousands: str | None) -> float | None:
    """The number `text` stands for with these marks, or None when it is not written that way."""
    text = text.strip()
    if not _PATTERNS.get((decimal, thousands), number_pattern(decimal, thousands)).fullmatch(text):
        return None
    if thousands is not None:
        text = re.sub(quality.thousands_class(thousands), "", text)
    return float(text.replace(decimal, "."))


def has_marks(values: list[str]) -> bool:
    """Whether any value holds a mark ('.', ',', space or apostrophe between digits) that needs a decision."""
    return any(any(mark in value.strip() for mark in ".,' ") for value in values)
