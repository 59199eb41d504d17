"""Raw stage: read the customer file (CSV or Parquet) as text-tolerant Ibis columns, one row per input row."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import ibis
from ibis import _
from ibis.backends import BaseBackend

from segmentation.config.schema import field_names
from segmentation.core.errors import InputDataError
from segmentation.mart.engine import location, store

ROW = "input_row"  # 1-based data-row number in the file, used to point at bad rows
_TASK, _ID = "spark_task_", "spark_row_id_"  # Spark only: which read task produced a row, and its increasing id


def read_raw(con: BaseBackend, path: Path, *, once: bool = False) -> ibis.Table:
    """The file's 20 fields (CSV: as text, parsed later) plus its data-row number; missing fields fail here.

    A CSV file is stored once parsed, since later stages scan it several times; with `once` (the caller reads it
    in one pass and seldom again) DuckDB reads it where it is used instead. Spark always stores it.
    """
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
            table = read_text_csv(con, path)
        else:
            raise InputDataError(f"{path}: unsupported input format '{suffix}' (use .csv or .parquet)")
    except InputDataError:
        raise
    except Exception as exc:  # the engine's own reader error: report it on one line
        raise unreadable(path, suffix, exc, spark=spark) from exc
    missing = [name for name in field_names() if name not in table.columns]
    if missing:
        raise InputDataError(
            f"{path}: field(s) {', '.join(missing)} missing (all rows); expected the 20 fields of the customer file"
        )
    if (suffix == ".parquet" or once) and not spark:  # Parquet is columnar and cheap to read again
        return table.select(*field_names(), **{ROW: ibis.row_number() + 1})
    return stored_with_row_numbers(con, table, field_names(), "raw_input", path)


def read_text_csv(con: BaseBackend, path: Path) -> ibis.Table:
    """A CSV file with a header, every field as text: a bad value must become a counted data-quality failure, not a
    reader crash."""
    if con.name == "pyspark":
        # no inferSchema; "" inside a quoted field is a quote (RFC 4180); a ragged row fails the read
        return con.read_csv(location(con, path), header=True, inferSchema=False, escape='"', mode="FAILFAST")
    return con.read_csv(path, all_varchar=True, header=True)


def stored_with_row_numbers(con: BaseBackend, table: ibis.Table, columns: Sequence[str], name: str,
                            path: Path) -> ibis.Table:
    """`columns` of one file just read plus its data-row number, stored as `name`: later stages scan the input
    several times, and a CSV is parsed once. Spark reads lazily, so its reader errors show here."""
    if con.name != "pyspark":
        return store(con, name, table.select(*columns, **{ROW: ibis.row_number() + 1}))
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


def numbered_spark(con: BaseBackend, table: ibis.Table, columns: Sequence[str]) -> ibis.Table:
    """`columns` plus the data-row number of one file read on Spark, without a window over the whole table.

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
    return numbered.select(*columns, **{ROW: numbered.offset + position + 1})
