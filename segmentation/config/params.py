"""Params are data: one YAML file parsed once, at the edge, into frozen typed objects that reject unknown keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from babel.numbers import list_currencies

from segmentation.config.schema import field_names
from segmentation.core.errors import ParamsError

POLICIES = ("fail", "drop", "flag")
PURCHASE_FIELDS = ("first_purchase_date", "last_purchase_date", "total_spent", "avg_order_value")
DEFAULT_INPUT = "data/raw/synthetic_customers.csv"
ENGINES = ("duckdb", "spark")
DEFAULT_CURRENCY = "USD"
# local, local[4], local[*], local[4,2], spark://host:7077, yarn, k8s://https://host:443,
# sc://host:15002 (Spark Connect)
SPARK_MASTER = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?|yarn|(spark|k8s|sc)://\S+")

# Every data-quality check, its default policy, and what it looks for (shown in the DQ report).
QUALITY_CHECKS: dict[str, tuple[str, str]] = {
    "nulls": ("drop", "a required field is empty"),
    "unparsable_values": ("fail", "a numeric or boolean field holds text that is not a number (finite, within "
                                  "±1e12) / true / false"),
    "unparsable_dates": ("drop", "a purchase date is not an ISO date"),
    "implausible_dates": ("drop", "a purchase date is before plausible.earliest_date or after plausible.latest_date "
                                  "(default: the day of the run)"),
    "out_of_range": ("flag", "age outside 18–80, credit score outside 300–850 or churn risk outside 0–1"),
    "last_before_first": ("drop", "last purchase is earlier than first purchase"),
    "dates_after_reference": ("drop", "a purchase date falls after the reference date"),
    "negative_money": ("drop", "total spent, average order value or income is negative"),
    "implausible_money": ("drop", "total spent, average order value or income is beyond ±plausible.max_money, "
                                  "or an average order value is above zero but below one cent"),
    "aov_not_positive": ("drop", "average order value is zero or negative"),
    "aov_above_total": ("drop", "average order value exceeds total spent"),
    "duplicate_ids": ("flag", "a customer id is used by more than one row (ids are re-issued)"),
    "duplicate_rows": ("drop", "a row is an exact copy of another row (one copy is kept)"),
}

# Checks on the rows of an orders table (transaction input only); an order can be dropped or stop the run.
ORDER_CHECKS: dict[str, tuple[str, str]] = {
    "order_nulls": ("drop", "an order's customer id, date or value is empty"),
    "order_unparsable": ("fail", "an order's date is not a date in transactions.format, or its value, quantity, "
                                 "unit price or a number attribute is not a number (finite, within ±1e12)"),
    "order_value_not_positive": ("drop", "an order's value or quantity is zero (a negative one is a return: see "
                                         "transactions.returns)"),
    "order_implausible": ("drop", "an order's value is above plausible.max_money, or its date is before "
                                  "plausible.earliest_date or after plausible.latest_date (when set)"),
    "order_date_in_future": ("drop", "an order is dated after the day the mart is built"),
    "orders_after_reference": ("drop", "an order is dated on or after the reference date (not counted as of it)"),
    "unknown_customers": ("drop", "an order's customer id is not in the customer file"),
}
ORDER_POLICIES = ("fail", "drop")
# Customer checks whose failing rows cannot be kept: why `flag` is refused for each (the others accept all three).
NOT_FLAGGABLE = {
    "nulls": "a flagged row would keep an empty field that RFM scores and ids cannot use",
    "unparsable_values": "a flagged row would keep an empty number that RFM scores cannot use",
    "unparsable_dates": "a flagged row would keep an empty date that recency and ids cannot use",
    "implausible_dates": "a flagged date would still set recency and the customer's id",
    "aov_not_positive": "frequency is total spent ÷ average order value, which needs a positive average",
    "implausible_money": "a flagged value would still enter the scores and the exact cent sums",
}
# A number in any field must be finite and within ±NUMBER_LIMIT to count as a number at all: beyond it the exact
# sums and sums of squares of the summary (whole cents in DECIMAL(38, 0)) could overflow.
NUMBER_LIMIT = 1e12
# Plausibility bounds (params section `plausible`): purchase dates from EARLIEST_DATE, money up to MAX_MONEY.
EARLIEST_DATE = dt.date(1900, 1, 1)
MAX_MONEY = 1_000_000_000
MIN_BOOTSTRAP, MAX_BOOTSTRAP = 1, 100_000
# The largest share of customers (or orders) an explicit reference_date may leave out before the run stops.
MAX_EXCLUDED_BY_REFERENCE = 0.05
# Where a params file's mart goes when it sets no mart_dir: beside the others, named after the params file.
DEFAULT_MART_DIR = "data/mart-{name}"

# Okabe–Ito and Tableau colours: distinguishable for colour-blind readers; fallback is grey.
DEFAULT_PALETTE = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
    "#8C564B", "#B8860B", "#6A3D9A", "#1B9E77", "#E7298A", "#66A61E",
)
FALLBACK_COLOR = "#7F7F7F"

SEGMENT_KEYS = {"id", "name", "description", "actions", "risks", "color", "r", "f", "m"}
FALLBACK_KEYS = SEGMENT_KEYS - {"r", "f", "m"}
TOP_KEYS = {
    "title", "input", "transactions", "mart_dir", "reference_date", "scores", "quality", "plausible", "premium",
    "privacy", "engine", "segments", "fallback", "chapters", "currency", "max_excluded_by_reference",
}
HEX_COLOR = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")

# File formats (`format` in the input and transactions sections)
SEPARATORS = (",", ";", "\t", "|", "whitespace")  # "whitespace": runs of spaces and tabs (CDNOW's original text)
DECIMAL_MARKS = (".", ",")
THOUSANDS_MARKS = (",", ".", " ", "'")
# strptime directives a date_format may use: the date parts are read, the time parts only matched (cut to the day)
DATE_DIRECTIVES = {"Y": "year", "y": "year", "m": "month", "b": "month", "B": "month", "d": "day"}
TIME_DIRECTIVES = set("HIMSfpzZaA")
FORMAT_KEYS = {"separator", "header", "date_format", "decimal", "thousands"}
# The orders table's own fields (transactions.columns maps them; order_value may be quantity × unit price)
ORDER_FIELDS = ("customer_id", "order_date", "order_value", "order_id", "quantity")
RETURN_POLICIES = ("net", "drop")


@dataclass(frozen=True)
class Segment:
    """A named segment: inclusive score ranges on R, F and M (None on the fallback), and what to do about it."""

    id: str
    name: str
    description: str
    actions: tuple[str, ...]
    risks: tuple[str, ...]
    color: str
    r: tuple[int, int] | None = None
    f: tuple[int, int] | None = None
    m: tuple[int, int] | None = None

    @property
    def is_fallback(self) -> bool:
        """True for the catch-all segment that has no score ranges."""
        return self.r is None

    def matches(self, r: int, f: int, m: int) -> bool:
        """Whether a customer with these scores falls inside all three ranges."""
        if self.is_fallback:
            return True
        return all(lo <= v <= hi for v, (lo, hi) in ((r, self.r), (f, self.f), (m, self.m)))


@dataclass(frozen=True)
class PremiumParams:
    """How the premium-subscription uplift is estimated."""

    bootstrap_samples: int = 1000
    confidence: float = 0.95
    seed: int = 20261127


@dataclass(frozen=True)
class PlausibleParams:
    """Bounds of believable values: purchase dates in [earliest_date, latest_date], money within ±max_money."""

    earliest_date: dt.date = EARLIEST_DATE
    latest_date: dt.date | None = None  # None: the day of the run
    max_money: float = MAX_MONEY

    def latest(self, today: dt.date | None = None) -> dt.date:
        """The latest plausible purchase date: latest_date, or the day of the run."""
        return self.latest_date or today or dt.date.today()


@dataclass(frozen=True)
class EngineParams:
    """Which query engine runs the mart and what it may use; past the memory limit DuckDB spills to disk."""

    memory_limit: str = "3GB"  # DuckDB's limit; a local Spark driver gets the same heap
    threads: int | None = None  # None: all cores (DuckDB; a local Spark master sets its own, e.g. local[2])
    name: str = "duckdb"
    spark_master: str = "local[2]"  # the SPARK_REMOTE environment variable (Spark Connect) wins when set


@dataclass(frozen=True)
class FileFormat:
    """How a text file is written: separator, header line, date format and number marks (Parquet ignores it)."""

    separator: str = ","  # one character, or "whitespace" (runs of spaces and tabs)
    header: bool = True  # False: the columns are column1, column2, … in file order
    date_format: str | None = None  # strptime format, date-times cut to the day; None: ISO date (time part allowed)
    decimal: str = "."
    thousands: str | None = None

    @property
    def plain_numbers(self) -> bool:
        """True when numbers are written as the engines read them (decimal point, no thousands mark)."""
        return self.decimal == "." and self.thousands is None


@dataclass(frozen=True)
class ColumnMap:
    """Which column of a file holds each field (field → column name); a field not listed is looked up under its own
    name. `product`: the order value is quantity × unit price, from these two columns."""

    names: dict[str, str] = field(default_factory=dict)
    product: tuple[str, str] | None = None  # (quantity column, unit price column)

    def column(self, name: str) -> str:
        """The file's column that holds the field `name`."""
        return self.names.get(name, name)


@dataclass(frozen=True)
class ReturnsParams:
    """What a return (negative quantity or value, or an order id matching the pattern) does: `net` subtracts it
    from the same customer's total; `drop` leaves it out. Either way it is counted."""

    policy: str = "net"
    order_id_pattern: str | None = None


@dataclass(frozen=True)
class TransactionParams:
    """Where the orders table is: one CSV or Parquet file, a folder of Parquet files, or a glob of them; how its
    columns map to the order fields, how its text is written, and what returns do."""

    path: str  # kept as written (relative to the project root): a glob is not a file system path
    since: dt.date | None = None  # the report compares segments as of this day (orders up to it) with now
    columns: ColumnMap = field(default_factory=ColumnMap)
    format: FileFormat = field(default_factory=FileFormat)
    returns: ReturnsParams = field(default_factory=ReturnsParams)
    attributes: tuple[str, ...] = ()  # customer-file fields taken from the orders (most frequent value)


@dataclass(frozen=True)
class Params:
    """Everything one run needs: where data lives, how to score, and the ordered segment rules."""

    path: Path
    sha256: str
    title: str
    input_path: Path | None  # the customer file; with transactions it only adds attributes and may be None
    mart_dir: Path
    chapters_dir: Path  # the report's chapter notebooks (what analysts edit); default chapters/ beside the data
    transactions: TransactionParams | None
    reference_date: dt.date | None
    bins: int
    quality: dict[str, str]
    premium: PremiumParams
    export_contacts: bool
    engine: EngineParams
    segments: tuple[Segment, ...]
    fallback: Segment
    plausible: PlausibleParams = field(default_factory=PlausibleParams)
    currency: str = DEFAULT_CURRENCY  # ISO 4217 code of every amount in the input, the mart and what shows them
    # an explicit reference_date that leaves out more than this share of customers or orders stops the run
    max_excluded_by_reference: float = MAX_EXCLUDED_BY_REFERENCE
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    input_columns: ColumnMap = field(default_factory=ColumnMap)  # the customer file's column names
    input_format: FileFormat = field(default_factory=FileFormat)

    @property
    def name(self) -> str:
        """Short name of this params set (the file stem), used to name report folders."""
        return self.path.stem

    @property
    def all_segments(self) -> tuple[Segment, ...]:
        """Rules in precedence order, fallback last."""
        return (*self.segments, self.fallback)

    def segment(self, segment_id: str) -> Segment:
        """The segment with this id."""
        for seg in self.all_segments:
            if seg.id == segment_id:
                return seg
        raise ParamsError(f"{self.path}: no segment with id '{segment_id}'")


def load_params(path: str | Path, *, root: Path | None = None) -> Params:
    """Read, lint and type a params YAML file; relative data paths resolve against `root` (default: cwd)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParamsError(f"{path}: cannot read params file ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ParamsError(
            f"{path}: not UTF-8 text: byte 0x{data[exc.start]:02x} at byte position {exc.start} (line {line}) "
            f"cannot be decoded; save the file as UTF-8"
        ) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ParamsError(f"{path}: not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of settings at the top level")
    params = _parse(path, raw, root or Path.cwd(), hashlib.sha256(text.encode()).hexdigest())
    _check_reachable(params)
    return params


def winner(segments: tuple[Segment, ...], r: int, f: int, m: int) -> Segment:
    """The first segment (in precedence order) whose ranges contain the cell; the fallback matches everything."""
    return next(seg for seg in segments if seg.matches(r, f, m))


def _check_reachable(params: Params) -> None:
    """Fail when a segment can never match because earlier rules take every cell it claims."""
    scores = range(1, params.bins + 1)
    won = {winner(params.all_segments, r, f, m).id for r in scores for f in scores for m in scores}
    for seg in params.all_segments:
        if seg.id not in won:
            where = "fallback" if seg.is_fallback else f"segment '{seg.id}'"
            raise ParamsError(
                f"{params.path}: {where}: can never match: every score cell it covers is taken by an earlier "
                "rule (narrow an earlier rule or move this one up)"
            )


def _parse(path: Path, raw: dict[str, Any], root: Path, sha256: str) -> Params:
    """Turn the YAML mapping into Params, naming file and key on the first problem."""
    _reject_unknown(path, "top level", raw, TOP_KEYS)
    scores = _mapping(path, raw, "scores")
    _reject_unknown(path, "scores", scores, {"bins"})
    bins = _int(path, "scores", "bins", scores.get("bins", 5))
    if not 2 <= bins <= 10:
        raise ParamsError(f"{path}: scores: key 'bins' must be between 2 and 10, got {bins}")

    segments_raw = raw.get("segments")
    if not isinstance(segments_raw, list) or not segments_raw:
        raise ParamsError(f"{path}: key 'segments' must be a non-empty list of segment rules")
    if "fallback" not in raw:
        raise ParamsError(f"{path}: key 'fallback' is required (the segment for customers no rule matches)")
    palette = iter(DEFAULT_PALETTE * 4)
    segments = tuple(_segment(path, item, bins, next(palette), fallback=False) for item in segments_raw)
    fallback = _segment(path, raw["fallback"], bins, FALLBACK_COLOR, fallback=True)
    seen: set[str] = set()
    for seg in (*segments, fallback):
        if seg.id in seen:
            raise ParamsError(f"{path}: segment '{seg.id}': key 'id' is used twice")
        seen.add(seg.id)

    quality = {check: default for check, (default, _) in {**QUALITY_CHECKS, **ORDER_CHECKS}.items()}
    quality_raw = _mapping(path, raw, "quality")
    _reject_unknown(path, "quality", quality_raw, set(QUALITY_CHECKS) | set(ORDER_CHECKS))
    for check, policy in quality_raw.items():
        allowed = policies_of(check)
        if policy not in allowed:
            why = f" ({NOT_FLAGGABLE[check]})" if policy == "flag" and check in NOT_FLAGGABLE else ""
            raise ParamsError(
                f"{path}: quality: key '{check}' must be one of {', '.join(allowed)}{why}, got {policy!r}"
            )
        quality[check] = policy
    plausible = _plausible(path, raw)
    transactions = _transactions(path, raw, root)
    input_path, input_columns, input_format = _input(path, raw, root)
    if input_path is None and transactions is None:
        raise ParamsError(f"{path}: key 'input' may be null only with a 'transactions' section (the orders table)")
    if input_path is not None and transactions is not None and transactions.attributes:
        raise ParamsError(
            f"{path}: transactions: columns: {', '.join(transactions.attributes)} come from the customer file when "
            f"'input' names one; map them in the input section, or set input: null to take them from the orders"
        )

    premium_raw = _mapping(path, raw, "premium")
    _reject_unknown(path, "premium", premium_raw, {"bootstrap_samples", "confidence", "seed"})
    premium = PremiumParams(
        bootstrap_samples=_int(path, "premium", "bootstrap_samples", premium_raw.get("bootstrap_samples", 1000)),
        confidence=_number(path, "premium", "confidence", premium_raw.get("confidence", 0.95),
                           "a number in [0.5, 1), e.g. 0.95"),
        seed=_int(path, "premium", "seed", premium_raw.get("seed", 20261127)),
    )
    if not 0.5 <= premium.confidence < 1:
        raise ParamsError(
            f"{path}: premium: key 'confidence' must be a number in [0.5, 1), e.g. 0.95, got {premium.confidence}"
        )
    if not MIN_BOOTSTRAP <= premium.bootstrap_samples <= MAX_BOOTSTRAP:
        raise ParamsError(
            f"{path}: premium: key 'bootstrap_samples' must be between {MIN_BOOTSTRAP} and {MAX_BOOTSTRAP:,} "
            f"(e.g. 1000), got {premium.bootstrap_samples}"
        )
    if premium.seed < 0:
        raise ParamsError(f"{path}: premium: key 'seed' must be a whole number ≥ 0, got {premium.seed}")
    privacy = _mapping(path, raw, "privacy")
    _reject_unknown(path, "privacy", privacy, {"export_contacts"})
    export_contacts = privacy.get("export_contacts", False)
    if not isinstance(export_contacts, bool):
        raise ParamsError(f"{path}: privacy: key 'export_contacts' must be true or false")

    engine_raw = _mapping(path, raw, "engine")
    _reject_unknown(path, "engine", engine_raw, {"memory_limit", "threads", "name", "spark_master"})
    memory_limit = engine_raw.get("memory_limit", EngineParams.memory_limit)
    if not (isinstance(memory_limit, str) and re.fullmatch(r"\d+(\.\d+)?\s*(MB|GB|MiB|GiB)", memory_limit)):
        raise ParamsError(f"{path}: engine: key 'memory_limit' must look like '3GB' or '512MB', got {memory_limit!r}")
    threads = engine_raw.get("threads")
    if threads is not None and (type(threads) is not int or threads < 1):
        raise ParamsError(f"{path}: engine: key 'threads' must be a whole number ≥ 1 or null, got {threads!r}")
    engine_name = engine_raw.get("name", EngineParams.name)
    if engine_name not in ENGINES:
        raise ParamsError(f"{path}: engine: key 'name' must be one of {', '.join(ENGINES)}, got {engine_name!r}")
    spark_master = engine_raw.get("spark_master", EngineParams.spark_master)
    if not (isinstance(spark_master, str) and SPARK_MASTER.fullmatch(spark_master)):
        raise ParamsError(
            f"{path}: engine: key 'spark_master' must be a Spark master URL such as local[2], spark://host:7077, "
            f"yarn or sc://host:15002, got {spark_master!r}"
        )

    return Params(
        path=path,
        sha256=sha256,
        title=_title(path, raw.get("title", "Customer segmentation")),
        input_path=input_path,
        mart_dir=_path(root, raw.get("mart_dir", DEFAULT_MART_DIR.format(name=path.stem))),
        chapters_dir=_path(root, raw.get("chapters", "chapters")),
        transactions=transactions,
        reference_date=_date(path, raw.get("reference_date")),
        bins=bins,
        quality=quality,
        premium=premium,
        export_contacts=export_contacts,
        engine=EngineParams(memory_limit=memory_limit, threads=threads, name=engine_name,
                            spark_master=spark_master),
        segments=segments,
        fallback=fallback,
        plausible=plausible,
        currency=_currency(path, raw.get("currency", DEFAULT_CURRENCY)),
        max_excluded_by_reference=_share(path, raw, "max_excluded_by_reference", MAX_EXCLUDED_BY_REFERENCE),
        raw=raw,
        input_columns=input_columns,
        input_format=input_format,
    )


def policies_of(check: str) -> tuple[str, ...]:
    """The policies a quality check accepts: order checks and checks whose rows cannot be kept have no `flag`."""
    return ORDER_POLICIES if check in ORDER_CHECKS or check in NOT_FLAGGABLE else POLICIES


def _plausible(path: Path, raw: dict[str, Any]) -> PlausibleParams:
    """The optional `plausible` section: the date window and the money bound."""
    section = _mapping(path, raw, "plausible")
    _reject_unknown(path, "plausible", section, {"earliest_date", "latest_date", "max_money"})
    earliest = _date(path, section.get("earliest_date", EARLIEST_DATE), "plausible: key 'earliest_date'")
    if earliest is None:
        raise ParamsError(f"{path}: plausible: key 'earliest_date' must be an ISO date like 1900-01-01, got null")
    latest = _date(path, section.get("latest_date"), "plausible: key 'latest_date'")
    if latest is not None and latest < earliest:
        raise ParamsError(
            f"{path}: plausible: key 'latest_date' {latest} is before earliest_date {earliest} (an empty window)"
        )
    bound = "a number above 0 and at most 1e12 (larger sums overflow the exact cent arithmetic)"
    max_money = _number(path, "plausible", "max_money", section.get("max_money", MAX_MONEY), bound)
    if not 0 < max_money <= NUMBER_LIMIT:
        raise ParamsError(f"{path}: plausible: key 'max_money' must be {bound}, got {max_money!r}")
    return PlausibleParams(earliest_date=earliest, latest_date=latest, max_money=max_money)


def _share(path: Path, raw: dict[str, Any], key: str, default: float) -> float:
    """A top-level share: a number in [0, 1] (0.05 is 5%)."""
    value = raw.get(key, default)
    if type(value) not in (int, float) or not 0 <= value <= 1:  # NaN fails the range too
        raise ParamsError(f"{path}: key '{key}' must be a share: a number in [0, 1], e.g. {default} for "
                          f"{default:.0%}, got {value!r}")
    return float(value)


def _transactions(path: Path, raw: dict[str, Any], root: Path) -> TransactionParams | None:
    """The optional orders-table section; a relative path or glob is taken from the project root."""
    if raw.get("transactions") is None:
        return None
    section = _mapping(path, raw, "transactions")
    _reject_unknown(path, "transactions", section, {"path", "since", "columns", "format", "returns"})
    where = section.get("path")
    if not isinstance(where, str) or not where.strip():
        raise ParamsError(f"{path}: transactions: key 'path' must name a CSV or Parquet file, a folder or a glob")
    since = _date(path, section.get("since"), "transactions: key 'since'")
    columns = _order_columns(path, section)
    attributes = tuple(name for name in columns.names if name not in (*ORDER_FIELDS, "unit_price"))
    return TransactionParams(
        path=where if Path(where).is_absolute() else str(root / where), since=since, columns=columns,
        format=_format(path, "transactions", section), returns=_returns(path, section), attributes=attributes,
    )


def _input(path: Path, raw: dict[str, Any], root: Path) -> tuple[Path | None, ColumnMap, FileFormat]:
    """The customer file: a plain path (as before), null, or a section with path, columns and format."""
    value = raw.get("input", DEFAULT_INPUT)
    if value is None:
        return None, ColumnMap(), FileFormat()
    if not isinstance(value, dict):
        return _path(root, value), ColumnMap(), FileFormat()
    _reject_unknown(path, "input", value, {"path", "columns", "format"})
    where = value.get("path")
    if not isinstance(where, str) or not where.strip():
        raise ParamsError(f"{path}: input: key 'path' must name the customer file (CSV or Parquet)")
    columns = _columns(path, "input", value, set(field_names()))
    return _path(root, where), ColumnMap(columns), _format(path, "input", value)


def _columns(path: Path, where: str, section: dict[str, Any], fields: set[str]) -> dict[str, str]:
    """A `columns` mapping: field → the file's column name (non-empty text), fields from `fields` only."""
    columns = _mapping(path, section, "columns")
    _reject_unknown(path, f"{where}: columns", columns, fields)
    for name, column in columns.items():
        if not isinstance(column, str) or not column.strip():
            raise ParamsError(f"{path}: {where}: columns: key '{name}' must be the file's column name (text), "
                              f"got {column!r}")
    return dict(columns)


def _order_columns(path: Path, section: dict[str, Any]) -> ColumnMap:
    """transactions.columns: the order fields and attribute fields; order_value may be {quantity, unit_price}."""
    attributes = set(field_names()) - {"customer_id", *PURCHASE_FIELDS}
    raw_columns = dict(_mapping(path, section, "columns"))
    value = raw_columns.pop("order_value", None)
    names = _columns(path, "transactions", {"columns": raw_columns}, {*ORDER_FIELDS, *attributes})
    product = None
    if isinstance(value, dict):
        _reject_unknown(path, "transactions: columns: order_value", value, {"quantity", "unit_price"})
        parts = [value.get("quantity"), value.get("unit_price")]
        if not all(isinstance(p, str) and p.strip() for p in parts):
            raise ParamsError(f"{path}: transactions: columns: order_value must be one column name, or quantity and "
                              f"unit_price column names (value = quantity × unit price), got {value!r}")
        if names.get("quantity", parts[0]) != parts[0]:
            raise ParamsError(f"{path}: transactions: columns: quantity is '{names['quantity']}' but order_value's "
                              f"quantity is '{parts[0]}'; give it once, under order_value")
        names.update(quantity=parts[0], unit_price=parts[1])
        product = (parts[0], parts[1])
    elif value is not None:
        names.update(_columns(path, "transactions", {"columns": {"order_value": value}}, {"order_value"}))
    return ColumnMap(names, product)


def _format(path: Path, where: str, section: dict[str, Any]) -> FileFormat:
    """A `format` mapping: separator, header, date_format, decimal and thousands marks."""
    found = _mapping(path, section, "format")
    label = f"{where}: format"
    _reject_unknown(path, label, found, FORMAT_KEYS)
    default = FileFormat()
    separator = found.get("separator", default.separator)
    separator = "\t" if separator in ("\\t", "tab") else separator  # '\t' in single quotes is two characters
    if separator not in SEPARATORS:
        raise ParamsError(f"{path}: {label}: key 'separator' must be one of {', '.join(map(repr, SEPARATORS))}, "
                          f"got {separator!r}")
    header = found.get("header", default.header)
    if not isinstance(header, bool):
        raise ParamsError(f"{path}: {label}: key 'header' must be true or false, got {header!r}")
    date_format = found.get("date_format")
    if date_format is not None:
        _check_date_format(path, label, date_format)
    decimal = found.get("decimal", default.decimal)
    if decimal not in DECIMAL_MARKS:
        raise ParamsError(f"{path}: {label}: key 'decimal' must be '.' or ',', got {decimal!r}")
    thousands = found.get("thousands")
    if thousands is not None and thousands not in THOUSANDS_MARKS:
        raise ParamsError(f"{path}: {label}: key 'thousands' must be null or one of "
                          f"{', '.join(map(repr, THOUSANDS_MARKS))}, got {thousands!r}")
    if thousands == decimal:
        raise ParamsError(f"{path}: {label}: keys 'decimal' and 'thousands' are both {decimal!r}; they must differ")
    return FileFormat(separator, header, date_format, decimal, thousands)


def _check_date_format(path: Path, label: str, date_format: Any) -> None:
    """A strptime format with a year, a month and a day, and only the directives the readers know."""
    if not isinstance(date_format, str) or not date_format.strip():
        raise ParamsError(f"{path}: {label}: key 'date_format' must be a strptime format like '%d/%m/%Y', "
                          f"got {date_format!r}")
    directives = re.findall(r"%(.)", date_format.replace("%%", ""))
    unknown = [d for d in directives if d not in DATE_DIRECTIVES and d not in TIME_DIRECTIVES]
    if date_format.replace("%%", "").endswith("%") or unknown:
        known = " ".join(f"%{d}" for d in (*DATE_DIRECTIVES, *sorted(TIME_DIRECTIVES)))
        raise ParamsError(f"{path}: {label}: key 'date_format' {date_format!r} uses "
                          f"{', '.join('%' + d for d in unknown) or 'a lone %'}; known directives: {known}")
    parts = [DATE_DIRECTIVES[d] for d in directives if d in DATE_DIRECTIVES]
    for part in ("year", "month", "day"):
        if parts.count(part) != 1:
            raise ParamsError(f"{path}: {label}: key 'date_format' {date_format!r} must hold the {part} once "
                              f"(e.g. '%d/%m/%Y')")


def _returns(path: Path, section: dict[str, Any]) -> ReturnsParams:
    """transactions.returns: the policy (net or drop) and an optional regular expression on the order id."""
    found = _mapping(path, section, "returns")
    _reject_unknown(path, "transactions: returns", found, {"policy", "order_id_pattern"})
    policy = found.get("policy", "net")
    if policy not in RETURN_POLICIES:
        raise ParamsError(f"{path}: transactions: returns: key 'policy' must be net or drop, got {policy!r}")
    pattern = found.get("order_id_pattern")
    if pattern is not None:
        try:
            if not isinstance(pattern, str) or not pattern:
                raise re.error("empty")
            re.compile(pattern)
        except re.error:
            raise ParamsError(f"{path}: transactions: returns: key 'order_id_pattern' must be a regular expression "
                              f"such as '^C', got {pattern!r}") from None
    return ReturnsParams(policy, pattern)


def _segment(path: Path, item: Any, bins: int, default_color: str, *, fallback: bool) -> Segment:
    """Parse one segment rule; the fallback has no score ranges."""
    where = "fallback" if fallback else "segments"
    if not isinstance(item, dict):
        raise ParamsError(f"{path}: {where}: each segment must be a mapping with id, name, …")
    seg_id = item.get("id")
    if not isinstance(seg_id, str) or not seg_id.strip():
        raise ParamsError(f"{path}: {where}: a segment has no 'id' (a short text such as 'top')")
    label = f"segment '{seg_id}'"
    _reject_unknown(path, label, item, FALLBACK_KEYS if fallback else SEGMENT_KEYS)
    for key in ("name", "description"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise ParamsError(f"{path}: {label}: key '{key}' must be a non-empty text")
    actions = _texts(path, label, "actions", item.get("actions"), 2, 3)
    risks = _texts(path, label, "risks", item.get("risks"), 1, 4)
    color = _color(path, label, item.get("color", default_color))
    ranges = {}
    if not fallback:
        for key in ("r", "f", "m"):
            ranges[key] = _score_range(path, label, key, item.get(key), bins)
    return Segment(
        id=seg_id, name=item["name"].strip(), description=item["description"].strip(),
        actions=actions, risks=risks, color=color, **ranges,
    )


def _color(path: Path, label: str, value: Any) -> str:
    """A colour safe in CSS, matplotlib and plotly, as '#rrggbb': '#rrggbb' is kept as written, '#rgb' and CSS
    colour names (steelblue, …) are spelled out."""
    if isinstance(value, str) and HEX_COLOR.fullmatch(value):
        return value if len(value) == 7 else "#" + "".join(c * 2 for c in value[1:])
    if isinstance(value, str) and value.strip():
        from matplotlib.colors import CSS4_COLORS  # late: matplotlib is slow to import, names are rare

        if value.strip().lower() in CSS4_COLORS:
            return CSS4_COLORS[value.strip().lower()]
    raise ParamsError(
        f"{path}: {label}: key 'color' must be a hex colour like '#1f77b4' or '#17b', or a CSS colour name like "
        f"'steelblue', got {value!r}"
    )


def _score_range(path: Path, label: str, key: str, value: Any, bins: int) -> tuple[int, int]:
    """An inclusive [low, high] score range inside 1..bins."""
    if value is None:
        raise ParamsError(f"{path}: {label}: key '{key}' is required, e.g. {key}: [1, {bins}]")
    if not (isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value)):
        raise ParamsError(f"{path}: {label}: key '{key}' must be two whole numbers [low, high], got {value!r}")
    low, high = value
    if low > high:
        raise ParamsError(f"{path}: {label}: key '{key}' range [{low}, {high}] is inverted (low > high)")
    if low < 1 or high > bins:
        raise ParamsError(f"{path}: {label}: key '{key}' range [{low}, {high}] is outside the scores 1..{bins}")
    return (low, high)


def _title(path: Path, value: Any) -> str:
    """The report's title: one line of text (the site's navbar and the PDF's title page show it)."""
    if not (isinstance(value, str) and value.strip()):
        raise ParamsError(f"{path}: key 'title' must be a non-empty text, e.g. title: Customer segmentation, "
                          f"got {value!r}")
    return " ".join(value.split())


def _currency(path: Path, value: Any) -> str:
    """An ISO 4217 currency code Babel knows (any case), upper-cased: 'gbp' → 'GBP'."""
    code = value.strip().upper() if isinstance(value, str) else None
    if code not in list_currencies():
        raise ParamsError(f"{path}: key 'currency' must be an ISO 4217 currency code such as USD, GBP or EUR, "
                          f"got {value!r}")
    return code


def _texts(path: Path, label: str, key: str, value: Any, least: int, most: int) -> tuple[str, ...]:
    """A list of `least`..`most` non-empty texts."""
    if not (isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)):
        raise ParamsError(f"{path}: {label}: key '{key}' must be a list of texts")
    if not least <= len(value) <= most:
        raise ParamsError(f"{path}: {label}: key '{key}' must list {least} to {most} items, got {len(value)}")
    return tuple(v.strip() for v in value)


def _reject_unknown(path: Path, where: str, mapping: dict[str, Any], allowed: set[str]) -> None:
    """Fail on the first key that is not in `allowed` (typos must not pass silently)."""
    for key in mapping:
        if key not in allowed:
            raise ParamsError(f"{path}: {where}: unknown key '{key}' (allowed: {', '.join(sorted(allowed))})")


def _mapping(path: Path, raw: dict[str, Any], key: str) -> dict[str, Any]:
    """An optional nested mapping, empty when absent."""
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise ParamsError(f"{path}: key '{key}' must be a mapping")
    return value


def _int(path: Path, where: str, key: str, value: Any) -> int:
    """A whole number (booleans are not numbers here)."""
    if type(value) is not int:
        raise ParamsError(f"{path}: {where}: key '{key}' must be a whole number, got {value!r}")
    return value


def _number(path: Path, where: str, key: str, value: Any, expected: str) -> float:
    """A finite number, whole or not (booleans and quoted text are not numbers here); `expected` says which."""
    if type(value) not in (int, float) or value != value or value in (float("inf"), float("-inf")):
        hint = ""
        if isinstance(value, str) and _looks_numeric(value):
            hint = " (write it unquoted; YAML reads 1e9 as text, 1.0e+9 as a number)"
        raise ParamsError(f"{path}: {where}: key '{key}' must be {expected}{hint}, got {value!r}")
    return value


def _looks_numeric(text: str) -> bool:
    """Whether a text would read as a number."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _date(path: Path, value: Any, key: str = "key 'reference_date'") -> dt.date | None:
    """An ISO date or None (meaning: derive it from the data)."""
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ParamsError(f"{path}: {key} must be an ISO date like 2026-11-01, got {value!r}") from None


def _path(root: Path, value: Any) -> Path:
    """A data path, relative ones taken from the project root."""
    p = Path(str(value))
    return p if p.is_absolute() else root / p
