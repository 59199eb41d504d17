"""The query engine the mart runs on: an Ibis connection (DuckDB embedded by default)."""

from __future__ import annotations

import ibis
from ibis.backends import BaseBackend


def connect(threads: int | None = None, memory_limit: str | None = None) -> BaseBackend:
    """An in-process DuckDB connection through Ibis; spills to a temp folder when over `memory_limit`."""
    config = {"preserve_insertion_order": True}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    con = ibis.duckdb.connect(**config)
    # the pipeline reports progress per stage itself; DuckDB's own bar would interleave with it
    con.raw_sql("SET enable_progress_bar = false")
    return con

