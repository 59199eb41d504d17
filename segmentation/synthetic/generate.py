"""Writing the synthetic customer file, its metadata JSON and, optionally, its orders log, all or nothing.

The rows come from :mod:`segmentation.synthetic.customers`, the metadata JSON (the reference schema and the
``generation`` section describing every distribution and correlation in plain sentences) from
:mod:`segmentation.synthetic.notes`. The schema (column names, order and types) comes from the reference metadata
JSON shipped in ``segmentation/reference``, read through ``segmentation.config.schema``.

The same ``rows``, ``seed`` and ``as_of`` always give byte-identical CSV and
JSON files: all randomness comes from one ``numpy.random.default_rng(seed)``,
Faker is only used to build a seeded vocabulary of city names, and ``as_of``
defaults to a fixed date rather than today.

``write_customers(..., transactions=PATH)`` also writes a transaction log (see
:mod:`segmentation.synthetic.transactions_log`) that aggregates back to the customer
file. Orders must join to one customer, so that run gives customers unique ids:
a seeded permutation of a wider id range, drawn from its own random stream and
swapped in after each chunk is drawn, so every other column is the same as in
a run without a log. Without a log the output is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from segmentation.config.schema import metadata
from segmentation.core import atomic
from segmentation.core.errors import SegmentationError
from segmentation.synthetic import transactions_log
from segmentation.synthetic.customers import customer_chunks, resolve_as_of
from segmentation.synthetic.notes import metadata_json

BOOLEAN_TEXT = ("True", "False")


def generate_customers(
    rows: int = 100_000,
    seed: int = 42,
    as_of: date | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Return `rows` synthetic customers as a DataFrame in schema column order.

    Dtypes: strings ``str``, integers ``int64``, floats ``float64``, dates
    ``datetime64[us]`` (midnight) and booleans ``bool``, matching what
    ``pandas.read_csv(..., parse_dates=<date columns>)`` gives for the CSV
    (read ``customer_id`` with ``dtype=str``). `progress`, if given, gets one
    message per chunk of CHUNK_ROWS rows, e.g. ``"500,000/10,000,000 rows"``.
    """
    table = pa.concat_tables(customer_chunks(rows, seed, as_of, progress))
    frame = table.to_pandas(date_as_object=False)
    for field in metadata()["fields"]:
        if field["type"] == "date":
            frame[field["name"]] = frame[field["name"]].astype("datetime64[us]")
    return frame


def write_customers(
    out_csv: Path,
    rows: int = 100_000,
    seed: int = 42,
    as_of: date | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    transactions: Path | None = None,
) -> Path:
    """Write the customer CSV and its ``<stem>_metadata.json`` atomically; return the CSV path.

    The CSV is comma-separated with a header, ``\\n`` line endings and no
    quoting; dates are ISO ``YYYY-MM-DD``, booleans ``True``/``False`` and
    floats use the shortest text that reads back to the same number.
    `progress` is called as in :func:`generate_customers`.

    With `transactions`, also write the orders log there (``.csv``: one CSV,
    ``.parquet``: one Parquet file, no suffix: a folder of Parquet part files,
    one per chunk), give customers unique ids, and report ``"<n> orders"`` to
    `progress` after each chunk. All outputs appear only if the whole run
    succeeds; an unusable log path raises :class:`SegmentationError` before
    anything is written.
    """
    out_csv = Path(out_csv)
    as_of = resolve_as_of(as_of)
    metadata_path = out_csv.with_name(f"{out_csv.stem}_metadata.json")
    if transactions is not None:
        _check_log_target(Path(transactions), (out_csv, metadata_path))
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        # all files go in place together, once everything is written: the stack closes in reverse order
        csv_tmp = stack.enter_context(atomic.replacing(out_csv))
        metadata_tmp = stack.enter_context(atomic.replacing(metadata_path))
        chunks = customer_chunks(rows, seed, as_of, progress, unique_ids=transactions is not None)
        if transactions is not None:
            log = _open_orders_log(stack, Path(transactions))
            chunks = _with_orders_logged(chunks, log, transactions_log.orders_rng(seed), progress)
        _write_csv(csv_tmp, chunks)
        metadata_tmp.write_text(
            metadata_json(rows, seed, as_of, transactions=transactions is not None), encoding="utf-8"
        )
    return out_csv


def _write_csv(path: Path, chunks: Iterator[pa.Table]) -> None:
    """Write the chunks as one CSV (header, no quoting, booleans as True/False)."""
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none", batch_size=65_536)
    with pa.OSFile(str(path), "wb") as sink:
        writer = None
        for chunk in chunks:
            chunk = _with_boolean_text(chunk)
            if writer is None:
                # Arrow always quotes header names; the plain header is written by hand.
                sink.write((",".join(chunk.column_names) + "\n").encode())
                writer = pa_csv.CSVWriter(sink, chunk.schema, write_options=options)
            writer.write_table(chunk)
        writer.close()


def _with_boolean_text(table: pa.Table) -> pa.Table:
    """Return `table` with boolean columns as the strings True/False."""
    true_text, false_text = BOOLEAN_TEXT
    for index, field in enumerate(table.schema):
        if pa.types.is_boolean(field.type):
            text = pc.if_else(table.column(index), true_text, false_text)
            table = table.set_column(index, field.name, text)
    return table


def _with_orders_logged(
    chunks: Iterator[pa.Table],
    log: transactions_log.OrdersWriter,
    rng: np.random.Generator,
    progress: Callable[[str], None] | None,
) -> Iterator[pa.Table]:
    """Yield the customer chunks unchanged, first writing each chunk's orders to `log`."""
    written = 0
    for chunk in chunks:
        batches = transactions_log.draw_orders_batches(chunk, rng, transactions_log.FIRST_ORDER_ID + written)
        written += log.write_chunk(batches)
        if progress is not None:
            progress(f"{written:,} orders")
        yield chunk


def _check_log_target(path: Path, customer_files: tuple[Path, ...]) -> None:
    """Raise SegmentationError if `path` cannot take the transaction log; write nothing."""
    layout = transactions_log.log_layout(path)
    if path.resolve() in {other.resolve() for other in customer_files}:
        raise SegmentationError(f"transaction log {path} would overwrite the customer file or its metadata")
    if layout == "parts":
        if path.exists() and not path.is_dir():
            raise SegmentationError(f"transaction log {path}: a file is in the way of the part-file folder")
        if path.is_dir() and not _is_parts_folder(path):
            raise SegmentationError(
                f"transaction log {path}: that folder holds other files than {transactions_log.PART_NAME}; "
                "refusing to replace it"
            )
    elif path.is_dir():
        raise SegmentationError(f"transaction log {path}: a folder is in the way of the {layout} file")


def _is_parts_folder(path: Path) -> bool:
    """Return whether `path` holds nothing but Parquet part files (so it may be replaced)."""
    return all(child.is_file() and child.match("part-*.parquet") for child in path.iterdir())


def _open_orders_log(stack: ExitStack, path: Path) -> transactions_log.OrdersWriter:
    """Open an orders writer on a temporary beside `path` that `stack` puts in place on success."""
    layout = transactions_log.log_layout(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = stack.enter_context(atomic.replacing(path))
        if layout == "parts":
            temporary.mkdir()
        return stack.enter_context(transactions_log.OrdersWriter(temporary, layout))
    except OSError as error:
        raise SegmentationError(f"cannot write the transaction log {path}: {error}") from error
