"""`make bench`: time the mart on transaction input (1e8 orders on DuckDB, 1e7 on Spark and a pandas roll-up).

`python -m benchmarks.transactions [--orders 1e8] [--spark-orders 1e7] [--reference-orders 1e7] [--no-docs]`

For each order count the customers needed for it (ceil(orders / ORDERS_PER_CUSTOMER)) are generated once into
`bench-out/transactions/` with their orders log (a folder of Parquet part files, seed 42), and the customer CSV is
converted to Parquet, so the numbers measure the mart, not CSV parsing; the real order and customer counts are
read back from the files and reported. Each run then builds the mart as a whole process measured by
`benchmarks.harness` (its work time without imports, and the peak memory of its process tree, JVM included):

- DuckDB at `--orders` (1e8): orders + customer file (attributes joined on customer_id), and orders only
  (`input: null`), with `engine.memory_limit` (6GB: DuckDB spills past it);
- Spark local[2] at `--spark-orders` (1e7), orders + customer file and orders only, with DuckDB on the same
  input beside each;
- a plain pandas roll-up (read the orders, group by customer: first/last date, sum, distinct orders) at
  `--reference-orders` (1e7), beside DuckDB's orders-only run on the same input (its load stage and whole run).

The results are printed and written to `docs/benchmarks.md` between `<!-- bench:transactions:… -->` markers.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from benchmarks.harness import (
    DEFAULT_DOCS,
    DEFAULT_OUT,
    DEFAULT_PARAMS,
    ROOT,
    SEED,
    ProcessRun,
    Progress,
    Say,
    bench_parser,
    child_main,
    console_table,
    finish_machine,
    generated_file_matches,
    machine_info,
    machine_lines,
    markdown_table,
    measure_mart_here,
    note_code_hashes,
    package_version,
    params_copy,
    parse_size,
    peak_rss_mb,
    ratio,
    relative,
    run_measured,
    size_label,
    stage_rows,
    verdict,
    write_docs,
    write_text,
)
from segmentation.core import atomic

ORDERS_PER_CUSTOMER = 7.63  # mean orders per generated customer (1e7 customers → 7.63e7 orders)
DEFAULT_ORDERS = 100_000_000
DEFAULT_SPARK_ORDERS = 10_000_000
DEFAULT_REFERENCE_ORDERS = 10_000_000
DEFAULT_TX_OUT = DEFAULT_OUT / "transactions"
MEMORY_LIMIT = "6GB"  # DuckDB's engine.memory_limit (and the local Spark driver's heap)
SPARK_MASTER = "local[2]"
TARGET_ORDERS = 100_000_000
TARGET_SECONDS = 120.0
TARGET_PEAK_MB = 8 * 1024.0
SECTION = "transactions"
SIZES_FILE = "sizes.json"  # target order count → customers generated for it (after a shortfall)
DUCKDB_SPILL_FOLDER = ".tmp"  # DuckDB's temp_directory for an in-memory database, in the working folder
SPILL_SAMPLE_S = 0.25
SHORTFALL_RETRIES = 3
SHORTFALL_SIGMAS = 5.0  # a retry aims 5 / sqrt(customers) above the target
STAMP_VERSION = 1
PARQUET_SOURCE_KEY = b"benchmarks.source"
CSV_BLOCK_BYTES = 64 << 20  # large read blocks give large Parquet row groups
COUNT_FIELDS = ("orders_read", "orders_kept", "customers_rolled_up", "customers_out", "customers_without_orders")


# ---------------------------------------------------------------------------------------------------------------
# inputs


@dataclass(frozen=True)
class OrderInputs:
    """Generated customers and their orders for one target order count, with the real counts read back."""

    target_orders: int
    customers: int
    orders: int
    csv: Path
    parquet: Path
    orders_dir: Path
    order_files: int


def customers_for(orders: int) -> int:
    """The customers to generate for about `orders` orders."""
    return max(1, math.ceil(orders / ORDERS_PER_CUSTOMER))


def count_orders(orders_dir: Path) -> tuple[int, int]:
    """Rows and files of a folder of Parquet part files, from the files' footers (no data read)."""
    import pyarrow.parquet as pq

    files = sorted(orders_dir.glob("*.parquet"))
    return sum(pq.ParquetFile(path).metadata.num_rows for path in files), len(files)


def stamp_for(csv: Path, customers: int, orders_dir: Path) -> dict[str, object]:
    """What identifies a generated pair: customer rows and seed, the CSV, and the orders' rows and files."""
    orders, files = count_orders(orders_dir)
    return {"version": STAMP_VERSION, "customers": customers, "seed": SEED, "csv": csv_fingerprint(csv),
            "orders": orders, "order_files": files}


def generated_pair_matches(csv: Path, customers: int, orders_dir: Path, stamp_path: Path) -> bool:
    """Whether the customer file and the orders log were generated together with these rows and seed."""
    if not (generated_file_matches(csv, customers, SEED) and orders_dir.is_dir() and stamp_path.is_file()):
        return False
    try:
        metadata = json.loads(csv.with_name(f"{csv.stem}_metadata.json").read_text(encoding="utf-8"))
        stored = json.loads(stamp_path.read_text(encoding="utf-8"))
        return "transactions" in metadata.get("generation", {}) and stored == stamp_for(csv, customers, orders_dir)
    except (OSError, ValueError):
        return False


def prepare_order_inputs(target_orders: int, out_dir: Path, say: Say) -> OrderInputs:
    """Customers (seed 42) with at least `target_orders` orders, and the customer file as Parquet.

    The first try generates ceil(target / ORDERS_PER_CUSTOMER) customers; when their orders fall short of the
    target (every size is a new random draw), more customers are generated instead (at most SHORTFALL_RETRIES
    times), and the count that reached the target is remembered in SIZES_FILE. Matching files are reused.
    """
    sizes_path = out_dir / SIZES_FILE
    sizes = read_sizes(sizes_path)
    customers = sizes.get(str(target_orders)) or customers_for(target_orders)
    inputs = generate_or_reuse(target_orders, customers, out_dir, say)
    for _retry in range(SHORTFALL_RETRIES):
        if inputs.orders >= target_orders:
            break
        # each size is a new random draw: aim above the target by 5 / sqrt(N) (3 standard deviations of the
        # total, orders per customer varying by 1.6 times their mean)
        margin = 1 + SHORTFALL_SIGMAS / math.sqrt(inputs.customers)
        customers = math.ceil(inputs.customers * target_orders / max(1, inputs.orders) * margin)
        say(f"generate {size_label(target_orders)} orders: {inputs.orders:,} orders fall short of "
            f"{target_orders:,}; generating {customers:,} customers instead")
        remove_inputs(inputs)
        inputs = generate_or_reuse(target_orders, customers, out_dir, say)
    if inputs.orders >= target_orders and sizes.get(str(target_orders)) != inputs.customers:
        sizes[str(target_orders)] = inputs.customers
        write_text(sizes_path, json.dumps(sizes, indent=2, sort_keys=True))
    if parquet_matches(inputs.parquet, inputs.csv):
        say(f"convert  {size_label(target_orders)} orders: reusing {relative(inputs.parquet)}")
    else:
        start = time.perf_counter()
        convert_to_parquet(inputs.csv, inputs.parquet)
        say(f"convert  {size_label(target_orders)} orders: → {relative(inputs.parquet)} "
            f"({time.perf_counter() - start:.1f} s)")
    say(f"inputs   {size_label(target_orders)} orders: {count_label(inputs.orders)} orders in {inputs.order_files} "
        f"file(s), {inputs.customers:,} customers")
    return inputs


def read_sizes(path: Path) -> dict[str, int]:
    """Target order count → customers generated for it, from earlier runs (empty when missing or unreadable)."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): v for k, v in found.items() if isinstance(v, int) and v > 0} if isinstance(found, dict) else {}


def input_paths(out_dir: Path, customers: int) -> tuple[Path, Path, Path, Path]:
    """Customer CSV, its Parquet, the orders folder and its stamp, for this many customers."""
    csv = out_dir / f"customers_{customers}.csv"
    return csv, csv.with_suffix(".parquet"), out_dir / f"orders_{customers}", out_dir / f"orders_{customers}.json"


def generate_or_reuse(target_orders: int, customers: int, out_dir: Path, say: Say) -> OrderInputs:
    """Generate this many customers with their orders (seed 42), unless matching files exist; count the orders."""
    csv, parquet, orders_dir, stamp_path = input_paths(out_dir, customers)
    label = size_label(target_orders)
    if generated_pair_matches(csv, customers, orders_dir, stamp_path):
        say(f"generate {label} orders: reusing {relative(csv)} and {relative(orders_dir)}/")
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        stamp_path.unlink(missing_ok=True)
        say(f"generate {label} orders: {customers:,} customers with their orders → {relative(orders_dir)}/")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "segmentation", "generate", "--rows", str(customers), "--seed",
                        str(SEED), "--out", str(csv), "--transactions", str(orders_dir)],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        write_text(stamp_path, json.dumps(stamp_for(csv, customers, orders_dir), indent=2))
        say(f"generate {label} orders: done ({time.perf_counter() - start:.1f} s)")
    orders, files = count_orders(orders_dir)
    return OrderInputs(target_orders, customers, orders, csv, parquet, orders_dir, files)


def remove_inputs(inputs: OrderInputs) -> None:
    """Delete a generated pair that fell short of its target (large files; never used again)."""
    csv, parquet, orders_dir, stamp_path = input_paths(inputs.csv.parent, inputs.customers)
    for path in (stamp_path, csv, csv.with_name(f"{csv.stem}_metadata.json"), parquet):
        path.unlink(missing_ok=True)
    for part in orders_dir.glob("*.parquet"):
        part.unlink()
    if orders_dir.is_dir() and not any(orders_dir.iterdir()):
        orders_dir.rmdir()

def csv_fingerprint(csv: Path) -> dict[str, int | str]:
    """What identifies the CSV a Parquet file was converted from."""
    stat = csv.stat()
    return {"name": csv.name, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def parquet_matches(parquet: Path, csv: Path) -> bool:
    """Whether `parquet` was converted from this very CSV file."""
    if not parquet.is_file():
        return False
    import pyarrow.parquet as pq

    try:
        stored = (pq.read_schema(parquet).metadata or {}).get(PARQUET_SOURCE_KEY)
        return stored is not None and json.loads(stored) == csv_fingerprint(csv)
    except (OSError, ValueError):  # unreadable or half-written: convert again
        return False


def convert_to_parquet(csv: Path, parquet: Path) -> None:
    """Write the customer CSV as Parquet with the schema's types (dates as dates, booleans as booleans)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from segmentation.config.schema import metadata

    arrow_types = {"string": pa.string(), "integer": pa.int64(), "float": pa.float64(), "date": pa.date32(),
                   "boolean": pa.bool_()}
    column_types = {f["name"]: arrow_types[f["type"]] for f in metadata()["fields"]}
    reader = pa_csv.open_csv(
        csv,
        read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
        convert_options=pa_csv.ConvertOptions(column_types=column_types, strings_can_be_null=False),
    )
    schema = reader.schema.with_metadata({PARQUET_SOURCE_KEY: json.dumps(csv_fingerprint(csv)).encode()})
    with atomic.replacing(parquet) as temporary, pq.ParquetWriter(temporary, schema) as writer:
        for batch in reader:
            writer.write_table(pa.Table.from_batches([batch], schema=schema))


# ---------------------------------------------------------------------------------------------------------------
# inside a measured process


def measure_rollup_here(orders_dir: Path) -> dict[str, Any]:
    """The plain-pandas roll-up here: read the orders, group by customer (min/max date, sum, distinct orders)."""
    start = time.perf_counter()
    import pandas as pd

    import_seconds = time.perf_counter() - start
    rss_after_imports = peak_rss_mb()
    start = time.perf_counter()
    frame = pd.read_parquet(orders_dir, columns=["customer_id", "order_id", "order_date", "order_value"])
    read_seconds = time.perf_counter() - start
    rolled = frame.groupby("customer_id").agg(
        first_purchase_date=("order_date", "min"), last_purchase_date=("order_date", "max"),
        total_spent=("order_value", "sum"), frequency=("order_id", "nunique"),
    )
    seconds = time.perf_counter() - start
    return {
        "work_seconds": seconds, "import_seconds": import_seconds, "rss_after_imports_mb": rss_after_imports,
        "stages": {"read": round(read_seconds, 4), "groupby": round(seconds - read_seconds, 4)},
        "orders_read": len(frame), "orders_kept": int(rolled["frequency"].sum()),
        "customers_rolled_up": len(rolled), "customers_out": len(rolled), "customers_without_orders": None,
    }


def manifest_counts(mart_dir: Path) -> dict[str, int | None]:
    """The orders read and kept and the customers rolled up and out, from a built mart's manifest."""
    manifest = json.loads((mart_dir / "manifest.json").read_text(encoding="utf-8"))
    transactions = manifest.get("transactions", {})
    return {"orders_read": transactions.get("rows_in"), "orders_kept": transactions.get("rows_out"),
            "customers_rolled_up": manifest["rows"]["raw"], "customers_out": manifest["rows"]["mart"],
            "customers_without_orders": transactions.get("customers_without_orders")}


# ---------------------------------------------------------------------------------------------------------------
# orchestration, in the harness process


@dataclass
class TxRun:
    """One measured run (mart or pandas roll-up) on one generated input."""

    key: str  # e.g. duckdb_1e8_customers
    engine: str  # duckdb | spark | pandas
    with_customers: bool  # the customer file was read (and joined)
    inputs: OrderInputs
    process: ProcessRun | None = None
    orders_read: int | None = None
    orders_kept: int | None = None
    customers_rolled_up: int | None = None
    customers_out: int | None = None
    customers_without_orders: int | None = None
    spill_peak_mb: float | None = None  # DuckDB: largest size of its spill folder seen (sampled)
    failed: str | None = None

    @property
    def title(self) -> str:
        """What the run is, in words."""
        if self.engine == "pandas":
            return "pandas roll-up (reference)"
        engine = "DuckDB" if self.engine == "duckdb" else f"Spark {SPARK_MASTER}"
        return f"{engine}, orders + customer file" if self.with_customers else f"{engine}, orders only"

    @property
    def short(self) -> str:
        """A column heading: engine, size and input."""
        engine = {"duckdb": "DuckDB", "spark": "Spark", "pandas": "pandas"}[self.engine]
        what = "" if self.engine == "pandas" else (" + customers" if self.with_customers else " orders only")
        return f"{engine} {size_label(self.inputs.target_orders)}{what}"

    @property
    def measured(self) -> bool:
        """Whether the run ended without error and reported its work."""
        return self.process is not None and self.failed is None

    @property
    def seconds(self) -> float | None:
        """Wall time of the work in its process (imports excluded)."""
        return self.process.work_seconds if self.measured else None

    @property
    def peak_mb(self) -> float | None:
        """Peak resident memory of the process tree: the Python process plus, for Spark, its JVM."""
        return self.process.peak_mb if self.measured else None

    @property
    def children_peak_mb(self) -> float:
        """Of the peak, the process's descendants (Spark's JVM)."""
        return self.process.children_peak_mb if self.process else 0.0

    @property
    def stages(self) -> dict[str, float]:
        """Seconds per stage, as the process reported them."""
        return self.process.stages if self.process else {}

    @property
    def other_seconds(self) -> float:
        """Work time outside the named stages (hashing, connecting, for Spark starting the JVM)."""
        return max(0.0, (self.seconds or 0.0) - sum(self.stages.values()))

    @property
    def load(self) -> str:
        """The machine's 1-minute load average before → after the run."""
        if self.process is None:
            return "—"
        return f"{self.process.load_before.split(' / ')[0]} → {self.process.load_after.split(' / ')[0]}"

    @property
    def counts_match(self) -> bool:
        """Whether the run read exactly the orders that were generated."""
        return self.orders_read == self.inputs.orders

    def target_checks(self) -> list[tuple[str, bool]]:
        """The issue's targets where they apply (DuckDB at 1e8) and whether they were met."""
        if self.engine != "duckdb" or self.inputs.target_orders != TARGET_ORDERS:
            return []
        if not self.measured:
            return [("ran", False)]
        return [(f"≤ {TARGET_SECONDS:g} s", self.seconds <= TARGET_SECONDS),
                (f"≤ {TARGET_PEAK_MB / 1024:g} GB", self.peak_mb <= TARGET_PEAK_MB)]

    def verdict(self) -> str:
        """'yes (…)', 'no (…)' or 'no target'."""
        checks = self.target_checks()
        if checks and self.failed:
            return "no (failed)"
        if checks and self.inputs.orders < TARGET_ORDERS:
            return f"not measured at 1e8 (only {count_label(self.inputs.orders)} orders)"
        return verdict(checks, none="no target" if self.engine == "duckdb" else "reference, no target")


@dataclass
class TxConfig:
    """What to measure and where to put it."""

    orders: int = DEFAULT_ORDERS
    spark_orders: int = DEFAULT_SPARK_ORDERS
    reference_orders: int = DEFAULT_REFERENCE_ORDERS
    params: Path = DEFAULT_PARAMS
    out_dir: Path = DEFAULT_TX_OUT
    docs: Path | None = DEFAULT_DOCS
    memory_limit: str = MEMORY_LIMIT
    threads: int | None = None


@dataclass
class TxReport:
    """Everything one transactions bench measured."""

    machine: dict[str, str]
    settings: dict[str, str]
    runs: list[TxRun]
    total_seconds: float
    notes: list[str] = field(default_factory=list)

    def find(self, engine: str, target_orders: int, with_customers: bool | None = None) -> TxRun | None:
        """The measured run of this engine at this size (and input), if any."""
        for run in self.runs:
            if (run.engine == engine and run.inputs.target_orders == target_orders and run.measured
                    and (with_customers is None or run.with_customers == with_customers)):
                return run
        return None


def spark_available() -> str | None:
    """Why Spark cannot run here (None: it can)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (`make test-spark` installs it)"
    return None


def run_params(run: TxRun, config: TxConfig) -> Path:
    """The params file of one mart run: the configured params on this input, mart in <out>/mart_<key>."""
    engine: dict[str, object] = {"name": run.engine, "memory_limit": config.memory_limit}
    if run.engine == "spark":
        engine["spark_master"] = SPARK_MASTER
    elif config.threads:
        engine["threads"] = config.threads
    return params_copy(config.params, config.out_dir / "params" / f"{run.key}.yaml", engine=engine,
                       mart_dir=config.out_dir / f"mart_{run.key}",
                       input=run.inputs.parquet if run.with_customers else None,
                       transactions={"path": str(run.inputs.orders_dir)})


class SpillWatch:
    """Samples the size of a folder (DuckDB's spill folder) in a thread and keeps the largest size seen."""

    def __init__(self, folder: Path, every_s: float = SPILL_SAMPLE_S) -> None:
        self.folder, self.every_s, self.peak_bytes = folder, every_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(self.every_s):
            self.peak_bytes = max(self.peak_bytes, folder_bytes(self.folder))

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under `folder` now (files may vanish while it is read)."""
    total = 0
    for path in folder.rglob("*") if folder.is_dir() else ():
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:
            continue
    return total


def measure(run: TxRun, config: TxConfig, say: Say) -> TxRun:
    """Measure one run as a whole process and fill in its results (or why it failed).

    The process runs in its own folder, so DuckDB's spill files (`.tmp` in the working folder) are its own and
    their size can be watched."""
    result_file = config.out_dir / "results" / f"{run.key}.json"
    command = [sys.executable, "-m", "benchmarks.transactions", "--result", str(result_file)]
    if run.engine == "pandas":
        command += ["--one", "reference", "--orders-dir", str(run.inputs.orders_dir)]
    else:
        command += ["--one", "mart", "--params", str(run_params(run, config))]
    workdir = config.out_dir / "work" / run.key
    workdir.mkdir(parents=True, exist_ok=True)
    say(f"{run.key}: running ({run.title}, {count_label(run.inputs.orders)} orders)")
    with SpillWatch(workdir / DUCKDB_SPILL_FOLDER) as spill:
        run.process = run_measured(command, cwd=workdir, result_file=result_file)
    run.spill_peak_mb = spill.peak_bytes / 2**20 if run.engine == "duckdb" else None
    error = run.process.error or (None if "work_seconds" in run.process.result else "no result written")
    if error:
        run.failed = f"failed (exit code {run.process.exit_code}): {error}"
        say(f"{run.key}: FAILED (exit code {run.process.exit_code}): {error}; the traceback is above")
        return run
    found = run.process.result if run.engine == "pandas" else manifest_counts(Path(run.process.result["mart_dir"]))
    for key in COUNT_FIELDS:
        setattr(run, key, found.get(key))
    spilled = f", spilled up to {run.spill_peak_mb:,.0f} MB" if run.spill_peak_mb else ""
    say(f"{run.key}: {run.seconds:.1f} s, peak {run.peak_mb:,.0f} MB{spilled}; read {run.orders_read:,} orders, "
        f"{run.customers_out:,} customers out")
    if not run.counts_match:
        say(f"WARNING  {run.key}: read {run.orders_read:,} orders but {run.inputs.orders:,} were generated")
    return run


def planned_runs(config: TxConfig, inputs: dict[int, OrderInputs], spark_missing: str | None) -> list[TxRun]:
    """The runs to make, in order: DuckDB at the target size, then Spark and DuckDB, then pandas and DuckDB."""
    runs: dict[str, TxRun] = {}

    def add(engine: str, target: int, with_customers: bool) -> None:
        what = "customers" if with_customers else "orders_only"
        key = f"{engine}_{size_label(target, for_path=True)}" + ("" if engine == "pandas" else f"_{what}")
        runs.setdefault(key, TxRun(key, engine, with_customers, inputs[target]))

    if config.orders:
        add("duckdb", config.orders, True)
        add("duckdb", config.orders, False)
    if config.spark_orders and not spark_missing:
        for with_customers in (True, False):
            add("duckdb", config.spark_orders, with_customers)
            add("spark", config.spark_orders, with_customers)
    if config.reference_orders:
        add("duckdb", config.reference_orders, False)
        add("pandas", config.reference_orders, False)
    return list(runs.values())


def run_bench(config: TxConfig) -> TxReport:
    """Prepare the inputs, measure every run, print the table."""
    say = Progress()
    machine = machine_info(pyspark=package_version("pyspark"), java=java_version())
    config.out_dir.mkdir(parents=True, exist_ok=True)
    notes = []
    spark_missing = spark_available() if config.spark_orders else None
    if spark_missing:
        notes.append(f"Spark not run: {spark_missing}.")
        say(f"spark: skipped ({spark_missing})")
    sizes = [config.orders, config.spark_orders if not spark_missing else 0, config.reference_orders]
    inputs = {size: prepare_order_inputs(size, config.out_dir, say) for size in dict.fromkeys(s for s in sizes if s)}
    runs = [measure(run, config, say) for run in planned_runs(config, inputs, spark_missing)]
    finish_machine(machine)
    note_code_hashes(machine, [r.process.result.get("code_sha256") for r in runs if r.measured])
    settings = {"params": relative(config.params), "memory_limit": config.memory_limit,
                "threads": str(config.threads) if config.threads else "all cores"}
    duckdb = next((r for r in runs if r.engine == "duckdb" and r.measured), None)
    if duckdb is not None:
        settings["threads"] = duckdb.process.result.get("engine", {}).get("threads", settings["threads"])
    report = TxReport(machine, settings, runs, say.elapsed, notes)
    print()
    print("\n".join(console_table(TABLE_HEADERS, [table_cells(r) for r in report.runs])))
    print(f"whole transactions bench: {report.total_seconds / 60:.1f} min")
    return report


# ---------------------------------------------------------------------------------------------------------------
# formatting


def count_label(n: int | None) -> str:
    """'1.00e8 (100,012,345)' for large counts, '2,345' for small ones."""
    if n is None:
        return "unknown"
    if n < 10_000:
        return f"{n:,}"
    mantissa, exponent = f"{n:.2e}".split("e")
    return f"{mantissa}e{int(exponent)} ({n:,})"


def java_version() -> str:
    """The `java -version` line (Spark's runtime), or 'not found'."""
    try:
        done = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[0].replace('"', "") if lines else "unknown"


TABLE_HEADERS = ["run", "orders", "customer file", "customers out", "seconds", "peak MB", "spilled MB",
                 "load 1 min", "target met?"]


def table_cells(run: TxRun) -> list[str]:
    """One run's row of the results table."""
    measured = run.measured
    return [
        run.title,
        count_label(run.inputs.orders),
        f"{run.inputs.customers:,}" if run.with_customers else "not read",
        f"{run.customers_out:,}" if measured else "—",
        f"{run.seconds:.1f}" if measured else ("failed" if run.failed else "not run"),
        f"{run.peak_mb:,.0f}" if measured else "—",
        "—" if run.spill_peak_mb is None else f"{run.spill_peak_mb:,.0f}",
        run.load,
        run.verdict(),
    ]


def section(report: TxReport) -> str:
    """The transactions section of docs/benchmarks.md."""
    m = report.machine
    lines = [
        "## Transactions",
        "",
        f"Measured {m['date']} by `make bench` (`python -m benchmarks.transactions`); the whole bench took "
        f"{report.total_seconds / 60:.1f} min (inputs reused or generated included).",
        "",
        *machine_lines(m, f", pyspark {m['pyspark']} ({m['java']})"),
        f"- Settings: params `{report.settings['params']}` with `transactions.path` set to the orders folder and "
        f"`input` the customer Parquet file (or `null`); `engine.memory_limit: {report.settings['memory_limit']}` "
        f"(DuckDB spills to disk past it; DuckDB threads: {report.settings['threads']}); Spark "
        f"`spark_master: {SPARK_MASTER}` with the same `memory_limit` as driver heap.",
        f"- Targets (2 cores): 1e8 transactions → mart ≤ {TARGET_SECONDS:g} s and ≤ "
        f"{TARGET_PEAK_MB / 1024:g} GB peak on DuckDB; Spark local at 1e7 and the pandas roll-up for reference.",
        *(f"- {note}" for note in report.notes),
        "",
        *markdown_table(TABLE_HEADERS, [table_cells(r) for r in report.runs], text_columns=(0, 2, -2, -1)),
        "",
        "Orders = rows in the generated orders folder (read back from the Parquet footers); every run read exactly "
        "those" + ("" if all(r.counts_match for r in report.runs if r.measured) else
                   " — **except where the console printed a WARNING**") + ". Customers out = mart rows (or the "
        "pandas roll-up's groups). Seconds exclude imports; peak MB = peak resident memory of the run's process "
        "tree, its process plus its JVM for Spark (MB = 2^20 bytes). Spilled MB = the largest size of DuckDB's "
        f"spill folder seen (sampled every {SPILL_SAMPLE_S:g} s; 0: no spilling seen). Load 1 min = the machine's "
        "1-minute load average before → after the run (2 cores: above 2 means other work competed for them).",
        "",
        *(f"**Failed:** {r.title} at {count_label(r.inputs.orders)} orders: {r.failed}." for r in report.runs
          if r.failed),
        *([""] if any(r.failed for r in report.runs) else []),
        *stage_lines(report),
        *ratio_lines(report),
        *method_lines(report),
    ]
    return "\n".join(lines)


def stage_lines(report: TxReport) -> list[str]:
    """Seconds per mart stage for every mart run, and what dominates the largest runs."""
    marts = [r for r in report.runs if r.engine != "pandas" and r.measured]
    if not marts:
        return []
    rows = stage_rows([(r.stages, r.other_seconds, r.seconds) for r in marts], digits=1)
    dominant = []
    for r in marts:
        if r.inputs.target_orders != max(x.inputs.target_orders for x in marts) and r.engine != "spark":
            continue
        ordered = sorted(r.stages.items(), key=lambda item: -item[1])[:2]
        parts = ", ".join(f"**{name}** {value:.1f} s ({value / r.seconds:.0%})" for name, value in ordered)
        dominant.append(f"- {r.short}: {parts}; other {r.other_seconds:.1f} s.")
    return [
        "### Mart stages (seconds)",
        "",
        "From the manifest's `timings_s`. *load* reads the orders, counts the order checks in one scan and rolls "
        "them up per customer (a stored table), then, with a customer file, checks its ids are unique and joins "
        "it; *other* is the rest of `run()`: hashing the input files and the code, connecting (for Spark: "
        "starting the JVM), reading params. Stages build lazy Ibis expressions, so a stage pays for every "
        "upstream step that was not stored before it.",
        "",
        *markdown_table(["stage", *(r.short for r in marts)], rows),
        "",
        "Largest stages:",
        "",
        *dominant,
        "",
    ]


def ratio_lines(report: TxReport) -> list[str]:
    """Spark vs DuckDB, pandas vs DuckDB, and 1e8 vs the smaller size, all from this run."""
    lines = ["### Ratios (same run, same inputs)", ""]
    for spark in (r for r in report.runs if r.engine == "spark"):
        what = "+ customer file" if spark.with_customers else "orders only"
        duck = report.find("duckdb", spark.inputs.target_orders, spark.with_customers)
        if not spark.measured:
            lines.append(f"- Spark at {count_label(spark.inputs.orders)} orders, {what}: failed (above), no ratio.")
        elif duck is None:
            lines.append(f"- Spark at {count_label(spark.inputs.orders)} orders, {what}: no DuckDB run to compare.")
        else:
            spark_stages = spark.seconds - spark.other_seconds
            duck_stages = duck.seconds - duck.other_seconds
            lines.append(
                f"- Spark ÷ DuckDB at {count_label(spark.inputs.orders)} orders, {what}: time "
                f"{ratio(spark.seconds, duck.seconds)} ({spark.seconds:.1f} s vs {duck.seconds:.1f} s; the stages "
                f"alone, without starting the JVM: {ratio(spark_stages, duck_stages)}), peak memory "
                f"{ratio(spark.peak_mb, duck.peak_mb)} ({spark.peak_mb:,.0f} MB vs {duck.peak_mb:,.0f} MB, of which "
                f"the JVM {spark.children_peak_mb:,.0f} MB)."
            )
    pandas = next((r for r in report.runs if r.engine == "pandas" and r.measured), None)
    if pandas is not None:
        duck = report.find("duckdb", pandas.inputs.target_orders, False)
        if duck is not None:
            load = duck.stages.get("load")
            lines.append(
                f"- pandas roll-up ÷ DuckDB at {count_label(pandas.inputs.orders)} orders (orders only): "
                f"{ratio(pandas.seconds, load)} the DuckDB load stage ({pandas.seconds:.1f} s vs {load:.1f} s; "
                f"the load stage also counts the order checks), {ratio(pandas.seconds, duck.seconds)} the whole "
                f"mart ({duck.seconds:.1f} s); peak memory {ratio(pandas.peak_mb, duck.peak_mb)} "
                f"({pandas.peak_mb:,.0f} MB vs {duck.peak_mb:,.0f} MB). pandas: read "
                f"{pandas.stages['read']:.1f} s, groupby {pandas.stages['groupby']:.1f} s; "
                f"{pandas.customers_out:,} customers, DuckDB rolled up {duck.customers_rolled_up:,}."
            )
    for with_customers in (True, False):
        big = report.find("duckdb", report_orders(report), with_customers)
        small = next((r for r in report.runs if r.engine == "duckdb" and r.measured and r is not big
                      and r.with_customers == with_customers and big and r.inputs.orders < big.inputs.orders), None)
        if big and small:
            lines.append(
                f"- DuckDB {'with' if with_customers else 'without'} the customer file, "
                f"{size_label(big.inputs.target_orders)} ÷ {size_label(small.inputs.target_orders)}: "
                f"{big.inputs.orders / small.inputs.orders:.1f}× the orders took "
                f"{ratio(big.seconds, small.seconds)} the time and {ratio(big.peak_mb, small.peak_mb)} the peak memory."
            )
    if len(lines) == 2:
        return []
    return [*lines, ""]


def report_orders(report: TxReport) -> int:
    """The largest target order count measured."""
    return max((r.inputs.target_orders for r in report.runs), default=0)


def method_lines(report: TxReport) -> list[str]:
    """How the numbers were measured."""
    inputs = {r.inputs.target_orders: r.inputs for r in report.runs}.values()
    made = "; ".join(
        f"{size_label(i.target_orders)}: {i.customers:,} customers → {count_label(i.orders)} orders in "
        f"{i.order_files} part file(s)" for i in inputs)
    return [
        "### Method",
        "",
        f"- Inputs: `python -m segmentation generate --rows N --seed {SEED} --transactions DIR` into "
        f"`bench-out/transactions/` (git-ignored) with N = ceil(orders / {ORDERS_PER_CUSTOMER}), more customers "
        f"when the orders fell short of the target ({made}); the "
        "customer CSV converted to Parquet with the schema's types. Inputs whose metadata (rows, seed), CSV "
        "fingerprint and order count match are reused.",
        "- Each run is one fresh Python process (`python -m benchmarks.transactions --one mart|reference`), "
        "`segmentation.mart.pipeline.run(params, force=True)` for the mart (hashing the inputs, every stage, writing "
        "the mart). One run each: the machine is shared, so read the ratios rather than single timings.",
        "- pandas reference: `pd.read_parquet(orders folder, 4 columns)`, then `groupby(\"customer_id\").agg(min "
        "date, max date, sum value, nunique order_id)` — the roll-up alone, no checks, scores or output.",
        "",
    ]


# ---------------------------------------------------------------------------------------------------------------
# command line


def main(argv: list[str] | None = None) -> int:
    """Run the whole transactions bench (or, with the hidden --one, a single measured process)."""
    parser = bench_parser("benchmarks.transactions", __doc__, out=DEFAULT_TX_OUT, children=("mart", "reference"))
    parser.add_argument("--orders", type=parse_size, default=DEFAULT_ORDERS,
                        help="orders for the DuckDB runs (default 1e8; 0: none)")
    parser.add_argument("--spark-orders", type=parse_size, default=DEFAULT_SPARK_ORDERS,
                        help="orders for the Spark run and its DuckDB twin (default 1e7; 0: no Spark)")
    parser.add_argument("--reference-orders", type=parse_size, default=DEFAULT_REFERENCE_ORDERS,
                        help="orders for the pandas roll-up and its DuckDB twin (default 1e7; 0: none)")
    parser.add_argument("--memory-limit", default=MEMORY_LIMIT, help="engine.memory_limit of every mart run")
    parser.add_argument("--threads", type=int, default=None, help="engine.threads of the DuckDB runs")
    parser.add_argument("--orders-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one == "mart":
        return child_main(args.result, lambda: measure_mart_here(args.params))
    if args.one == "reference":
        return child_main(args.result, lambda: measure_rollup_here(args.orders_dir))
    config = TxConfig(orders=args.orders, spark_orders=args.spark_orders, reference_orders=args.reference_orders,
                      params=args.params.resolve(), out_dir=args.out.resolve(),
                      docs=None if args.no_docs else args.docs, memory_limit=args.memory_limit, threads=args.threads)
    report = run_bench(config)
    write_docs(config.docs, {SECTION: section(report)})
    return 0 if all(r.measured for r in report.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
