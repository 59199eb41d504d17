"""Segment migration between two mart snapshots: how many customers (and how much revenue) went from each
segment to each segment, plus the customers who are new and those who lapsed.

Customers are matched in one of two ways (`match`):

- ``"source"`` (default): by `source_customer_id` + `first_purchase_date`, which do not change when a customer
  buys again (the id in the customer file is not unique on its own). Customers who share both (a few dozen in
  100,000 generated ones) are paired in `customer_id` order within the pair of values; how many there were is in
  `migration.json` (`ambiguous_customers`).
- ``"id"``: by the mart's `customer_id`. Ids are issued by first-purchase chronology, so a customer keeps their id
  only between snapshots of a file that grows by customers whose first purchase is later than everyone's already
  there, and whose existing rows do not change. Ids shift when rows are dropped (by the data-quality checks or
  from the file), when a customer with an earlier first purchase is added, and, within one first-purchase day,
  when a customer's `last_purchase_date` (the first tie-break) changes. A shift is detected: matched ids whose
  `source_customer_id` or `first_purchase_date` differ stop the comparison with a `MigrationError` that says to
  use ``"source"``.

The flows are computed in Ibis (exact revenue sums in cents, like the mart's summary), so reruns give
byte-identical files. `python -m segmentation migrate --before DIR --after DIR` writes them into the after mart.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from segmentation.config.params import Params
from segmentation.core import atomic
from segmentation.core.errors import SegmentationError
from segmentation.core.stats import SCALES, scaled
from segmentation.mart.store import (
    CUSTOMERS,
    FILES,
    MANIFEST,
    MIGRATION,
    MIGRATION_JSON,
    Mart,
    build_sha256,
    check_mart_dir,
    file_sha256,
    publishing,
    read_mart,
    write_json,
)

__all__ = [
    "LAPSED",
    "MATCH_KEYS",
    "MIGRATION",
    "MIGRATION_JSON",
    "NEW",
    "Migration",
    "MigrationError",
    "as_of_dir",
    "command_hint",
    "flows",
    "migrate",
    "migrate_as_of",
    "read_migration",
    "summary_line",
    "top_movements",
    "totals",
]

# 2: each snapshot names its build by `build_sha256` (the manifest without its file list); 3: numbers only (the
# top movements carry no sentence: the report words them)
SCHEMA_VERSION = 3
NEW, LAPSED = "__new__", "__lapsed__"
NEW_NAME, LAPSED_NAME = "New (not in before)", "Lapsed (not in after)"
MATCH_KEYS: dict[str, tuple[str, ...]] = {
    "id": ("customer_id",),
    "source": ("source_customer_id", "first_purchase_date"),
}
TOP_MOVEMENTS = 5
COLUMNS = ("from_segment_id", "from_segment_name", "to_segment_id", "to_segment_name", "customers",
           "revenue_before", "revenue_after", "share_of_from")
SCHEMA = pa.schema([
    ("from_segment_id", pa.string()), ("from_segment_name", pa.string()),
    ("to_segment_id", pa.string()), ("to_segment_name", pa.string()),
    ("customers", pa.int64()), ("revenue_before", pa.float64()), ("revenue_after", pa.float64()),
    ("share_of_from", pa.float64()),
])
MIGRATE_HINT = "python -m segmentation migrate --before OLDER_MART --after {after}"
SINCE_HINT = "python -m segmentation migrate --params {params} --since YYYY-MM-DD"


class MigrationError(SegmentationError):
    """Raised when two marts cannot be compared (order of reference dates, schemas, segments, shifted ids)."""


@dataclass(frozen=True)
class Migration:
    """A migration file and its JSON, read back: the flows, the facts, and whether the mart has changed since."""

    path: Path
    flows: pd.DataFrame
    info: dict[str, Any]
    current: bool  # False when the after mart was rebuilt after the migration was computed

    @property
    def before_date(self) -> str:
        """Reference date of the earlier snapshot (ISO)."""
        return self.info["before"]["reference_date"]

    @property
    def after_date(self) -> str:
        """Reference date of the later snapshot (ISO)."""
        return self.info["after"]["reference_date"]


def migrate(before_dir: str | Path, after_dir: str | Path, out_path: str | Path | None = None,
            params: Params | None = None, *, match: str = "source") -> pd.DataFrame:
    """Compare two marts and write `segment_migration.parquet` and `migration.json`; return the flows.

    Parameters
    ----------
    before_dir, after_dir
        Mart folders; the after mart's reference date must be later.
    out_path
        The parquet file to write (default: `<after_dir>/segment_migration.parquet`); `migration.json` goes
        beside it.
    params
        Segment order, names and ids (both marts must use only these segments); default: the after mart's
        segment summary.
    match
        ``"source"`` (default: source customer id + first purchase date, stable when rows change) or ``"id"``
        (the mart's customer_id, only safe when the file between snapshots only grew; see the module docstring).

    Returns
    -------
    pandas.DataFrame
        One row per (from, to) pair, zero flows included: from is each segment in precedence order then
        `__new__`, to is each segment then `__lapsed__` (`__new__` → `__lapsed__` cannot happen and is left
        out). Columns: from/to segment id and name, customers, revenue_before, revenue_after, share_of_from.
    """
    if match not in MATCH_KEYS:
        raise MigrationError(f"match must be one of {', '.join(MATCH_KEYS)}, got {match!r}")
    before_dir, after_dir = Path(before_dir), Path(after_dir)
    out_path = Path(out_path) if out_path is not None else after_dir / MIGRATION
    check_mart_dir(after_dir, fix="pass a mart folder that `python -m segmentation run` built as --after")
    before = read_mart(before_dir, build_hint="python -m segmentation run --params …")
    after = read_mart(after_dir, build_hint="python -m segmentation run --params …")
    before_date, after_date = _reference_date(before), _reference_date(after)
    if after_date <= before_date:
        raise MigrationError(
            f"reference dates are not increasing: --before {before_dir} is as of {before_date}, --after {after_dir} "
            f"is as of {after_date}; pass the older mart as --before"
        )
    _check_currencies(before, after)
    _check_schemas(before_dir, after_dir)
    segments = _segments(params, after)
    _check_segments(before, segments, params)
    _check_segments(after, segments, params)

    # imported here, not at the top: report chapters import this module and need no engine
    from segmentation.mart.engine import connect

    keys = MATCH_KEYS[match]
    con = connect()
    left = con.create_table("before_customers", _side(before.customers), temp=True)
    right = con.create_table("after_customers", _side(after.customers), temp=True)
    if match == "id":
        _check_ids_did_not_shift(left, right, before_dir, after_dir)
    table = flows(left, right, keys).execute()
    frame = _complete(table, segments)

    # a customer_id is unique in a mart; source id + first purchase almost always is
    ambiguous = {"before": 0, "after": 0} if match == "id" else {"before": _ambiguous(left, keys),
                                                                   "after": _ambiguous(right, keys)}
    info = _info(before, after, frame, match, keys, ambiguous)
    _write(frame, info, out_path)
    return frame


def as_of_dir(mart_dir: Path, since: dt.date) -> Path:
    """Where the mart as of an earlier day goes: beside the mart (publishing a mart replaces its whole folder)."""
    return mart_dir.with_name(f"{mart_dir.name}-as-of-{since.isoformat()}")


def migrate_as_of(params: Params, since: dt.date, *, progress: Callable[[str], None] | None = None,
                  force: bool = False) -> pd.DataFrame:
    """Segment migration from transactions: customers as of `since` (orders up to and including that day) against
    the params' mart (all orders before its reference date). Builds both marts when needed; returns the flows.

    The earlier mart is `<mart_dir>-as-of-<since>`, with the same rules and checks; orders after `since` are left
    out of it (counted in its data-quality review), never reported as an error there, however many they are.
    `force` rebuilds both marts (taking over folders other params files built).
    """
    from segmentation.mart.pipeline import run  # the pipeline is only needed here; report chapters import this module

    if params.transactions is None:
        raise MigrationError(
            f"{params.path}: --since needs transaction input (a 'transactions' section); with customer files, "
            f"compare two mart snapshots with --before and --after"
        )
    after = run(params, force=force, progress=progress)
    after_date = dt.date.fromisoformat(after.manifest["reference_date"])
    if since + dt.timedelta(days=1) >= after_date:
        raise MigrationError(
            f"--since {since} is not before the mart's last counted day ({after_date - dt.timedelta(days=1)}); "
            f"pick an earlier date"
        )
    before_params = replace(
        params, reference_date=since + dt.timedelta(days=1), mart_dir=as_of_dir(params.mart_dir, since),
        quality={**params.quality, "orders_after_reference": "drop"}, max_excluded_by_reference=1.0,
    )
    run(before_params, force=force, progress=progress)
    return migrate(before_params.mart_dir, params.mart_dir, params=params)


def flows(before: ibis.Table, after: ibis.Table, keys: Sequence[str]) -> ibis.Table:
    """Customers and exact revenue (cents) per (from_segment_id, to_segment_id), on any Ibis backend.

    `before` and `after` have the `keys`, `customer_id`, `segment_id` and `cents` (monetary in whole cents).
    Customers sharing a key are paired in `customer_id` order (a window per key value, never across the table);
    unmatched ones come from `__new__` or go to `__lapsed__`.
    """
    unique = "customer_id" in keys  # a unique key needs no rank within it
    join_on = [*keys] if unique else [*keys, "nth"]

    def side(table: ibis.Table, tag: str) -> ibis.Table:
        """The key (and a rank within it), the segment and the cents, with names tagged by side."""
        extra = {} if unique else {"nth": ibis.row_number().over(group_by=list(keys), order_by="customer_id")}
        picked = table.select(*keys, **extra, segment=table.segment_id, cents=table.cents)
        return picked.rename({f"{col}_{tag}": col for col in (*join_on, "segment", "cents")})

    b, a = side(before, "b"), side(after, "a")
    on = [b[f"{k}_b"] == a[f"{k}_a"] for k in join_on]
    joined = b.join(a, on, how="outer")
    return (
        joined.mutate(from_segment_id=joined.segment_b.fill_null(NEW), to_segment_id=joined.segment_a.fill_null(LAPSED))
        .group_by(["from_segment_id", "to_segment_id"])
        .aggregate(customers=ibis._.count(), cents_before=ibis._.cents_b.sum(), cents_after=ibis._.cents_a.sum())
    )


def read_migration(mart_dir: str | Path) -> Migration | None:
    """The migration stored in a mart folder, or None when there is none (both files are needed).

    It is `current` while it was computed against the mart's present build (`build_sha256` of its manifest) and
    the mart's manifest lists both files as they are (they are small: hashing them is cheap).
    """
    mart_dir = Path(mart_dir)
    parquet, info_path = mart_dir / MIGRATION, mart_dir / MIGRATION_JSON
    if not (parquet.is_file() and info_path.is_file()):
        return None
    info = json.loads(info_path.read_text(encoding="utf-8"))
    try:
        manifest = json.loads((mart_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    listed = manifest.get(FILES) if isinstance(manifest, dict) else None
    current = (
        isinstance(listed, dict)
        and info.get("after", {}).get("build_sha256") == build_sha256(manifest)
        and all((listed.get(path.name) or {}).get("sha256") == file_sha256(path) for path in (parquet, info_path))
    )
    return Migration(path=parquet, flows=pd.read_parquet(parquet), info=info, current=bool(current))


def command_hint(after_dir: str | Path) -> str:
    """The command that (re)computes the migration into `after_dir`: from transactions (`--since`) when the mart
    was built from orders, else against an older snapshot."""
    try:
        manifest = json.loads((Path(after_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    if manifest.get("transactions"):
        return SINCE_HINT.format(params=manifest.get("params", {}).get("path", "PARAMS"))
    return MIGRATE_HINT.format(after=after_dir)


# --- checks ----------------------------------------------------------------------------------------------------


def _reference_date(mart: Mart) -> dt.date:
    """The mart's reference date (manifest first, insights as the fallback)."""
    value = mart.manifest.get("reference_date") or mart.insights.get("reference_date")
    if not value:
        raise MigrationError(f"{mart.path / MANIFEST}: no reference_date; rebuild the mart")
    return dt.date.fromisoformat(str(value))


def _check_currencies(before: Mart, after: Mart) -> None:
    """Both marts must hold amounts in the same currency: revenue before and after are compared as numbers."""
    left, right = before.manifest["currency"], after.manifest["currency"]
    if left != right:
        raise MigrationError(
            f"{after.path / MANIFEST}: amounts are in {right}, those of --before {before.path} in {left}; build both "
            "marts with the same `currency` in their params"
        )


def _check_schemas(before_dir: Path, after_dir: Path) -> None:
    """Both customer files must have the same columns with the same types (built by the same mart code)."""
    left, right = pq.read_schema(before_dir / CUSTOMERS), pq.read_schema(after_dir / CUSTOMERS)
    left_types = {f.name: str(f.type) for f in left}
    right_types = {f.name: str(f.type) for f in right}
    if left_types == right_types:
        return
    only_before = sorted(set(left_types) - set(right_types))
    only_after = sorted(set(right_types) - set(left_types))
    retyped = sorted(n for n in set(left_types) & set(right_types) if left_types[n] != right_types[n])
    parts = []
    if only_before:
        parts.append(f"only in before: {', '.join(only_before)}")
    if only_after:
        parts.append(f"only in after: {', '.join(only_after)}")
    if retyped:
        n = retyped[0]
        more = f" (+{len(retyped) - 1} more)" if len(retyped) > 1 else ""
        parts.append(f"{n}: {left_types[n]} vs {right_types[n]}{more}")
    raise MigrationError(
        f"{before_dir / CUSTOMERS} and {after_dir / CUSTOMERS}: schemas differ ({'; '.join(parts)}); "
        "rebuild both marts with the same code"
    )


def _segments(params: Params | None, after: Mart) -> list[tuple[str, str]]:
    """(id, name) of every segment in precedence order, fallback last: from the params, else the after mart."""
    if params is not None:
        return [(seg.id, seg.name) for seg in params.all_segments]
    return list(zip(after.summary["segment_id"], after.summary["segment_name"]))


def _check_segments(mart: Mart, segments: list[tuple[str, str]], params: Params | None) -> None:
    """Every segment a mart's customers are in must be one of `segments`."""
    known = {sid for sid, _ in segments}
    found = sorted(set(mart.customers["segment_id"].unique()) - known)
    if found:
        source = f"params {params.path}" if params is not None else "the after mart's segment summary"
        raise MigrationError(
            f"{mart.path / CUSTOMERS}: segment '{found[0]}' is not defined by {source}; "
            "pass the params file both marts were built with (--params)"
        )


def _check_ids_did_not_shift(before: ibis.Table, after: ibis.Table, before_dir: Path, after_dir: Path) -> None:
    """Matched ids must name the same customer: the same source id and first purchase in both marts."""
    b = before.select("customer_id", src_b="source_customer_id", first_b="first_purchase_date")
    a = after.select(id_a="customer_id", src_a="source_customer_id", first_a="first_purchase_date")
    pairs = b.join(a, b.customer_id == a.id_a)
    shifted = pairs.filter((pairs.src_b != pairs.src_a) | (pairs.first_b != pairs.first_a))
    count = int(shifted.count().execute())
    if count:
        total = int(pairs.count().execute())
        first = shifted.order_by("customer_id").limit(1).execute().iloc[0]
        raise MigrationError(
            f"{before_dir} → {after_dir}: {count:,} of {total:,} customer ids name another customer in the after "
            f"mart (e.g. {first['customer_id']}: source id {first['src_b']} → {first['src_a']}); ids shift when rows "
            "are dropped or changed, so match by source id and first purchase with --match source"
        )


def _ambiguous(table: ibis.Table, keys: Sequence[str]) -> int:
    """Customers who share their match key with another customer of the same mart (paired by customer_id)."""
    counts = table.group_by(list(keys)).aggregate(n=ibis._.count())
    return int(counts.filter(counts.n > 1).n.sum().fill_null(0).execute())


# --- building the output -------------------------------------------------------------------------------------------


def _side(customers: pd.DataFrame) -> ibis.Table:
    """The few columns migration needs, with monetary as whole cents (exact sums in any order)."""
    cols = ["customer_id", "source_customer_id", "first_purchase_date", "segment_id"]
    table = ibis.memtable(customers[[*cols, "monetary"]])
    return table.select(*cols, cents=scaled(table, "monetary").cast("int64"))


def _complete(table: pd.DataFrame, segments: list[tuple[str, str]]) -> pd.DataFrame:
    """Every (from, to) pair in display order with names, amounts in currency units and the share of the from
    segment."""
    names = dict(segments) | {NEW: NEW_NAME, LAPSED: LAPSED_NAME}
    origins = [sid for sid, _ in segments] + [NEW]
    targets = [sid for sid, _ in segments] + [LAPSED]
    grid = pd.DataFrame([(f, t) for f in origins for t in targets if not (f == NEW and t == LAPSED)],
                        columns=["from_segment_id", "to_segment_id"])
    found = grid.merge(table, on=["from_segment_id", "to_segment_id"], how="left", validate="one_to_one")
    cents = SCALES["monetary"]
    frame = pd.DataFrame({
        "from_segment_id": found["from_segment_id"],
        "from_segment_name": found["from_segment_id"].map(names),
        "to_segment_id": found["to_segment_id"],
        "to_segment_name": found["to_segment_id"].map(names),
        "customers": found["customers"].fillna(0).astype("int64"),
        "revenue_before": [_units(v, cents) for v in found["cents_before"]],
        "revenue_after": [_units(v, cents) for v in found["cents_after"]],
    })
    from_totals = frame.groupby("from_segment_id", sort=False)["customers"].transform("sum")
    frame["share_of_from"] = [c / t if t else float("nan") for c, t in zip(frame["customers"], from_totals)]
    return frame[list(COLUMNS)]


def _units(value: Any, scale: int) -> float:
    """Whole cents (int, Decimal, None or NaN) as currency units; missing is zero."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 0.0
    return int(value) / scale


def _info(before: Mart, after: Mart, frame: pd.DataFrame, match: str, keys: Sequence[str],
          ambiguous: dict[str, int]) -> dict[str, Any]:
    """migration.json: the two snapshots, totals and the movements that matter."""
    return {
        "schema_version": SCHEMA_VERSION,
        "match": match,
        "match_keys": list(keys),
        "ambiguous_customers": ambiguous,
        "before": _snapshot(before),
        "after": _snapshot(after),
        "totals": totals(frame),
        "top_movements": top_movements(frame),
    }


def totals(frame: pd.DataFrame) -> dict[str, Any]:
    """Customers before and after, matched, stayed, moved, new and lapsed, and revenue before and after."""
    matched = frame[(frame["from_segment_id"] != NEW) & (frame["to_segment_id"] != LAPSED)]
    stayed = int(matched.loc[matched["from_segment_id"] == matched["to_segment_id"], "customers"].sum())
    return {
        "customers_before": int(frame.loc[frame["from_segment_id"] != NEW, "customers"].sum()),
        "customers_after": int(frame.loc[frame["to_segment_id"] != LAPSED, "customers"].sum()),
        "matched": int(matched["customers"].sum()),
        "stayed": stayed,
        "moved": int(matched["customers"].sum()) - stayed,
        "new": int(frame.loc[frame["from_segment_id"] == NEW, "customers"].sum()),
        "lapsed": int(frame.loc[frame["to_segment_id"] == LAPSED, "customers"].sum()),
        "revenue_before": round(float(frame["revenue_before"].sum()), 2),
        "revenue_after": round(float(frame["revenue_after"].sum()), 2),
    }


def summary_line(frame: pd.DataFrame) -> str:
    """The totals in one line, for the command line."""
    t = totals(frame)
    return (f"{t['customers_before']:,} customers before, {t['customers_after']:,} after: {t['stayed']:,} stayed in "
            f"their segment, {t['moved']:,} moved, {t['new']:,} new, {t['lapsed']:,} lapsed")


def _snapshot(mart: Mart) -> dict[str, Any]:
    """Where a mart is, what it is as of, and hashes that tell whether it changed since."""
    return {
        "mart_dir": str(mart.path.resolve()),
        "reference_date": _reference_date(mart).isoformat(),
        "build_sha256": build_sha256(mart.manifest),
        "customers_sha256": mart.manifest[FILES][CUSTOMERS]["sha256"],  # checked by read_mart
        "params": {k: mart.manifest.get("params", {}).get(k) for k in ("name", "sha256")},
        "customers": len(mart.customers),
    }


def top_movements(frame: pd.DataFrame, top: int = TOP_MOVEMENTS) -> list[dict[str, Any]]:
    """The `top` flows between different segments (lapsed and new included) carrying the most revenue.

    A flow's weight is the revenue it carried before (what was at stake when those customers moved or left), or
    for new customers, their revenue after. Ties: more customers first, then display order.
    """
    moves = frame[(frame["from_segment_id"] != frame["to_segment_id"]) & (frame["customers"] > 0)].copy()
    moves["weight"] = moves["revenue_before"].where(moves["from_segment_id"] != NEW, moves["revenue_after"])
    moves["order"] = range(len(moves))
    moves = moves.sort_values(["weight", "customers", "order"], ascending=[False, False, True], kind="stable")
    chosen = []
    for row in moves.head(top).to_dict("records"):
        item = {k: row[k] for k in COLUMNS}
        item["customers"] = int(item["customers"])
        share = item["share_of_from"]
        item["share_of_from"] = None if math.isnan(share) else round(share, 6)
        chosen.append(item)
    return chosen


def _write(frame: pd.DataFrame, info: dict[str, Any], out_path: Path) -> None:
    """Into a mart folder: both files added to the mart as one publish, its manifest listing them. Elsewhere:
    parquet then JSON, each to a temporary name beside its target and renamed into place."""
    table = pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False).replace_schema_metadata(None)
    if (out_path.parent / MANIFEST).is_file():
        with publishing(out_path.parent, amend=True) as staging:
            pq.write_table(table, staging / out_path.name)
            write_json(staging / MIGRATION_JSON, info)
        return
    out_path.parent.mkdir(parents=True, exist_ok=True)
    json_path = out_path.with_name(MIGRATION_JSON)
    # the inner block goes in place first: parquet, then JSON, so a reader that sees the new JSON sees the new flows
    with atomic.replacing(json_path) as tmp_json, atomic.replacing(out_path) as tmp:
        pq.write_table(table, tmp)
        write_json(tmp_json, info)
