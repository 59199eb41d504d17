"""The query engine the mart runs on: an Ibis connection (DuckDB embedded by default)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import ibis
from ibis.backends import BaseBackend


def connect(threads: int | None = None, memory_limit: str | None = None) -> BaseBackend:
    """An in-process DuckDB connection through Ibis; spills to a temp folder when over `memory_limit`."""
    config = {"preserve_insertion_order": True}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    return ibis.duckdb.connect(**config)


@contextmanager
def sequential(con: BaseBackend) -> Iterator[None]:
    """Run the enclosed queries on one thread, so floating-point sums add up in the same order every run."""
    if con.name != "duckdb":
        yield
        return
    threads = con.raw_sql("SELECT current_setting('threads')").fetchone()[0]
    con.raw_sql("SET threads = 1")
    try:
        yield
    finally:
        con.raw_sql(f"SET threads = {int(threads)}")
