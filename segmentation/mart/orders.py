"""Orders stage (transaction input): read the orders table, review its rows, and roll them up per customer.

The orders table has `customer_id`, `order_date` and `order_value` (or `quantity` × `unit_price`), and optionally
`order_id` and `quantity`; `transactions.columns` maps the file's column names to these fields and
`transactions.format` says how its text is written. It is one CSV file, one Parquet file, a folder of Parquet files
or a glob of them (`transactions.path` in the params). A return is a row with a negative quantity or value (or an
order id matching `transactions.returns.order_id_pattern`). Per customer, from the orders that pass the review:

- first / last purchase = earliest / latest `order_date` of a purchase (not a return);
- total_spent (monetary) = sum of `order_value`, returns subtracted (`returns.policy: net`, the default; `drop`
  leaves them out), summed exactly in whole cents (so reruns are byte-identical);
- frequency = distinct `order_id`s with a purchase; without an `order_id` column, distinct purchase days (lines
  bought on one day count as one visit);
- avg_order_value = total_spent / frequency, unrounded, so the features stage's round(total / aov) gives the
  frequency back exactly;
- attribute fields mapped in `transactions.columns` (country, favorite_category, …): the customer's most frequent
  value among its purchase lines (ties: the smallest value, alphabetically first for text).

The result has the customer file's 20 fields: the four purchase fields from the orders, the other fields from the
optional customer file (joined on `customer_id`, whose ids must then be unique), from the orders' attributes, or
empty. The customer-level review (`quality.review`) then runs on it as on a customer file; a customer whose net
value is zero or less is counted here and dropped there (`aov_not_positive`, `negative_money`, `nulls`).
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
from ibis import _
from ibis.backends import BaseBackend

from segmentation.config.params import ORDER_CHECKS, Params, PlausibleParams, TransactionParams
from segmentation.config.schema import field_types
from segmentation.core.errors import InputDataError, describe_rows
from segmentation.core.stats import whole
from segmentation.mart.engine import store
from segmentation.mart.load import ROW, check_columns, read_raw, read_text_csv, stored_with_row_numbers, unreadable
from segmentation.mart.quality import (
    RAW,
    CheckResult,
    ReferenceExclusion,
    any_of,
    as_date,
    check_exclusion,
    is_missing,
    normalise_id,
    parse_fields,
    unparsable_error,
)
from segmentation.mart.store import file_sha256

ORDER_TYPES = {"order_id": "string", "customer_id": "string", "order_date": "date", "order_value": "float64",
               "quantity": "int64"}
# order_value as quantity × unit price: both any number (a quantity may be a weight)
PRODUCT_TYPES = {"quantity": "float64", "unit_price": "float64"}
REQUIRED = ("customer_id", "order_date", "order_value")
RETURN = "is_return"  # true on a return row: negative quantity or value, or an order id matching the pattern
SOURCE_FILE = "source_file"  # which file of a folder or glob a row came from (its name)
PURCHASE_FIELDS = ("first_purchase_date", "last_purchase_date", "total_spent", "avg_order_value")
ORDER_LINES = "order_lines"  # rows of the orders table behind a customer: what an unknown customer's orders count
RETURNED_LINES = "returned_lines"  # of them, returns netted into the customer's total
EXAMPLES = 5
_GLOB = set("*?[")


@dataclass(frozen=True)
class OrderSource:
    """The orders table's files, as found from `transactions.path`."""

    pattern: str
    files: tuple[Path, ...]

    @property
    def kind(self) -> str:
        """'csv' or 'parquet'."""
        return "parquet" if self.files[0].suffix.lower() == ".parquet" else "csv"

    def sha256(self) -> str:
        """One hash of every file's name and bytes: a changed, added or removed file rebuilds the mart."""
        digest = hashlib.sha256()
        for path in self.files:
            digest.update(f"{path.name}\0{file_sha256(path)}\n".encode())
        return digest.hexdigest()


@dataclass
class OrderReview:
    """The per-customer purchases derived from the orders that passed, and what the review found."""

    customers: ibis.Table  # the customer file's 20 fields plus input_row, ready for quality.review
    reference_date: dt.date
    source: OrderSource
    rows_in: int
    rows_out: int
    frequency: str  # "orders" (distinct order ids) or "days" (distinct purchase days)
    customers_without_orders: int | None
    checks: list[CheckResult]
    first_future_day: dt.date | None = None  # earliest order dated after the run's day: it counts once that day comes
    exclusions: tuple[ReferenceExclusion, ...] = ()  # the orders (and customers) an explicit reference date leaves out
    returns: dict[str, Any] | None = None  # what the returns policy did (`returns_summary`)
    attributes: tuple[str, ...] = ()  # customer fields taken from the orders (most frequent value)

    def to_json(self) -> dict[str, Any]:
        """The orders part of data_quality.json."""
        return {
            "path": self.source.pattern, "files": len(self.source.files),
            "rows_in": self.rows_in, "rows_out": self.rows_out, "frequency": self.frequency,
            "customers_without_orders": self.customers_without_orders,
            "first_future_day": None if self.first_future_day is None else self.first_future_day.isoformat(),
            "returns": self.returns, "attributes": list(self.attributes),
        }


def find_sources(pattern: str) -> OrderSource:
    """The files behind `transactions.path`: a file, a folder's Parquet files, or a glob's matches (sorted)."""
    path = Path(pattern)
    if _GLOB & set(pattern):
        files = tuple(Path(p) for p in sorted(glob.glob(pattern)) if Path(p).is_file())
    elif path.is_dir():
        files = tuple(sorted(p for p in path.glob("*.parquet") if p.is_file()))
    else:
        files = (path,) if path.is_file() else ()
    if not files:
        raise InputDataError(
            f"{pattern}: orders table not found (expected a CSV or Parquet file, a folder of .parquet files or a "
            f"glob); create one with `python -m segmentation generate --transactions PATH` or set transactions.path"
        )
    kinds = {p.suffix.lower() for p in files}
    if len(files) > 1 and kinds != {".parquet"}:
        raise InputDataError(f"{pattern}: a folder or glob of orders must hold only .parquet files, "
                             f"found {sorted(kinds)}")
    if kinds - {".parquet", ".csv", ".gz", ".txt"}:
        raise InputDataError(f"{files[0]}: unsupported orders format '{files[0].suffix}' (use .csv or .parquet)")
    empty = [p for p in files if p.stat().st_size == 0]
    if empty:
        raise InputDataError(f"{empty[0]}: file is empty (0 rows); expected the orders table's fields")
    return OrderSource(pattern, files)


def order_types(transactions: TransactionParams | None = None) -> dict[str, str]:
    """The fields read from the orders table and their types: the order fields (order_value as quantity and unit
    price when mapped so) and the mapped attribute fields."""
    transactions = transactions or TransactionParams(path="")
    types = dict(ORDER_TYPES)
    if transactions.columns.product is not None:
        del types["order_value"]
        types.update(PRODUCT_TYPES)
    return {**types, **{name: field_types()[name] for name in transactions.attributes}}


def read_orders(con: BaseBackend, source: OrderSource, transactions: TransactionParams | None = None) -> ibis.Table:
    """The orders table's fields as read (under their field names), plus input_row (1-based within its file) and
    source_file. A mapped field whose column is missing, or a missing required field, fails here in one line."""
    transactions = transactions or TransactionParams(path=source.pattern)
    first = source.files[0]
    spark = con.name == "pyspark"
    try:
        if source.kind == "parquet" and spark:
            table = _spark_parquet(con, source.files)
        elif source.kind == "parquet":
            table = con.read_parquet([str(p) for p in source.files], filename=True, file_row_number=True)
            table = table.mutate(**{ROW: _.file_row_number + 1, SOURCE_FILE: _.filename.split("/")[-1]})
        else:
            table = read_text_csv(con, first, transactions.format)
    except InputDataError:
        raise
    except Exception as exc:  # the engine's own reader error: report it on one line
        raise unreadable(first, first.suffix, exc, spark=spark) from exc
    columns = transactions.columns
    # required: the three order fields (the value maybe as two columns) and every mapped field; others if present
    required = {*REQUIRED, *columns.names, *(PRODUCT_TYPES if columns.product else ())}
    wanted = {name: columns.column(name) for name in order_types(transactions)
              if name in required or name in table.columns}
    check_columns(table, wanted, source.pattern if len(source.files) > 1 else first, section="transactions",
                  expected=f"an orders table needs {', '.join(REQUIRED)} (optional: order_id, quantity)")
    if transactions.returns.order_id_pattern and "order_id" not in wanted:
        raise InputDataError(
            f"{source.pattern}: transactions.returns.order_id_pattern needs an order id, and the file has no "
            f"order_id column; map one in transactions.columns (order_id: …) or remove the pattern"
        )
    if source.kind == "parquet":
        return table.select(**{name: table[column] for name, column in wanted.items()}, **{
            ROW: table[ROW], SOURCE_FILE: table[SOURCE_FILE]})
    numbered = stored_with_row_numbers(con, table, wanted, "raw_orders", first)
    return numbered.mutate(**{SOURCE_FILE: ibis.literal(first.name)})


def parse_orders(raw: ibis.Table, transactions: TransactionParams | None = None) -> ibis.Table:
    """Typed order fields (null where a value does not parse), keeping each non-text field's text as `raw_<name>`;
    an order id keeps whatever type it has (it is only compared). Ids are normalised (`quality.normalise_id`),
    text attributes stripped; with quantity × unit price the order value is their product."""
    transactions = transactions or TransactionParams(path="")
    present = {name: kind for name, kind in order_types(transactions).items() if name in raw.columns}
    parsed = parse_fields(raw, present, keep=(ROW, SOURCE_FILE), any_type=("order_id",), fmt=transactions.format,
                          ids=("customer_id", "order_id"))
    text = {name: parsed[name].strip().nullif("") for name in transactions.attributes if present[name] == "string"}
    if transactions.columns.product is not None:
        text["order_value"] = parsed.quantity * parsed.unit_price
    return parsed.mutate(**text) if text else parsed


def is_return(parsed: ibis.Table, pattern: str | None = None) -> ibis.BooleanValue:
    """True on a return row: a negative quantity or value, or an order id matching `pattern`."""
    signs = [parsed[n] < 0 for n in ("order_value", "quantity") if n in parsed.columns]
    if pattern:
        signs.append(parsed.order_id.cast("string").re_search(pattern))
    return any_of(signs)


def order_field_checks(parsed: ibis.Table, today: dt.date, reference_date: dt.date | None,
                       plausible: PlausibleParams | None = None) -> dict[str, dict[str, Any]]:
    """Check id → field → predicate (true where that field fails the check; null counts as passing)."""
    plausible = plausible or PlausibleParams()
    # every field parsed from text: the date, the numbers, attributes that are not text
    parsed_fields = [n[len(RAW):] for n in parsed.columns if n.startswith(RAW)]
    date = parsed.order_date
    # dates after the run's day are order_date_in_future's (that check knows when they become due)
    too_early = date < ibis.date(plausible.earliest_date)
    purchase = ~parsed[RETURN] if RETURN in parsed.columns else ibis.literal(True)
    checks = {
        "order_nulls": {n: parsed[n].isnull() for n in REQUIRED},
        "order_unparsable": {n: parsed[RAW + n].notnull() & parsed[n].isnull() for n in parsed_fields},
        # a negative value or quantity is a return (netted or dropped by transactions.returns), not a bad row
        "order_value_not_positive": {n: purchase & (parsed[n] <= 0)
                                     for n in ("order_value", "quantity") if n in parsed.columns},
        "order_implausible": {
            "order_date": too_early if plausible.latest_date is None
            else too_early | (date > ibis.date(plausible.latest_date)),
            "order_value": parsed.order_value.abs() > plausible.max_money,
        },
        "order_date_in_future": {"order_date": date > ibis.date(today)},
    }
    if reference_date is not None:
        checks["orders_after_reference"] = {"order_date": date >= ibis.date(reference_date)}
    return {cid: {n: p.fill_null(False) for n, p in per_field.items()} for cid, per_field in checks.items()}


def review_orders(con: BaseBackend, params: Params, *, today: dt.date | None = None) -> OrderReview:
    """Read and review the orders, apply the policies, and derive each customer's purchase fields.

    One scan counts every check (and the returns); a second scan aggregates the orders that pass per customer.
    Unknown customers, customers whose net value is not positive and returning customers are found on the (much
    smaller) per-customer table.
    """
    transactions = params.transactions
    assert transactions is not None
    source = find_sources(transactions.path)
    parsed = parse_orders(read_orders(con, source, transactions), transactions)
    parsed = parsed.mutate(**{RETURN: is_return(parsed, transactions.returns.order_id_pattern)})
    today = today or dt.date.today()
    per_field = order_field_checks(parsed, today, params.reference_date, params.plausible)
    checks = {cid: any_of(predicates.values()) for cid, predicates in per_field.items()}
    dropping = any_of(p for cid, p in checks.items() if params.quality[cid] == "drop")
    passes = ~dropping if dropping is not None else ibis.literal(True)
    only_by_reference = _only_by_reference(checks, params)
    returned = passes & parsed[RETURN]
    counted = passes & ~parsed[RETURN] if transactions.returns.policy == "drop" else passes
    # the latest order that is counted fixes the default reference date
    counts = parsed.aggregate(
        rows=_.count(),
        latest=ibis.ifelse(counted, parsed.order_date, None).max(),
        future=ibis.ifelse(checks["order_date_in_future"], parsed.order_date, None).min(),
        return_rows=returned.cast("int64").sum(),
        return_cents=ibis.ifelse(returned, _cents(parsed.order_value.abs()), 0).sum(),
        **{cid: p.cast("int64").sum() for cid, p in checks.items()},
        **({} if only_by_reference is None else {
            "only_by_reference": only_by_reference.cast("int64").sum(),
            "usable": (~_others_dropping(checks, params)).cast("int64").sum(),
        }),
    ).execute().iloc[0]
    rows_in = int(counts["rows"])
    if not rows_in:
        raise InputDataError(f"{source.pattern}: no order rows (only a header?); expected one order per row")
    results = [_result(parsed, source, params, cid, whole(counts[cid]), checks[cid], per_field=per_field[cid])
               for cid in checks]
    reference_date = params.reference_date or _day_after(counts["latest"], source, params, rows_in, results)
    exclusions = () if only_by_reference is None else _orders_excluded(  # may stop the run before the roll-up
        params, source, whole(counts["only_by_reference"]), whole(counts["usable"]))

    netting = transactions.returns.policy == "net" and whole(counts["return_rows"]) > 0
    kept = parsed.filter(counted)
    if netting:  # a return subtracts its value, whatever sign it was written with
        kept = kept.mutate(order_value=ibis.ifelse(kept[RETURN], -kept.order_value.abs(), kept.order_value))
    frequency = "orders" if "order_id" in parsed.columns else "days"
    purchases = store(con, "purchases", roll_up(kept, "order_id" if frequency == "orders" else "order_date",
                                                returns=netting))
    if exclusions:
        exclusions += _customers_excluded(parsed, only_by_reference, params, purchases, source)

    without_orders = None
    if params.input_path is not None:
        attributes = _unique_customer_file(con, params)
        unknown = purchases.anti_join(attributes, "customer_id")
        lines, unknown_ids = unknown.aggregate(lines=_[ORDER_LINES].sum(), ids=_.count()).execute().iloc[0]
        missing = kept.semi_join(unknown.select("customer_id"), "customer_id")
        results.append(_result(parsed, source, params, "unknown_customers", whole(lines), None, failing=missing))
        if whole(unknown_ids) and params.quality["unknown_customers"] == "drop":
            purchases = purchases.semi_join(attributes.select("customer_id"), "customer_id")
        without_orders = int(attributes.anti_join(purchases, "customer_id").count().execute())
        customers = _with_attributes(purchases, attributes)
    else:
        bought = kept.filter(~kept[RETURN]) if netting else kept
        customers = _without_attributes(with_order_attributes(purchases, bought, transactions.attributes))
    returning = {"returning": (_[RETURNED_LINES] > 0).cast("int64").sum()} if netting else {}
    found = purchases.aggregate(
        lines=_[ORDER_LINES].sum(), not_positive=(_.cents <= 0).cast("int64").sum(), **returning,
    ).execute().iloc[0]
    rows_out = whole(found["lines"])
    returns = returns_summary(transactions, counts, whole(found["returning"]) if netting
                              else _returning_customers(parsed, returned, whole(counts["return_rows"])),
                              whole(found["not_positive"]))
    future = None if is_missing(counts["future"]) else as_date(counts["future"])
    return OrderReview(customers, reference_date, source, rows_in, rows_out, frequency, without_orders, results,
                       future, exclusions=exclusions, returns=returns, attributes=transactions.attributes)


def _others_dropping(checks: dict[str, ibis.BooleanValue], params: Params) -> ibis.BooleanValue:
    """True on an order that a dropping check other than orders_after_reference removes."""
    others = any_of(p for cid, p in checks.items() if params.quality[cid] == "drop" and cid != "orders_after_reference")
    return others if others is not None else ibis.literal(False)


def _only_by_reference(checks: dict[str, ibis.BooleanValue], params: Params) -> ibis.BooleanValue | None:
    """True on an order that only the explicit reference date removes (every other check passes it); None without
    an explicit date, or when orders_after_reference does not drop (`fail` stops the run on its own)."""
    if "orders_after_reference" not in checks or params.quality["orders_after_reference"] != "drop":
        return None
    return checks["orders_after_reference"] & ~_others_dropping(checks, params)


def _orders_excluded(params: Params, source: OrderSource, count: int, usable: int) -> tuple[ReferenceExclusion, ...]:
    """The orders only an explicit reference date drops, of those every other check passes, stopping the run when
    they are too many."""
    if not count:
        return ()
    assert params.reference_date is not None  # the check runs only with an explicit date
    found = ReferenceExclusion(params.reference_date, "orders", count, usable, "dated on or after it")
    check_exclusion(found, params, source.pattern)
    return (found,)


def _customers_excluded(parsed: ibis.Table, only_by_reference: ibis.BooleanValue, params: Params,
                        purchases: ibis.Table, source: OrderSource) -> tuple[ReferenceExclusion, ...]:
    """The customers whose every order (of those passing the other checks) an explicit reference date drops, of
    all the customers with such an order, stopping the run when they are too many. One more scan of the orders,
    only when the date drops some."""
    assert params.reference_date is not None
    lost = parsed.filter(only_by_reference).select("customer_id").distinct().anti_join(purchases, "customer_id")
    count = whole(lost.count().execute())
    found = ReferenceExclusion(params.reference_date, "customers", count,
                               count + whole(purchases.count().execute()), "whose orders all fall on or after it")
    check_exclusion(found, params, source.pattern)
    return (found,) if count else ()


def returns_summary(transactions: TransactionParams, counts: Any, customers: int,
                    not_positive: int) -> dict[str, Any]:
    """What the returns policy did, for data_quality.json: rows, customers and value netted (or dropped), and the
    customers whose net value is zero or less (the customer checks then drop them)."""
    return {
        "policy": transactions.returns.policy, "order_id_pattern": transactions.returns.order_id_pattern,
        "rows": whole(counts["return_rows"]), "customers": customers,
        "value": whole(counts["return_cents"]) / 100, "customers_not_positive": not_positive,
    }


def _returning_customers(parsed: ibis.Table, returned: ibis.BooleanValue, rows: int) -> int:
    """Distinct customers with a dropped return (read only when there are some)."""
    if not rows:
        return 0
    return whole(parsed.filter(returned).customer_id.nunique().execute())


def _cents(value: ibis.NumericValue) -> ibis.IntegerValue:
    """A money value as whole cents (sums of them are exact on every engine)."""
    return (value * 100).round().cast("int64")


def roll_up(orders: ibis.Table, visit: str, *, returns: bool = False) -> ibis.Table:
    """Per customer: first and last order date, exact total in cents, distinct visits (`visit` values), lines.

    Two grouped aggregates (per customer and visit, then per customer) instead of a distinct count per customer,
    which DuckDB computes a third slower on 1e8 orders (measured). With `returns` (rows marked RETURN, their values
    negative) the total is net, and dates and visits come from purchases only.
    """
    if not returns:
        per_visit = orders.group_by(["customer_id", visit]).aggregate(
            first=_.order_date.min(), last=_.order_date.max(), cents=_cents(_.order_value).sum(), lines=_.count(),
        )
        return per_visit.group_by("customer_id").aggregate(
            first_purchase_date=_.first.min(), last_purchase_date=_.last.max(), cents=_.cents.sum(),
            frequency=_.count(), **{ORDER_LINES: _.lines.sum()},
        )
    bought = ~orders[RETURN]
    per_visit = orders.group_by(["customer_id", visit]).aggregate(
        first=orders.order_date.min(where=bought), last=orders.order_date.max(where=bought),
        cents=_cents(orders.order_value).sum(), lines=_.count(), returned=orders[RETURN].cast("int64").sum(),
    )
    # a visit counts when it holds a purchase (then it has a first date); a visit of returns only does not
    return per_visit.group_by("customer_id").aggregate(
        first_purchase_date=_.first.min(), last_purchase_date=_.last.max(), cents=_.cents.sum(),
        frequency=_.first.count(), **{ORDER_LINES: _.lines.sum(), RETURNED_LINES: _.returned.sum()},
    )


def with_order_attributes(purchases: ibis.Table, orders: ibis.Table, attributes: tuple[str, ...]) -> ibis.Table:
    """`purchases` plus each attribute field: the customer's most frequent value among `orders` (ties: the
    smallest value, alphabetically first for text; no known value: null)."""
    for name in attributes:
        counted = orders.filter(orders[name].notnull()).group_by(["customer_id", name]).aggregate(n=_.count())
        # a window per customer (not over the whole table): the engines rank each customer's values apart
        ranked = counted.mutate(rank=ibis.row_number().over(group_by="customer_id",
                                                            order_by=[ibis.desc("n"), counted[name]]))
        top = ranked.filter(ranked["rank"] == 0).select("customer_id", name)
        purchases = purchases.left_join(top, "customer_id").drop("customer_id_right")
    return purchases


def _with_attributes(purchases: ibis.Table, attributes: ibis.Table) -> ibis.Table:
    """The 20 fields: purchases from the orders, everything else from the customer file (row numbers too)."""
    joined = purchases.join(attributes.drop(*PURCHASE_FIELDS), "customer_id")
    return joined.select(ROW, **_fields(joined))


def _without_attributes(purchases: ibis.Table) -> ibis.Table:
    """The 20 fields with only id and purchases known; customers numbered in id order."""
    numbered = purchases.mutate(**{ROW: ibis.row_number().over(order_by="customer_id") + 1})
    return numbered.select(ROW, **_fields(numbered))


def _fields(table: ibis.Table) -> dict[str, ibis.Value]:
    """The customer file's fields from a purchases table (plus customer-file columns, when joined)."""
    derived = {
        "total_spent": table.cents.cast("float64") / 100,
        # unrounded: total / aov must give the frequency back exactly in the features stage; a customer with only
        # returns has no purchase (frequency 0) and no average (the customer checks drop it)
        "avg_order_value": table.cents.cast("float64") / 100 / table.frequency.nullif(0).cast("float64"),
    }
    out = {}
    for name, kind in field_types().items():
        if name in derived:
            out[name] = derived[name]
        elif name in table.columns:
            out[name] = table[name]
        else:
            out[name] = ibis.null().cast(kind)
    return out


def _unique_customer_file(con: BaseBackend, params: Params) -> ibis.Table:
    """The customer file as read; its ids join the orders, so a repeated id stops the run."""
    assert params.input_path is not None
    raw = read_raw(con, params.input_path, columns=params.input_columns, fmt=params.input_format)
    # the ids join the orders' ids, normalised the same way
    raw = raw.mutate(customer_id=normalise_id(raw.customer_id.cast("string").nullif("")))
    repeated = raw.group_by("customer_id").aggregate(n=_.count()).filter(_.n > 1)
    found = repeated.aggregate(ids=_.count(), rows=_.n.sum()).execute().iloc[0]
    if whole(found["ids"]):
        rows = raw.semi_join(repeated, "customer_id").select(ROW).order_by(ROW).limit(EXAMPLES).execute()[ROW]
        raise InputDataError(
            f"{params.input_path}: field customer_id: {int(found['ids']):,} customer id(s) used by more than one row "
            f"in {describe_rows(int(found['rows']), [int(r) for r in rows])}; with transactions the customer file's "
            f"ids join the orders and must be unique"
        )
    return raw


def _result(parsed: ibis.Table, source: OrderSource, params: Params, check_id: str, count: int,
            predicate: ibis.BooleanValue | None, *, failing: ibis.Table | None = None,
            per_field: dict[str, Any] | None = None) -> CheckResult:
    """One check's outcome; a `fail` policy with failing orders stops the run with one line naming them (with
    `per_field`, the predicate of each field: only the failing fields are named, with the first row's value)."""
    policy = params.quality[check_id]
    fields = _check_fields(check_id, parsed)
    result = CheckResult(check_id, ORDER_CHECKS[check_id][1], list(fields), policy, count)
    if not count:
        return result
    failing = parsed.filter(predicate) if failing is None else failing
    result.examples = _examples(failing, fields)
    if policy == "fail" and check_id == "order_unparsable" and per_field:
        raise _unparsable(parsed, source, params, per_field)
    if policy == "fail":
        first_file = result.examples[0][SOURCE_FILE]
        where = source.pattern if len(source.files) == 1 else f"{source.pattern} ({first_file})"
        named, first = list(fields), ""
        if per_field:
            found = failing.aggregate(**{n: p.cast("int64").sum() for n, p in per_field.items()}).execute().iloc[0]
            named = [n for n in per_field if whole(found[n])]
            example = result.examples[0]
            row = parsed.filter((parsed[SOURCE_FILE] == first_file) & (parsed[ROW] == example[ROW]))
            bad = row.select(**per_field).execute().iloc[0]
            name = next((n for n in named if bad[n]), None)
            if name is not None:
                value = example[name]
                first = f"; row {example[ROW]} has {name} {'empty' if value is None else repr(value)}"
        raise InputDataError(
            f"{where}: field {', '.join(named)}: {result.description} in "
            f"{describe_rows(count, [e[ROW] for e in result.examples if e[SOURCE_FILE] == first_file])}{first}; "
            f"policy for check '{check_id}' is 'fail' in {params.path}: fix those rows, or set it to drop"
        )
    return result


def _unparsable(parsed: ibis.Table, source: OrderSource, params: Params,
                per_field: dict[str, Any]) -> InputDataError:
    """The one-line error for order values that do not parse: ONE field (the first with such values, in the order
    date, value, quantity, unit price, attributes), up to five of its values with their rows (in the first file
    that has any), and the format setting that would read them."""
    assert params.transactions is not None
    found = parsed.aggregate(**{n: p.cast("int64").sum() for n, p in per_field.items()}).execute().iloc[0]
    name = next(n for n in per_field if whole(found[n]))
    failing = parsed.filter(per_field[name])
    first_file = failing.aggregate(first=failing[SOURCE_FILE].min()).execute().iloc[0]["first"]
    rows = (failing.filter(failing[SOURCE_FILE] == first_file).select(ROW, RAW + name).order_by(ROW)
            .limit(EXAMPLES).execute())
    examples = [(int(r), str(v)) for r, v in zip(rows[ROW], rows[RAW + name])]
    where = source.pattern if len(source.files) == 1 else f"{source.pattern} ({first_file})"
    kind = order_types(params.transactions)[name]
    fix = f"fix those rows, or set quality.order_unparsable: drop in {params.path}"
    return unparsable_error(where, name, params.transactions.columns.column(name), kind, whole(found[name]),
                            examples, params.transactions.format, "transactions", fix)


def _check_fields(check_id: str, parsed: ibis.Table) -> tuple[str, ...]:
    """The order fields a check reads."""
    fields = {
        "order_nulls": REQUIRED,
        "order_unparsable": tuple(n[len(RAW):] for n in parsed.columns if n.startswith(RAW)),
        "order_value_not_positive": ("order_value", "quantity"),
        "order_implausible": ("order_date", "order_value"),
        "order_date_in_future": ("order_date",),
        "orders_after_reference": ("order_date",),
        "unknown_customers": ("customer_id",),
    }[check_id]
    return tuple(f for f in fields if f in parsed.columns)


def _examples(failing: ibis.Table, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Up to five failing orders: file, row and the checked fields as written."""
    shown = [RAW + f if RAW + f in failing.columns else f for f in fields]
    rows = failing.select(SOURCE_FILE, ROW, *shown).order_by([SOURCE_FILE, ROW]).limit(EXAMPLES).execute()
    out = []
    for rec in rows.to_dict("records"):
        item: dict[str, Any] = {SOURCE_FILE: rec[SOURCE_FILE], ROW: int(rec[ROW])}
        for field, column in zip(fields, shown):
            value = rec[column]
            item[field] = None if is_missing(value) else str(value)
        out.append(item)
    return out


def _day_after(latest: Any, source: OrderSource, params: Params, rows_in: int,
               results: list[CheckResult]) -> dt.date:
    """The default reference date: the day after the latest order that passed."""
    if is_missing(latest):
        why = ", ".join(f"{r.id} dropped {describe_rows(r.count)}" for r in results if r.count)
        raise InputDataError(
            f"{source.pattern}: no order passes the data-quality checks ({describe_rows(rows_in)} in; {why}); fix "
            f"those orders, or change those checks' policies in {params.path}"
        )
    return as_date(latest) + dt.timedelta(days=1)


def _spark_parquet(con: BaseBackend, files: tuple[Path, ...]) -> ibis.Table:
    """Parquet files on Spark, with each row's file name and 1-based row within the file (Spark's file metadata)."""
    from pyspark.sql import functions as F

    frame = con._session.read.parquet(*(p.resolve().as_uri() for p in files)).select(
        "*", F.col("_metadata.file_name").alias(SOURCE_FILE), (F.col("_metadata.row_index") + 1).alias(ROW)
    )
    frame.createOrReplaceTempView("orders_input")
    return con.table("orders_input")
