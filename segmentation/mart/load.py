"""Raw stage: read the customer file (CSV or Parquet) as text-tolerant Ibis columns, one row per input row."""

from __future__ import annotations

import gzip
import re
from collections.abc import Mapping
from functools import reduce
from pathlib import Path

import ibis
from ibis import _
from ibis.backends import BaseBackend

from segmentation.config.params import ColumnMap, FileFormat
from segmentation.config.schema import field_names
from segmentation.core.errors import InputDataError
from segmentation.mart.engine import location, store

ROW = "input_row"  # 1-based data-row number in the file, used to point at bad rows
_TASK, _ID = "spark_task_", "spark_row_id_"  # Spark only: which read task produced a row, and its increasing id
_LINE = "line_"  # a whitespace-separated file is read as one text column of lines, then split
SHOWN_COLUMNS = 40  # how many of a file's column names an error lists


def read_raw(con: BaseBackend, path: Path, *, once: bool = False, columns: ColumnMap | None = None,
             fmt: FileFormat | None = None) -> ibis.Table:
    """The file's 20 fields (CSV: as text, parsed later) plus its data-row number; missing fields fail here.

    `columns` names the file's column of each field (default: the field's own name), `fmt` how a text file is
    written. A CSV file is stored once parsed, since later stages scan it several times; with `once` (the caller
    reads it in one pass and seldom again) DuckDB reads it where it is used instead. Spark always stores it.
    """
    columns = columns or ColumnMap()
    if not path.is_file():
        raise InputDataError(
            f"{path}: input file not found; create it with `python -m segmentation generate` "
            "or set `input` in the params"
        )
    if path.stat().st_size == 0:
        raise InputDataError(f"{path}: file is empty (0 rows); expected the 20 fields of the customer file")
    suffix = path.suffix.lower()
    spark = con.name == "pyspark"
    try:
        if suffix == ".parquet":
            table = con.read_parquet(location(con, path))
        elif suffix in (".csv", ".txt", ".gz"):
            table = read_text_csv(con, path, fmt)
        else:
            raise InputDataError(f"{path}: unsupported input format '{suffix}' (use .csv or .parquet)")
    except InputDataError:
        raise
    except Exception as exc:  # the engine's own reader error: report it on one line
        raise unreadable(path, suffix, exc, spark=spark) from exc
    wanted = {name: columns.column(name) for name in field_names()}
    check_columns(table, wanted, path, section="input",
                  expected="expected the 20 fields of the customer file")
    if (suffix == ".parquet" or once) and not spark:  # Parquet is columnar and cheap to read again
        return table.select(**{f: table[c] for f, c in wanted.items()}, **{ROW: ibis.row_number() + 1})
    return stored_with_row_numbers(con, table, wanted, "raw_input", path)


def check_columns(table: ibis.Table, wanted: Mapping[str, str], path: Path | str, *, section: str,
                  expected: str) -> None:
    """Fail in one line when a field's column is not in the file: the fields missing (with the column each is
    mapped to), the columns the file has, and where to map them (`section`.columns)."""
    missing = [(name, column) for name, column in wanted.items() if column not in table.columns]
    if not missing:
        return
    named = ", ".join(name if name == column else f"{name} (mapped to column {column!r})" for name, column in missing)
    have = ", ".join(repr(c) for c in table.columns[:SHOWN_COLUMNS])
    more = f", … ({len(table.columns):,} columns)" if len(table.columns) > SHOWN_COLUMNS else ""
    raise InputDataError(
        f"{path}: field(s) {named} missing (all rows); the file has columns {have}{more}; {expected}, or map each "
        f"field to one of the file's columns in {section}.columns (e.g. customer_id: Customer ID)"
    )


def read_text_csv(con: BaseBackend, path: Path, fmt: FileFormat | None = None) -> ibis.Table:
    """A text file of rows, every field as text: a bad value must become a counted data-quality failure, not a
    reader crash. `fmt` gives the separator and whether a header names the columns (else column1, column2, …)."""
    fmt = fmt or FileFormat()
    if fmt.separator == "whitespace":
        return _read_whitespace(con, path, fmt.header)
    separator = fmt.separator
    if con.name == "pyspark":
        # no inferSchema; "" inside a quoted field is a quote (RFC 4180); a ragged row fails the read
        table = con.read_csv(location(con, path), header=fmt.header, inferSchema=False, escape='"',
                             mode="FAILFAST", sep=separator)
    else:
        table = con.read_csv(path, all_varchar=True, header=fmt.header, delim=separator)
    if fmt.header:
        return table
    names = [f"column{i + 1}" for i in range(len(table.columns))]
    if con.name == "pyspark":  # a named view, so its rows can be numbered as read (`numbered_spark`)
        con._session.table(table.get_name()).toDF(*names).createOrReplaceTempView("headerless_input")
        return con.table("headerless_input")
    return table.rename(dict(zip(names, table.columns)))


def _read_whitespace(con: BaseBackend, path: Path, header: bool) -> ibis.Table:
    """A file whose values are separated by runs of spaces or tabs (as CDNOW's original text file): read as lines,
    split on whitespace. The columns come from the header line, or are column1, column2, … as many as the first
    line has values; blank lines are skipped."""
    first = _first_line(path)
    names = first.split() if header else [f"column{i + 1}" for i in range(len(first.split()))]
    if not names:
        raise InputDataError(f"{path}: the first line holds no values; expected values separated by whitespace")
    if con.name == "pyspark":
        return _spark_whitespace(con, path, names, header)
    return _duckdb_whitespace(con, path, names, header)


def _duckdb_whitespace(con: BaseBackend, path: Path, names: list[str], header: bool) -> ibis.Table:
    """DuckDB: each line read whole (no delimiter, quote or escape character can cut it) and its values taken by
    one regular expression into a struct, as a temporary view. One regex pass per line is twice as fast as a trim
    and a split (1e6 lines: 1.0 s against 2.6 s, measured). A line with fewer values leaves the last fields empty;
    blank lines and the header line (by its values) are left out."""
    keys = [f"v{i}" for i in range(len(names))]
    pattern = _whitespace_pattern(len(names))
    lines = (f"read_csv({_sql_text(str(path))}, columns = {{'{_LINE}': 'VARCHAR'}}, header = false, "
             f"delim = {_sql_text(chr(31))}, quote = '', escape = '', auto_detect = false)")
    data = "s.v0 <> ''"
    if header:
        data += " AND NOT (" + " AND ".join(f"s.{k} = {_sql_text(n)}" for k, n in zip(keys, names)) + ")"
    values = ", ".join(f"s.{k} AS {_sql_name(n)}" for k, n in zip(keys, names))
    struct_keys = ", ".join(_sql_text(k) for k in keys)
    # a view, as Ibis 12's `sql()` cannot describe a query on DuckDB 2 (see store_rows)
    con.raw_sql(f"CREATE OR REPLACE TEMP VIEW whitespace_input AS SELECT {values} FROM (SELECT regexp_extract("
                f"{_LINE}, {_sql_text(pattern)}, [{struct_keys}]) AS s FROM {lines}) WHERE {data}")
    return con.table("whitespace_input")


def _sql_text(value: str) -> str:
    """A SQL string literal (quotes doubled): the file's own names and paths are data, never SQL."""
    return "'" + value.replace("'", "''") + "'"


def _sql_name(value: str) -> str:
    """A quoted SQL identifier."""
    return '"' + value.replace('"', '""') + '"'


def _spark_whitespace(con: BaseBackend, path: Path, names: list[str], header: bool) -> ibis.Table:
    """Spark: the lines of a whitespace-separated file taken apart as on DuckDB (`_duckdb_whitespace`), as a
    temporary view (so its rows can be numbered as read, `numbered_spark`)."""
    from pyspark.sql import functions as F

    pattern = _whitespace_pattern(len(names))
    lines = con._session.read.text(location(con, path))
    frame = lines.select(*(F.regexp_extract("value", pattern, i + 1).alias(n) for i, n in enumerate(names)))
    data = F.col(names[0]) != ""
    if header:
        data = data & ~reduce(lambda a, b: a & b, (F.col(n) == n for n in names))
    frame.filter(data).createOrReplaceTempView("whitespace_input")
    return con.table("whitespace_input")


def _whitespace_pattern(values: int) -> str:
    """The regular expression of a line of `values` whitespace-separated values, each in its own group (a group is
    empty when the line has fewer values)."""
    return "^\\s*" + "(\\S*)\\s*" * values


def _first_line(path: Path) -> str:
    """The first non-blank line of a text file (gzip read as such), for the column count or names."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as lines:
            for line in lines:
                if line.strip():
                    return line.strip()
    except (OSError, EOFError) as exc:
        raise InputDataError(f"{path}: cannot be read as text: {exc}") from None
    return ""


def stored_with_row_numbers(con: BaseBackend, table: ibis.Table, columns: Mapping[str, str], name: str,
                            path: Path) -> ibis.Table:
    """The fields of one file just read (`columns`: field → the file's column) plus its data-row number, stored as
    `name`: later stages scan the input several times, and a CSV is parsed once. Spark reads lazily, so its reader
    errors show here."""
    if con.name != "pyspark":
        return store(con, name, table.select(**{f: table[c] for f, c in columns.items()},
                                             **{ROW: ibis.row_number() + 1}))
    try:
        return store(con, name, numbered_spark(con, table, columns))
    except Exception as exc:
        raise unreadable(path, path.suffix.lower(), exc, spark=True) from exc


def store_rows(con: BaseBackend, name: str, table: ibis.Table, *, file_order: bool = False) -> ibis.Table:
    """`table` stored as the temporary table `name`.

    With `file_order`, `table` is row for row the file `read_raw` read, and its data-row numbers (ROW) are taken
    from where the rows land: DuckDB stores rows in the order it reads them (`preserve_insertion_order`), while
    its `row_number()` window would keep the whole pass, parsing and checks included, on one core.
    """
    if not file_order or con.name == "pyspark":  # Spark numbers rows as it reads them (`numbered_spark`)
        return store(con, name, table)
    stored = f"{name}_unnumbered"
    store(con, stored, table.drop(ROW))
    # rowid: 0, 1, … in the order stored (a view, as Ibis 12's `sql()` cannot describe a query on DuckDB 2)
    con.raw_sql(f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT rowid + 1 AS "{ROW}", * FROM "{stored}"')
    return con.table(name)


def unreadable(path: Path, suffix: str, exc: Exception, *, spark: bool = False) -> InputDataError:
    """The engine's reader error as one line naming the file."""
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # a failed Spark job says "An error occurred while calling o123.count" first; the root cause is the last error
    # class further down: "[MALFORMED_CSV_RECORD] Malformed CSV record: <the row>" (the row, with names, left out)
    spark_errors = re.findall(r"\[[A-Z][A-Z_.]+\] [^:\n]+", str(exc)) if spark else []
    first_line = spark_errors[-1].rstrip(". ") if spark_errors else first_line
    return InputDataError(f"{path}: cannot be read as {suffix[1:].upper()}: {first_line}")


def numbered_spark(con: BaseBackend, table: ibis.Table, columns: Mapping[str, str]) -> ibis.Table:
    """The fields (`columns`: field → column) plus the data-row number of one file read on Spark, without a window
    over the whole table.

    Spark reads one file as consecutive slices, one per task, in file order; `monotonically_increasing_id()` is
    (task << 33) + position within the task. Row number = rows in earlier tasks + position + 1.
    """
    ids = con.create_table("raw_ids", con.sql(
        f"SELECT *, spark_partition_id() AS {_TASK}, monotonically_increasing_id() AS {_ID} FROM {table.get_name()}"
    ), temp=True, overwrite=True)
    per_task = ids.group_by(_TASK).aggregate(task_rows=_.count())
    # tasks are few, so a running total over them is cheap
    offsets = per_task.mutate(
        offset=_.task_rows.sum().over(order_by=_TASK, rows=(None, 0)) - _.task_rows
    ).drop("task_rows")
    numbered = ids.join(offsets, _TASK)
    position = numbered[_ID] - numbered[_TASK].cast("int64") * 2**33
    return numbered.select(**{f: numbered[c] for f, c in columns.items()}, **{ROW: numbered.offset + position + 1})
