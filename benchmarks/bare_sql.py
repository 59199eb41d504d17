"""The two DuckDB reference runs the mart is measured beside, written as SQL scripts.

- The floor: DuckDB alone copying the customer CSV to Parquet (read, parse into the schema's types, write). No
  pipeline that reads and writes this file can be faster on the same engine.
- The bare SQL RFM: one script that reads the same CSV, computes recency / frequency / monetary as the mart
  does, scores them with `ntile`, assigns segments with a CASE built from the params' rules (first match wins)
  and writes the customers to Parquet. No checks, no ids, no summary, no contract: what a hand-written query
  costs.

`python -m benchmarks.mart` writes each script to a file and runs it as a whole process with `RUN_SCRIPT`
(Python, DuckDB and the script, nothing else).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from segmentation.config.params import Params

DUCKDB_TYPES = {"string": "VARCHAR", "integer": "BIGINT", "float": "DOUBLE", "date": "DATE", "boolean": "BOOLEAN"}
# the measured process: run one SQL script file on a fresh in-memory DuckDB
RUN_SCRIPT = "import sys, duckdb; duckdb.connect().execute(open(sys.argv[1], encoding='utf-8').read())"


def quoted(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def settings(threads: int | None, memory_limit: str | None) -> list[str]:
    """The DuckDB settings the mart's engine section gives it, so the references run under the same limits."""
    lines = ["SET enable_progress_bar = false;", "SET preserve_insertion_order = true;"]
    if threads:
        lines.append(f"SET threads = {int(threads)};")
    if memory_limit:
        lines.append(f"SET memory_limit = {quoted(memory_limit)};")
    return lines


def read_csv(csv: Path) -> str:
    """The customer file read with the schema's column types (so every value is parsed)."""
    from segmentation.config.schema import metadata

    columns = ",\n    ".join(f"{quoted(f['name'])}: {quoted(DUCKDB_TYPES[f['type']])}" for f in metadata()["fields"])
    return f"read_csv({quoted(str(csv))}, header = true, columns = {{\n    {columns}}})"


def floor_script(csv: Path, parquet: Path, *, threads: int | None = None, memory_limit: str | None = None) -> str:
    """Copy the CSV to Parquet, nothing else."""
    return "\n".join([
        *settings(threads, memory_limit),
        f"COPY (SELECT * FROM {read_csv(csv)}) TO {quoted(str(parquet))} (FORMAT parquet);",
        "",
    ])


def rfm_script(csv: Path, parquet: Path, params: Params, *, threads: int | None = None,
               memory_limit: str | None = None) -> str:
    """RFM, ntile scores and the params' segment rules in one query from the CSV to Parquet."""
    bins = int(params.bins)
    reference = (f"DATE {quoted(params.reference_date.isoformat())}" if isinstance(params.reference_date, dt.date)
                 else "(SELECT max(last_purchase_date) FROM customers) + 1")
    return "\n".join([
        *settings(threads, memory_limit),
        "COPY (",
        f"  WITH customers AS (SELECT * FROM {read_csv(csv)}),",
        "  rfm AS (",
        "    SELECT *,",
        f"      date_diff('day', last_purchase_date, {reference}) AS recency_days,",
        "      greatest(round(total_spent / avg_order_value), 1)::BIGINT AS frequency,",
        "      total_spent AS monetary",
        "    FROM customers),",
        "  scored AS (",
        "    SELECT *,",
        f"      ntile({bins}) OVER (ORDER BY recency_days DESC) AS r_score,",
        f"      ntile({bins}) OVER (ORDER BY frequency) AS f_score,",
        f"      ntile({bins}) OVER (ORDER BY monetary) AS m_score",
        "    FROM rfm)",
        f"  SELECT *, {segment_case(params)} AS segment_id",
        "  FROM scored",
        f") TO {quoted(str(parquet))} (FORMAT parquet);",
        "",
    ])


def segment_case(params: Params) -> str:
    """A CASE giving the id of the first rule whose score ranges hold the scores, else the fallback's id."""
    whens = [
        f"WHEN r_score BETWEEN {seg.r[0]} AND {seg.r[1]} AND f_score BETWEEN {seg.f[0]} AND {seg.f[1]} "
        f"AND m_score BETWEEN {seg.m[0]} AND {seg.m[1]} THEN {quoted(seg.id)}"
        for seg in params.segments
    ]
    return "CASE\n      " + "\n      ".join(whens) + f"\n      ELSE {quoted(params.fallback.id)} END"
