"""Transaction (orders) log drawn from generated customers, consistent with the customer file.

For every customer the log holds exactly :func:`order_counts` orders: one on
``first_purchase_date``, one on ``last_purchase_date`` (when there are two or
more) and the rest on uniformly random days in between. Order values are whole
cents that add up exactly to the customer's ``total_spent``. Aggregating the log
per customer therefore gives back the first and last purchase dates, the total
spent and the order count the pipeline derives from ``total_spent /
avg_order_value``.

Everything is vectorised per chunk of customers (``np.repeat``, ``cumsum``,
``np.add.reduceat``; no Python loop per customer), ORDERS_BATCH_CUSTOMERS
customers at a time, and :class:`OrdersWriter` writes each batch as it comes,
so memory is bounded by the batch size. The writer only writes to the path it
is given; :mod:`segmentation.synthetic.generate` makes the result atomic.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from segmentation.core.errors import SegmentationError

ORDERS_SCHEMA = pa.schema(
    [
        ("order_id", pa.int64()),
        ("customer_id", pa.string()),
        ("order_date", pa.date32()),
        ("order_value", pa.float64()),
        ("quantity", pa.int64()),
    ]
)
# SeedSequence spawn key of the orders' random stream, so drawing orders never
# disturbs the customer file's own stream.
ORDERS_STREAM = 2
FIRST_ORDER_ID = 1
# Customers whose orders are drawn at once (7.6 orders each on average): bounds the
# memory of a chunk's orders without changing the files' layout.
ORDERS_BATCH_CUSTOMERS = 100_000

# Order values split the customer's total by Gamma(shape) weights: mean the
# customer's average order, coefficient of variation 1 / sqrt(shape).
ORDER_VALUE_GAMMA_SHAPE = 4.0
# Items per order are 1 + Poisson(this x order value / customer's mean order value).
QUANTITY_EXTRA_ITEMS = 0.8

CSV_SUFFIX, PARQUET_SUFFIX = ".csv", ".parquet"
LOG_LAYOUTS = ("csv", "parquet", "parts")
PART_NAME = "part-{index:05d}.parquet"
PARQUET_COMPRESSION = "zstd"
CSV_BATCH_ROWS = 65_536


def log_layout(path: Path) -> str:
    """Return how `path` is written: ``"csv"``, ``"parquet"`` or ``"parts"`` (a folder, no suffix)."""
    suffix = Path(path).suffix.lower()
    if suffix == CSV_SUFFIX:
        return "csv"
    if suffix == PARQUET_SUFFIX:
        return "parquet"
    if suffix == "":
        return "parts"
    raise SegmentationError(
        f"transaction log {path}: use a .csv or .parquet file, or a folder name without a suffix "
        f"for Parquet part files; got suffix {suffix!r}"
    )


def orders_rng(seed: int) -> np.random.Generator:
    """Return the random stream the orders of a `seed` run are drawn from."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ORDERS_STREAM,)))


def order_counts(
    total_spent: np.ndarray,
    avg_order_value: np.ndarray,
    first_purchase: np.ndarray,
    last_purchase: np.ndarray,
) -> np.ndarray:
    """Return each customer's number of orders in the log.

    n = max(1, round(total_spent / avg_order_value)), the frequency the pipeline
    derives; when n is 1 but the last purchase is after the first, n is 2, since
    two purchase days need two orders. Dates may be ``datetime64`` or day numbers.
    """
    counts = np.maximum(1, np.rint(np.asarray(total_spent) / np.asarray(avg_order_value))).astype(np.int64)
    two_days = np.asarray(last_purchase) > np.asarray(first_purchase)
    return np.where((counts == 1) & two_days, 2, counts)


def draw_orders(customers: pa.Table, rng: np.random.Generator, first_order_id: int = FIRST_ORDER_ID) -> pa.Table:
    """Return the orders of `customers` (a customer-file chunk) as a table in ORDERS_SCHEMA.

    Orders are grouped by customer in file order and dated in ascending order
    within a customer; order ids run from `first_order_id` upwards. Uses the
    columns customer_id, first_purchase_date, last_purchase_date, total_spent
    and avg_order_value.
    """
    first_day = _day_numbers(customers.column("first_purchase_date"))
    last_day = _day_numbers(customers.column("last_purchase_date"))
    total_spent = customers.column("total_spent").to_numpy()
    counts = order_counts(total_spent, customers.column("avg_order_value").to_numpy(), first_day, last_day)
    cents = np.rint(total_spent * 100).astype(np.int64)
    if (last_day < first_day).any():
        raise SegmentationError("last_purchase_date must not be before first_purchase_date")
    if (cents < counts).any():
        raise SegmentationError("total_spent must hold at least one cent per order for every customer")
    size = int(counts.sum())
    if size == 0:
        return ORDERS_SCHEMA.empty_table()
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    position = np.arange(size) - starts[owner]
    offset = _draw_day_offsets(rng, owner, position, counts, last_day - first_day)
    weights = rng.gamma(ORDER_VALUE_GAMMA_SHAPE, 1.0, size=size)
    share = weights / np.add.reduceat(weights, starts)[owner]  # of the customer's total, summing to 1
    value_cents = _split_cents(cents, counts, owner, position, starts, share)
    quantity = 1 + rng.poisson(QUANTITY_EXTRA_ITEMS * share * counts[owner])  # share x n = value / mean value
    return pa.table(
        [
            pa.array(first_order_id + np.arange(size, dtype=np.int64)),
            customers.column("customer_id").take(owner),
            pa.array((first_day[owner] + offset).astype("datetime64[D]")),
            pa.array(value_cents / 100.0),
            pa.array(quantity.astype(np.int64)),
        ],
        schema=ORDERS_SCHEMA,
    )


def draw_orders_batches(
    customers: pa.Table, rng: np.random.Generator, first_order_id: int = FIRST_ORDER_ID
) -> Iterator[pa.Table]:
    """Yield the orders of `customers` as :func:`draw_orders` tables, ORDERS_BATCH_CUSTOMERS customers at a time.

    Order ids continue from batch to batch; an empty `customers` yields one empty table.
    """
    next_order_id = first_order_id
    for start in range(0, max(customers.num_rows, 1), ORDERS_BATCH_CUSTOMERS):
        orders = draw_orders(customers.slice(start, ORDERS_BATCH_CUSTOMERS), rng, next_order_id)
        next_order_id += orders.num_rows
        yield orders


def generation_notes() -> dict:
    """Describe, in plain sentences, how the transaction log is drawn and what it agrees with."""
    return {
        "columns": {
            "order_id": f"int64, unique, from {FIRST_ORDER_ID} upwards in file order.",
            "customer_id": "The customer's id as in the customer file (unique there when a log is written).",
            "order_date": "Date (ISO YYYY-MM-DD in CSV), ascending within a customer.",
            "order_value": "USD in whole cents, positive; a customer's orders add up exactly to total_spent.",
            "quantity": (
                f"Items, 1 + Poisson({QUANTITY_EXTRA_ITEMS:g} x order value / the customer's mean "
                "order value), so larger orders hold more items."
            ),
        },
        "orders_per_customer": (
            "n = max(1, round(total_spent / avg_order_value)), the frequency the pipeline derives; "
            "when n is 1 but last_purchase_date is after first_purchase_date, n is 2 (two purchase "
            "days need two orders), so the log then has one order more than that frequency."
        ),
        "dates": (
            "One order on first_purchase_date, one on last_purchase_date when n >= 2, the others on "
            "uniformly random days between them (inclusive)."
        ),
        "values": (
            f"total_spent in cents is split by Gamma(shape {ORDER_VALUE_GAMMA_SHAPE:g}) weights: each "
            "order gets 1 cent plus the floor of its weight's share of the rest, and the cents left "
            "over go one each to the customer's earliest orders."
        ),
        "layout": (
            "Orders are grouped by customer in customer-file order; the log is one CSV, one Parquet "
            f"file, or a folder with one Parquet part file ({PART_NAME.format(index=0)}, ...) per "
            "chunk of customers."
        ),
        "randomness": (
            f"Drawn from numpy.random.default_rng(SeedSequence(seed, spawn_key=({ORDERS_STREAM},))), "
            "separate from the customer stream; same rows, seed and as_of give byte-identical logs."
        ),
    }


class OrdersWriter:
    """Write order tables, one chunk at a time, as a CSV, a Parquet file or a folder of Parquet parts.

    `path` is written as given (a file, or an existing folder for ``"parts"``);
    the caller makes it atomic. Use as a context manager; ``write_chunk`` takes
    tables in ORDERS_SCHEMA.
    """

    def __init__(self, path: Path, layout: str) -> None:
        if layout not in LOG_LAYOUTS:
            raise ValueError(f"layout must be one of {LOG_LAYOUTS}, got {layout!r}")
        self.path, self.layout = Path(path), layout
        self.chunks = 0
        self._sink = self._writer = None
        if layout == "csv":
            self._sink = pa.OSFile(str(self.path), "wb")
            # Arrow always quotes header names; the plain header is written by hand.
            self._sink.write((",".join(ORDERS_SCHEMA.names) + "\n").encode())
            options = pa_csv.WriteOptions(include_header=False, quoting_style="none", batch_size=CSV_BATCH_ROWS)
            self._writer = pa_csv.CSVWriter(self._sink, ORDERS_SCHEMA, write_options=options)
        elif layout == "parquet":
            self._writer = _parquet_writer(self.path)

    def write_chunk(self, batches: Iterable[pa.Table]) -> int:
        """Append one customer chunk's orders, given as `batches`; return how many orders were written.

        In the ``"parts"`` layout each chunk is one part file.
        """
        rows = 0
        with ExitStack() as stack:
            writer = self._writer
            if self.layout == "parts":
                part = self.path / PART_NAME.format(index=self.chunks)
                writer = stack.enter_context(_parquet_writer(part))
            for orders in batches:
                writer.write_table(orders)
                rows += orders.num_rows
        self.chunks += 1
        return rows

    def close(self) -> None:
        """Finish the file(s); a folder that got no chunk gets one empty part, so its schema is known."""
        if self.layout == "parts" and self.chunks == 0:
            self.write_chunk([ORDERS_SCHEMA.empty_table()])
        for closable in (self._writer, self._sink):
            if closable is not None:
                closable.close()
        self._writer = self._sink = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def _parquet_writer(path: Path) -> pq.ParquetWriter:
    """Return a Parquet writer for ORDERS_SCHEMA; its output depends only on the tables written."""
    return pq.ParquetWriter(str(path), ORDERS_SCHEMA, compression=PARQUET_COMPRESSION)


def _day_numbers(dates: pa.ChunkedArray) -> np.ndarray:
    """Return date32 values as int64 days since 1970-01-01."""
    return pc.cast(dates, pa.int32()).to_numpy().astype(np.int64)


def _draw_day_offsets(
    rng: np.random.Generator, owner: np.ndarray, position: np.ndarray, counts: np.ndarray, span: np.ndarray
) -> np.ndarray:
    """Return each order's days after its customer's first purchase, ascending within a customer.

    The first order is on day 0, the last (when n >= 2) on the customer's span,
    the others uniform in [0, span].
    """
    order_span = span[owner]
    offset = rng.integers(0, order_span, endpoint=True)
    offset[position == 0] = 0
    is_last = (position == counts[owner] - 1) & (position > 0)
    offset[is_last] = order_span[is_last]
    # One integer sort orders the days within each customer: owner is already
    # ascending and offsets are below the stride.
    stride = int(span.max()) + 1
    key = np.sort(owner * stride + offset)
    return key - owner * stride


def _split_cents(
    cents: np.ndarray,
    counts: np.ndarray,
    owner: np.ndarray,
    position: np.ndarray,
    starts: np.ndarray,
    share: np.ndarray,
) -> np.ndarray:
    """Split each customer's `cents` over their orders by `share`: every order >= 1 cent, exact sums."""
    rest = cents - counts
    value = 1 + np.floor(rest[owner] * share).astype(np.int64)
    # Flooring loses fewer than n cents per customer; hand them out one each, earliest first.
    left_over = cents - np.add.reduceat(value, starts)
    return value + (position < left_over[owner])
