"""The mart, end to end: raw → validated → ids → RFM features → scores → segments → summary and insights.

Run it with `python -m segmentation run --params params/default.yaml`.
All files land in the params' mart folder together, or not at all (`segmentation.mart.store.publishing`).
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
from ibis.backends import BaseBackend

from segmentation import __version__
from segmentation.config.params import DEFAULT_MART_DIR, Params
from segmentation.config.schema import PERSONAL_FIELDS, field_names
from segmentation.core import atomic
from segmentation.core.errors import MartFolderError
from segmentation.core.fingerprint import fingerprint
from segmentation.mart import countries, insights, orders, premium, quality, summary
from segmentation.mart.engine import connect, location, store
from segmentation.mart.ids import customer_numbers, issue_ids
from segmentation.mart.load import ROW, read_raw
from segmentation.mart.rfm import add_rfm
from segmentation.mart.scores import add_scores, cutoffs
from segmentation.mart.segments import assign_segments
from segmentation.mart.store import (
    CONTACTS,
    CUSTOMERS,
    INSIGHTS,
    MANIFEST,
    QUALITY,
    SCHEMA_VERSION,
    SUMMARY,
    check_mart_dir,
    check_owner,
    check_writable,
    file_sha256,
    mismatch,
    owner_record,
    publishing,
    settle,
    write_json,
)

MART_COLUMNS = (
    "customer_id", "source_customer_id", "age", "gender", "city", "country", "country_iso3", "income",
    "credit_score", "loyalty_points", "first_purchase_date", "last_purchase_date", "total_spent",
    "avg_order_value", "favorite_category", "device_type", "churn_risk", "subscription", "marketing_opt_in",
    "support_tickets", quality.FLAGS, "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
    "rfm_code", "segment_id", "segment_name",
)
SUMMARY_LISTS = {"trait_features": pa.string(), "trait_effects": pa.float64(), "trait_values": pa.float64(),
                 "trait_rest_values": pa.float64(), "actions": pa.string(), "risks": pa.string()}

Progress = Callable[[str], None]


@dataclass
class RunResult:
    """What a run produced (or found up to date)."""

    mart_dir: Path
    manifest: dict[str, Any]
    skipped: bool = False
    timings: dict[str, float] = field(default_factory=dict)


def run(params: Params, *, force: bool = False, progress: Progress | None = None) -> RunResult:
    """Build the mart for these params, unless the existing one was built from the same input, params and code and
    its files are still the ones its manifest lists."""
    say = progress or (lambda _msg: None)
    check_mart_dir(params.mart_dir, keep=_kept_paths(params), params_path=params.path)
    settle(params.mart_dir)  # finish a publish a killed run committed; remove what killed runs left
    current = _existing_manifest(params.mart_dir)
    if not force:  # a mart another params file built is taken over only when asked to
        check_owner(current, params.path, params.mart_dir, own_folder=own_mart_dir(params))
    # the input's hashes are read in the background: only an up-to-date check waits for them before the build
    input_hashes = _in_background(_input_hashes, params)
    fingerprint = {
        "params_sha256": params.sha256,
        "code_sha256": code_sha256(),
        "engine": params.engine.name,  # switching engines rebuilds: the mart records which one built it
        # a mart as of another day (migration from transactions) is the same params file with another date
        "reference_date": None if params.reference_date is None else params.reference_date.isoformat(),
    }
    if (not force and current and current.get("schema_version") == SCHEMA_VERSION
            and not _future_day_due(current)):
        fingerprint.update(input_hashes())
        if current.get("fingerprint") == fingerprint:
            problem = mismatch(params.mart_dir, current)
            if problem is None:
                say(f"mart {params.mart_dir} is up to date (same input, params and code)")
                return RunResult(params.mart_dir, current, skipped=True)
            say(f"mart {params.mart_dir}: {problem}; rebuilding")
    check_writable(params.mart_dir)  # a read-only folder is known before the work, a full disk only at the end

    timings: dict[str, float] = {}
    con = connect(params.engine)
    with _stage("load", timings, say) as note:
        raw, options = load_customers(con, params)
        if "orders" in options:
            note(f"{options['orders']['rows_in']:,} orders → {options['orders']['rows_out']:,} kept")
    with _stage("validate", timings, say) as note:
        review = quality.review(con, raw, params, **options)
        validated = review.table  # a filter over the stored checked table: cheap to scan again
        note(f"{review.rows_in:,} → {review.rows_out:,} customers")
    for exclusion in review.exclusions:
        say(f"  {exclusion.describe()}")
    with _stage("ids", timings, say):
        # a narrow table (row → number): sorting only the tie-break fields costs less than numbering whole rows
        numbers = store(con, "customer_numbers", customer_numbers(validated), in_order=False)
    with _stage("scores", timings, say) as note:
        # the cut-offs need no ids: taken on the validated rows, without joining the numbers
        cuts = cutoffs(add_rfm(validated, review.reference_date), params.bins)
        note(", ".join(f"{d}: {', '.join(f'{c:g}' for c in cs)}" for d, cs in cuts.items()))
    with publishing(params.mart_dir) as staging:
        with _stage("segments", timings, say):
            # ids, features, scores and segments in one query, written once sorted by the new id; everything after
            # reads the written file. The numbers hold only validated rows: joined to them, the flagged rows need no
            # filter, and the engine builds the join on the narrow numbers, not on the wide rows it would estimate
            # a filter to leave few of
            identified = _with_iso3(issue_ids(review.flagged, numbers), validated)
            write_sorted(identified, MART_COLUMNS, staging / CUSTOMERS, derive=lambda table: assign_segments(
                add_scores(add_rfm(table, review.reference_date), cuts), params))
            mart = con.read_parquet(location(con, staging / CUSTOMERS))
        with _stage("contract", timings, say):
            check_contract(mart, params, review)
        with _stage("summary", timings, say):
            stats = summary.segment_stats(mart)
            overall = summary.overall_kpis(stats)
            segment_table = summary.segment_summary(stats, summary.category_counts(mart), params)
            cells = premium.cell_stats(mart)
            found = [
                insights.revenue_concentration(mart.monetary.to_pyarrow().to_numpy()),
                insights.recency_split(cells, params.bins),
                insights.at_risk_value(mart, cells, params.bins, overall["revenue"]),
                insights.premium_uplift(premium.uplift(cells, params.premium)),
            ]
        with _stage("write", timings, say) as note:
            _write_summary(segment_table, staging / SUMMARY)
            write_json(staging / INSIGHTS, {
                "reference_date": review.reference_date.isoformat(),
                "customers": int(overall["customers"]), "revenue": overall["revenue"],
                "overall": {k: overall[k] for k in summary.KPIS}, "insights": found,
            })
            write_json(staging / QUALITY, review.to_json(params.input_path))
            if params.export_contacts and params.input_path is not None:
                _write_contacts(raw, numbers, staging / CONTACTS, params)
            fingerprint.update(input_hashes())
            manifest = build_manifest(params, fingerprint, review, cuts, int(overall["customers"]), timings)
            write_json(staging / MANIFEST, manifest)
            note(str(params.mart_dir))
    # as published: with the size and SHA-256 of every file
    return RunResult(params.mart_dir, _existing_manifest(params.mart_dir) or manifest, timings=timings)


def validate_only(params: Params, *, out_dir: Path | None = None,
                  progress: Progress | None = None) -> quality.QualityReview:
    """Run only the data-quality review; with `out_dir`, publish its data_quality.json there (never into the mart:
    a review of another input must not pass for the mart's, see `validate_dir`)."""
    say = progress or (lambda _msg: None)
    check_mart_dir(params.mart_dir, keep=_kept_paths(params), params_path=params.path)
    if out_dir is not None:
        _check_validate_dir(out_dir, params)
    con = connect(params.engine)
    raw, options = load_customers(con, params)
    review = quality.review(con, raw, params, **options)
    if out_dir is not None:
        try:
            with atomic.publishing(out_dir) as staging:
                write_json(staging / QUALITY, review.to_json(params.input_path))
        except OSError as exc:
            raise MartFolderError(f"{out_dir}: cannot write the review: {exc.strerror or exc}") from exc
    for check in review.checks:
        say(f"{check.id:<22} {check.policy:<5} {check.count:>9,}  {check.action}")
    for exclusion in review.exclusions:
        say(exclusion.describe())
    say(f"{review.rows_in:,} rows in, {review.rows_out:,} rows pass; "
        f"{review.duplicate_ids['ids']:,} ids used by {review.duplicate_ids['rows']:,} rows")
    return review


def validate_dir(params: Params, root: Path | None = None) -> Path:
    """Where `python -m segmentation validate` writes its review by default: build/validate/<params name>/ (under
    the working folder, like the report's build/report/<params name>/)."""
    return (root or Path()) / "build" / "validate" / params.name


def _check_validate_dir(out_dir: Path, params: Params) -> None:
    """The review has a folder of its own: never the mart folder, nor any folder that holds a mart."""
    if out_dir.resolve() == params.mart_dir.resolve() or (out_dir / MANIFEST).exists():
        raise MartFolderError(f"{out_dir}: the review of `validate` cannot go into a mart folder (the mart's own "
                              f"data_quality.json is written by `run`); pick another folder for --out")


def own_mart_dir(params: Params) -> Path | None:
    """Where the params' mart goes when they set no mart_dir (named after the file, under the working folder), or
    None when that is where it goes now."""
    derived = Path(DEFAULT_MART_DIR.format(name=params.name))
    return None if (Path.cwd() / derived).resolve() == params.mart_dir.resolve() else derived


def _kept_paths(params: Params) -> tuple[Path | None, ...]:
    """Files a mart folder must never hold: publishing replaces everything in it."""
    kept = [params.path, params.input_path]
    if params.transactions is not None and not any(c in params.transactions.path for c in "*?["):
        kept.append(Path(params.transactions.path))
    return tuple(kept)


def load_customers(con: BaseBackend, params: Params) -> tuple[ibis.Table, dict[str, Any]]:
    """The raw customer table and the options of its review: the customer file as read, or (transaction input)
    customers derived from the reviewed orders, whose order checks join the customer checks in the review."""
    if params.transactions is None:
        # the review stores what it needs in one pass over the file
        return read_raw(con, params.input_path, once=True, columns=params.input_columns,
                        fmt=params.input_format), {"file_order": True}
    found = orders.review_orders(con, params)
    # without a customer file only the id and the purchase fields are known
    unknown = tuple(n for n in field_names() if n not in ("customer_id", *orders.PURCHASE_FIELDS))
    options = {
        "source": params.input_path or params.transactions.path,
        "reference_date": found.reference_date,
        "optional": quality.OPTIONAL_FIELDS if params.input_path is not None else unknown,
        "orders": found.to_json(),
        "order_checks": found.checks,
        "exclusions": found.exclusions,
    }
    return found.customers, options


def check_contract(mart: ibis.Table, params: Params, review: quality.QualityReview) -> None:
    """Verify the mart's validated fields against their contract; a failure here is a bug in the checks, not bad
    input. One query tests every promise; pandera's validation runs only to describe a broken one."""
    contract = quality.validated_contract(params, review.reference_date, review.optional)
    if quality.contract_holds(mart, contract):
        return
    from pandera.errors import SchemaErrors  # a broken contract only

    try:
        quality.pandera_schema(contract).validate(mart, lazy=True)
    except SchemaErrors as exc:
        raise RuntimeError(
            f"the mart breaks the validated-fields contract (a bug in the quality checks): {exc}"
        ) from exc


def build_manifest(params: Params, fingerprint: dict[str, Any], review: quality.QualityReview,
                   cuts: dict[str, list[float]], mart_rows: int, timings: dict[str, float]) -> dict[str, Any]:
    """Provenance of a run: hashes, reference date, rows per stage, cut-offs, versions and stage timings."""
    return {
        "schema_version": SCHEMA_VERSION,
        "fingerprint": fingerprint,
        "params": {"path": str(params.path), "name": params.name, "sha256": params.sha256,
                   **owner_record(params.path, params.mart_dir)},
        "input": {"path": None if params.input_path is None else str(params.input_path),
                  "sha256": fingerprint["input_sha256"], "rows": review.rows_in},
        **({"transactions": {**review.orders, "sha256": fingerprint["transactions_sha256"]}} if review.orders else {}),
        "reference_date": review.reference_date.isoformat(),
        "currency": params.currency,  # the mart holds plain numbers; readers show them in this currency
        "first_future_day": _first_future_day(review),
        "rows": {"raw": review.rows_in, "validated": review.rows_out, "mart": mart_rows},
        "score_cutoffs": cuts,
        "score_values": {"r": "-recency_days", "f": "frequency", "m": "monetary"},
        "engine": params.engine.name,
        "versions": versions(params.engine.name),
        # timings vary run to run: kept apart from the outputs that must be byte-identical
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }


def versions(engine: str = "duckdb") -> dict[str, str]:
    """Versions of this package, Python and the libraries that shape the output (the engine's among them)."""
    found = {"segmentation": __version__, "python": platform.python_version()}
    engine_dist = "pyspark" if engine == "spark" else "duckdb"
    for dist in ("ibis-framework", engine_dist, "pandas", "pyarrow", "pandera"):
        found[dist] = importlib_metadata.version(dist)
    return found


def code_sha256() -> str:
    """SHA-256 of every module (and data file) the pipeline imports, so any change to them rebuilds the mart."""
    return fingerprint([__name__])


def _input_hashes(params: Params) -> dict[str, str | None]:
    """SHA-256 of the customer file and (transaction input) of the orders table, as the fingerprint records them."""
    found = {"input_sha256": file_sha256(params.input_path)
             if params.input_path and params.input_path.is_file() else None}
    if params.transactions is not None:
        found["transactions_sha256"] = orders.find_sources(params.transactions.path).sha256()
    return found


def _in_background(work: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """Start `work(*args)` in a daemon thread (hashing releases the GIL); return a call that waits for its result
    and raises its error, if any."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=getattr(work, "__name__", "work"), daemon=True)
    thread.start()

    def result() -> Any:
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return result


def _with_iso3(table: ibis.Table, validated: ibis.Table) -> ibis.Table:
    """Add country_iso3 by joining a small lookup of the validated table's distinct country names."""
    # an all-empty column (transaction input without a customer file) comes back as NaN, not None
    found = validated.select("country").distinct().execute()["country"].tolist()
    names = sorted(n for n in found if isinstance(n, str))
    codes = countries.iso3_map(names)
    lookup = ibis.memtable(pa.table({"country": pa.array(names, pa.string()),
                                     "country_iso3": pa.array([codes[n] for n in names], pa.string())}))
    return table.left_join(lookup, "country").drop("country_right")


def _write_summary(segment_table: ibis.Table, path: Path) -> None:
    """Write the segment summary with fixed list types (an all-empty list column must not become null-typed)."""
    fields = []
    for name, dtype in segment_table.dtypes.items():
        if name in SUMMARY_LISTS:
            fields.append(pa.field(name, pa.list_(SUMMARY_LISTS[name])))
        elif name in ("customers", "precedence"):
            fields.append(pa.field(name, pa.int64()))
        elif dtype.kind == "f":
            fields.append(pa.field(name, pa.float64()))
        else:
            fields.append(pa.field(name, pa.string()))
    table = pa.Table.from_pandas(segment_table, schema=pa.schema(fields), preserve_index=False)
    pq.write_table(table.replace_schema_metadata(None), path)


def _write_contacts(raw: ibis.Table, numbers: ibis.Table, path: Path, params: Params) -> None:
    """Names and emails by new customer id, only when the params allow personal data out."""
    contacts = issue_ids(quality.parse(raw, params.input_format).select(ROW, "customer_id", *PERSONAL_FIELDS),
                         numbers)
    write_sorted(contacts, ("customer_id", *PERSONAL_FIELDS), path)


def write_sorted(table: ibis.Table, columns: Sequence[str], path: Path,
                 derive: Callable[[ibis.Table], ibis.Table] | None = None) -> None:
    """Write `columns` of a table that carries `customer_number` to ONE Parquet file, in customer_number order.

    `derive` adds columns computed from each row alone. DuckDB computes them on the sorted rows, so the sort moves
    fewer columns (it keeps the sorted order through a projection, as it does for the final one), and writes the
    file itself. Spark writes a folder of part files (one per task, each a sorted range), so they are streamed into
    one file, in order, with the same column types as DuckDB's.
    """
    derive = derive or (lambda rows: rows)
    ordered = table.order_by("customer_number")
    if table.get_backend().name != "pyspark":
        derive(ordered.view()).select(*columns).to_parquet(path)
        return
    ordered = derive(ordered)
    table = derive(table)
    schema = pa.schema([pa.field(name, dtype.to_pyarrow()) for name, dtype in table.select(*columns).schema().items()])
    parts = path.with_name(f".{path.name}.parts")
    try:
        ordered.select("customer_number", *columns).to_parquet(location(table.get_backend(), parts))
        _combine_parts(parts, schema, path)
    finally:
        shutil.rmtree(parts, ignore_errors=True)


def _combine_parts(parts: Path, schema: pa.Schema, path: Path) -> None:
    """Stream sorted part files, in customer_number order, into one Parquet file with `schema` (order checked)."""
    files = []
    for part in parts.glob("*.parquet"):
        reader = pq.ParquetFile(part)
        if reader.metadata.num_rows:  # a task with no rows may still write an empty file
            first = next(reader.iter_batches(batch_size=1, columns=["customer_number"])).column(0)[0].as_py()
            files.append((first, part))
    last = None
    with pq.ParquetWriter(path, schema) as writer:
        for _first, part in sorted(files):
            for batch in pq.ParquetFile(part).iter_batches():
                if not batch.num_rows:
                    continue
                numbers = batch.column(0).to_numpy()
                if (last is not None and numbers[0] <= last) or (numbers[1:] <= numbers[:-1]).any():
                    raise RuntimeError(f"{parts}: the engine wrote customer_number out of order")
                last = numbers[-1]
                writer.write_batch(pa.RecordBatch.from_arrays(
                    [batch.column(f.name).cast(f.type) for f in schema], schema=schema))


def _first_future_day(review: quality.QualityReview) -> str | None:
    """The earliest purchase or order the run left out because it lies after the day of the run, if any."""
    days = [review.first_future_day, (review.orders or {}).get("first_future_day")]
    found = sorted(d if isinstance(d, str) else d.isoformat() for d in days if d is not None)
    return found[0] if found else None


def _future_day_due(manifest: dict[str, Any]) -> bool:
    """True when the mart left out purchases or orders dated after the day it was built and one of those days has
    come (they are plausible now, so the mart must be rebuilt to count them)."""
    first_future_day = manifest.get("first_future_day")
    return first_future_day is not None and dt.date.today() >= dt.date.fromisoformat(first_future_day)


def _existing_manifest(mart_dir: Path) -> dict[str, Any] | None:
    """The manifest of the mart already there, if any."""
    try:
        return json.loads((mart_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@contextmanager
def _stage(name: str, timings: dict[str, float], say: Progress) -> Iterator[Callable[[str], None]]:
    """Time a stage and report it on one line, with an optional note from inside the stage."""
    notes: list[str] = []
    start = time.perf_counter()
    yield notes.append
    timings[name] = time.perf_counter() - start
    say(f"  {name:<9} {timings[name]:6.2f} s  {'; '.join(notes)}")
