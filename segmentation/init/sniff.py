"""Reading a sample of a text file of rows: its separator, whether it has a header line, and its values as text.

DuckDB's ``sniff_csv`` finds the separator, quoting and header of delimited files; its reader then gives the
sample as text (``all_varchar``), so every value stays data and quoted fields spanning lines are read as the
pipeline will read them. DuckDB cannot read columns separated by runs of spaces (CDNOW's original
``CDNOW_master.txt``): when it sees a single column whose lines all split on whitespace into the same number of
fields, the file is read as ``whitespace``-separated here, line by line. Where DuckDB's sniffer gives up (a header
name holding a line break, for one), Python's ``csv.Sniffer`` finds the separator and ``csv`` reads the sample.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
from dataclasses import dataclass
from pathlib import Path

import duckdb

from segmentation.core.errors import InputDataError
from segmentation.init.values import COMPACT, guess_date_format, readable_marks

SAMPLE_ROWS = 20_000
SNIFF_CHARS = 65_536  # csv.Sniffer looks at this much of the sample
WHITESPACE = "whitespace"  # the params' word for runs of spaces or tabs


@dataclass(frozen=True)
class Sample:
    """The first rows of a file as text: None where a field is empty."""

    path: Path
    separator: str  # one character, or WHITESPACE
    header: bool
    columns: tuple[str, ...]  # the header's names (as DuckDB reads them), or column1, column2, … without one
    rows: tuple[tuple[str | None, ...], ...]

    def values(self, index: int) -> list[str]:
        """The non-empty values of one column, in file order."""
        return [row[index] for row in self.rows if row[index] is not None and row[index].strip() != ""]


def read_sample(path: Path, rows: int = SAMPLE_ROWS) -> Sample:
    """The separator, header and first `rows` rows of `path` (CSV or text, optionally gzip-compressed)."""
    path = Path(path)
    if path.is_dir():
        raise InputDataError(f"{path}: a folder; give one CSV or text file of it to read")
    if not path.is_file():
        raise InputDataError(f"{path}: no such file; give the path of the CSV or text file to read")
    if path.suffix.lower() == ".parquet":
        raise InputDataError(f"{path}: a Parquet file carries its own column names and types; init reads CSV and "
                             "text files: map its columns under transactions: columns by hand (README, Your own data)")
    lines = _first_lines(path, 200)
    if not any(line.strip() for line in lines):
        raise InputDataError(f"{path}: the file is empty; give a file with a header line and rows")
    connection = duckdb.connect()
    try:
        dialect = _sniff(connection, path)
        if dialect is None or len(dialect[2]) == 1:
            if _whitespace_fields(lines):
                return _whitespace_sample(path, rows)
        if dialect is None:
            return _python_sample(path, rows)
        separator, header, _ = dialect
        return _delimited_sample(connection, path, separator, header, rows)
    finally:
        connection.close()


def _first_lines(path: Path, count: int) -> list[str]:
    """The first `count` lines of the file as text; a file that is not UTF-8 is refused with its byte position."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as handle:
        raw = b"".join(itertools.islice(handle, count))
    try:
        return raw.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise InputDataError(
            f"{path}: not UTF-8 text: byte 0x{raw[exc.start]:02x} at byte position {exc.start} cannot be decoded; "
            "save the file as UTF-8"
        ) from None


def _sniff(connection: duckdb.DuckDBPyConnection, path: Path) -> tuple[str, bool, list] | None:
    """DuckDB's separator, header and columns for the file, or None when it cannot read it as CSV."""
    try:
        found = connection.execute(
            "SELECT Delimiter, HasHeader, Columns FROM sniff_csv(?, sample_size = ?)", [str(path), SAMPLE_ROWS]
        ).fetchone()
    except duckdb.Error:
        return None
    return found[0], bool(found[1]), list(found[2])


def _delimited_sample(connection: duckdb.DuckDBPyConnection, path: Path, separator: str, header: bool,
                      rows: int) -> Sample:
    """The first rows through DuckDB's reader, every value as text."""
    try:
        result = connection.execute(
            "SELECT * FROM read_csv(?, delim = ?, header = ?, all_varchar = true) LIMIT ?",
            [str(path), separator, header, rows],
        )
        names = [column[0] for column in result.description]
        found = result.fetchall()
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputDataError(f"{path}: cannot be read as {separator_words(separator)} rows: {first_line}") from None
    if not header:
        names = [f"column{i}" for i in range(1, len(names) + 1)]
    return Sample(path, separator, header, tuple(names), tuple(tuple(row) for row in found))


def _python_sample(path: Path, rows: int) -> Sample:
    """The first rows through Python's csv module, its Sniffer choosing the separator and quote; the first row
    is a header when it holds no number or date while the second does."""
    text = "\n".join(_first_lines(path, rows * 2 + 1))
    try:
        dialect = csv.Sniffer().sniff(text[:SNIFF_CHARS], delimiters=",;\t|")
        found = list(itertools.islice(csv.reader(io.StringIO(text), dialect), rows + 1))
    except csv.Error:
        raise InputDataError(
            f"{path}: cannot tell how the columns are separated; save it as CSV (comma, semicolon or tab)"
        ) from None
    width = len(found[0])
    found = [row for row in found if len(row) == width]
    header = len(found) > 1 and not any(map(_looks_like_data, found[0])) and any(map(_looks_like_data, found[1]))
    names = _distinct(found[0]) if header else tuple(f"column{i}" for i in range(1, width + 1))
    data = found[1:] if header else found
    empty_as_none = tuple(tuple(value if value != "" else None for value in row) for row in data[:rows])
    return Sample(path, dialect.delimiter, header, names, empty_as_none)


def _distinct(names: list[str]) -> tuple[str, ...]:
    """Header names as DuckDB gives them: an empty one becomes column<N> (N its position, from 0), a repeated one
    gets _1, _2, …"""
    seen: set[str] = set()
    out = []
    for index, name in enumerate(names):
        base = name if name.strip() else f"column{index}"
        unique, suffix = base, 0
        while unique in seen:
            suffix += 1
            unique = f"{base}_{suffix}"
        seen.add(unique)
        out.append(unique)
    return tuple(out)


def _whitespace_fields(lines: list[str]) -> int:
    """The number of fields every non-empty line splits into on runs of whitespace (0 when it varies or is 1)."""
    counts = {len(line.split()) for line in lines if line.strip()}
    if len(counts) != 1:
        return 0
    count = counts.pop()
    return count if count > 1 else 0


def _whitespace_sample(path: Path, rows: int) -> Sample:
    """The first rows of a whitespace-separated file; the first line is a header when it holds no number or
    date while the second does."""
    lines = [line for line in _first_lines(path, rows + 1) if line.strip()]
    fields = [tuple(line.split()) for line in lines]
    header = len(fields) > 1 and not any(map(_looks_like_data, fields[0])) and any(map(_looks_like_data, fields[1]))
    if header:
        names, data = fields[0], fields[1:]
    else:
        names, data = tuple(f"column{i}" for i in range(1, len(fields[0]) + 1)), fields
    width = len(names)
    data = [row for row in data if len(row) == width][:rows]
    return Sample(path, WHITESPACE, header, tuple(names), tuple(data))


def _looks_like_data(text: str) -> bool:
    """Whether one field reads as a number or a date (so a line of them is not a header)."""
    return bool(readable_marks([text])) or COMPACT.fullmatch(text) is not None or guess_date_format([text]) is not None


def separator_words(separator: str) -> str:
    """A separator in words, e.g. 'comma-separated'."""
    return {",": "comma-separated", ";": "semicolon-separated", "\t": "tab-separated", "|": "pipe-separated",
            WHITESPACE: "whitespace-separated"}.get(separator, f"{separator!r}-separated")
