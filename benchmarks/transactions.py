"""`make bench`: time the mart on transaction input (1e8 orders on DuckDB, 1e7 on Spark and a pandas roll-up).

`python -m benchmarks.transactions [--orders 1e8] [--spark-orders 1e7] [--reference-orders 1e7] [--no-docs]`

For each order count the customers needed for it (ceil(orders / ORDERS_PER_CUSTOMER)) are generated once into
`bench-out/transactions/` with their orders log (a folder of Parquet part files, seed 42), and the customer CSV is
converted to Parquet, so the numbers measure the mart, not CSV parsing; the real order and customer counts are
read back from the files and reported. Each run then builds the mart in a fresh Python process (as
`benchmarks.mart` does), so its wall time and peak memory belong to it alone:

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
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Self

from benchmarks.mart import (
    DEFAULT_DOCS,
    DEFAULT_OUT,
    DEFAULT_PARAMS,
    ROOT,
    SEED,
    Measurement,
    Progress,
    Say,
    Target,
    convert_to_parquet,
    csv_fingerprint,
    generated_file_matches,
    load_average,
    machine_info,
    markdown_table,
    measure_mart_here,
    package_version,
    params_copy,
    parquet_matches,
    parse_size,
    peak_rss_mb,
    relative,
    size_label,
    write_docs,
)

ORDERS_PER_CUSTOMER = 7.63  # mean orders per generated customer (1e7 customers → 7.63e7 orders)
DEFAULT_ORDERS = 100_000_000
DEFAULT_SPARK_ORDERS = 10_000_000
DEFAULT_REFERENCE_ORDERS = 10_000_000
DEFAULT_TX_OUT = DEFAULT_OUT / "transactions"
MEMORY_LIMIT = "6GB"  # DuckDB's engine.memory_limit (and the local Spark driver's heap)
SPARK_MASTER = "local[2]"
TARGET_ORDERS = 100_000_000
TARGET = Target(max_seconds=120.0, max_peak_mb=8 * 1024.0)
SECTION = "transactions"
SIZES_FILE = "sizes.json"  # target order count → customers generated for it (after a shortfall)
DUCKDB_SPILL_FOLDER = ".tmp"  # DuckDB's temp_directory for an in-memory database, in the working folder
SPILL_SAMPLE_S = 0.25
SHORTFALL_RETRIES = 3
SHORTFALL_SIGMAS = 5.0  # a retry aims 5 / sqrt(customers) above the target
STAMP_VERSION = 1


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
        sizes_path.write_text(json.dumps(sizes, indent=2, sort_keys=True), encoding="utf-8")
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
        stamp_path.write_text(json.dumps(stamp_for(csv, customers, orders_dir), indent=2), encoding="utf-8")
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


# ---------------------------------------------------------------------------------------------------------------
# one measurement, inside its own process


def process_tree_children(pid: int) -> list[int]:
    """Every live descendant of `pid` (for Spark: the JVM the Python process started)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def children_peak_mb() -> float:
    """The summed peak resident memory (VmHWM) of this process's live descendants, in MB."""
    total = 0.0
    for child in process_tree_children(os.getpid()):
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def measure_mart_once(params_path: Path, orders: int) -> dict[str, object]:
    """Build the mart once here; the measurement, the JVM's peak (Spark) and the manifest's row counts."""
    found = measure_mart_here(params_path, orders)
    children = children_peak_mb()  # read before anything stops the Spark session
    from segmentation.config.params import load_params

    manifest = json.loads((load_params(params_path).mart_dir / "manifest.json").read_text(encoding="utf-8"))
    transactions = manifest.get("transactions", {})
    return {
        "measurement": asdict(found), "children_peak_mb": children,
        "orders_read": transactions.get("rows_in"), "orders_kept": transactions.get("rows_out"),
        "customers_rolled_up": manifest["rows"]["raw"], "customers_out": manifest["rows"]["mart"],
        "customers_without_orders": transactions.get("customers_without_orders"),
    }


def measure_reference_once(orders_dir: Path, orders: int) -> dict[str, object]:
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
    peak = peak_rss_mb()
    found = Measurement(
        kind="reference", rows=orders, input_path=str(orders_dir), seconds=seconds, import_seconds=import_seconds,
        peak_rss_mb=peak, rss_after_imports_mb=rss_after_imports, segment_counts={}, output_rows=len(rolled),
        stages={"read": round(read_seconds, 4), "groupby": round(seconds - read_seconds, 4)},
        unique_customer_ids=len(rolled),
    )
    return {
        "measurement": asdict(found), "children_peak_mb": 0.0, "orders_read": len(frame),
        "orders_kept": int(rolled["frequency"].sum()), "customers_rolled_up": len(rolled),
        "customers_out": len(rolled), "customers_without_orders": None,
    }


# ---------------------------------------------------------------------------------------------------------------
# orchestration, in the harness process


@dataclass
class TxRun:
    """One measured run (mart or pandas roll-up) on one generated input."""

    key: str  # e.g. duckdb_1e8_customers
    engine: str  # duckdb | spark | pandas
    with_customers: bool  # the customer file was read (and joined)
    inputs: OrderInputs
    measurement: Measurement | None = None
    children_peak_mb: float = 0.0
    orders_read: int | None = None
    orders_kept: int | None = None
    customers_rolled_up: int | None = None
    customers_out: int | None = None
    customers_without_orders: int | None = None
    spill_peak_mb: float | None = None  # DuckDB: largest size of its spill folder seen (sampled)
    load_before: str = ""
    load_after: str = ""
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
    def seconds(self) -> float | None:
        """Wall time of the work (imports excluded)."""
        return self.measurement.seconds if self.measurement else None

    @property
    def peak_mb(self) -> float | None:
        """Peak resident memory of the process tree: the Python process plus, for Spark, its JVM."""
        return self.measurement.peak_rss_mb + self.children_peak_mb if self.measurement else None

    @property
    def counts_match(self) -> bool:
        """Whether the run read exactly the orders that were generated."""
        return self.orders_read == self.inputs.orders

    def target_checks(self) -> list[tuple[str, bool]]:
        """The issue's targets where they apply (DuckDB at 1e8) and whether they were met."""
        if self.engine != "duckdb" or self.inputs.target_orders != TARGET_ORDERS:
            return []
        if self.measurement is None:
            return [("ran", False)]
        return [(f"≤ {TARGET.max_seconds:g} s", self.seconds <= TARGET.max_seconds),
                (f"≤ {TARGET.max_peak_mb / 1024:g} GB", self.peak_mb <= TARGET.max_peak_mb)]

    def verdict(self) -> str:
        """'yes (…)', 'no (…)' or 'no target'."""
        checks = self.target_checks()
        if not checks:
            return "no target" if self.engine == "duckdb" else "reference, no target"
        if self.failed:
            return "no (failed)"
        if self.inputs.orders < TARGET_ORDERS:
            return f"not measured at 1e8 (only {count_label(self.inputs.orders)} orders)"
        missed = [label for label, met in checks if not met]
        if missed:
            return f"no (missed {', '.join(missed)})"
        return "yes (" + ", ".join(label for label, _ in checks) + ")"


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
            if (run.engine == engine and run.inputs.target_orders == target_orders and run.measurement is not None
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
    import yaml

    engine: dict[str, object] = {"name": run.engine, "memory_limit": config.memory_limit}
    if run.engine == "spark":
        engine["spark_master"] = SPARK_MASTER
    elif config.threads:
        engine["threads"] = config.threads
    path = params_copy(config.params, config.out_dir / "params" / f"{run.key}.yaml", engine=engine,
                       mart_dir=config.out_dir / f"mart_{run.key}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["input"] = str(run.inputs.parquet) if run.with_customers else None
    raw["transactions"] = {"path": str(run.inputs.orders_dir)}
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


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
    """Measure one run in a fresh Python process and fill in its results (or why it failed).

    The process runs in its own folder, so DuckDB's spill files (`.tmp` in the working folder) are its own and
    their size can be watched."""
    result_file = config.out_dir / "results" / f"{run.key}.json"
    result_file.parent.mkdir(parents=True, exist_ok=True)
    result_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", "benchmarks.transactions", "--result", str(result_file),
               "--rows", str(run.inputs.orders)]
    if run.engine == "pandas":
        command += ["--one", "reference", "--orders-dir", str(run.inputs.orders_dir)]
    else:
        command += ["--one", "mart", "--params", str(run_params(run, config))]
    workdir = config.out_dir / "work" / run.key
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    say(f"{run.key}: running ({run.title}, {count_label(run.inputs.orders)} orders)")
    run.load_before = load_average()
    with SpillWatch(workdir / DUCKDB_SPILL_FOLDER) as spill:
        done = subprocess.run(command, cwd=workdir, env=env, check=False)
    run.load_after = load_average()
    run.spill_peak_mb = spill.peak_bytes / 2**20 if run.engine == "duckdb" else None
    found = json.loads(result_file.read_text(encoding="utf-8")) if result_file.is_file() else {}
    if done.returncode != 0 or "measurement" not in found:
        error = found.get("error", "no result written")
        run.failed = f"failed (exit code {done.returncode}): {error}"
        say(f"{run.key}: FAILED (exit code {done.returncode}): {error}; the traceback is above")
        return run
    run.measurement = Measurement(**found.pop("measurement"))
    for key, value in found.items():
        setattr(run, key, value)
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
    machine = {**machine_info(), "pyspark": package_version("pyspark"), "java": java_version()}
    config.out_dir.mkdir(parents=True, exist_ok=True)
    notes = []
    spark_missing = spark_available() if config.spark_orders else None
    if spark_missing:
        notes.append(f"Spark not run: {spark_missing}.")
        say(f"spark: skipped ({spark_missing})")
    sizes = [config.orders, config.spark_orders if not spark_missing else 0, config.reference_orders]
    inputs = {size: prepare_order_inputs(size, config.out_dir, say) for size in dict.fromkeys(s for s in sizes if s)}
    runs = [measure(run, config, say) for run in planned_runs(config, inputs, spark_missing)]
    machine["load_end"] = load_average()
    machine["commit_end"] = machine_info()["commit"]
    settings = {"params": relative(config.params), "memory_limit": config.memory_limit,
                "threads": str(config.threads) if config.threads else "all cores"}
    duckdb = next((r.measurement for r in runs if r.engine == "duckdb" and r.measurement), None)
    if duckdb is not None:
        settings["threads"] = duckdb.engine.get("threads", settings["threads"])
    report = TxReport(machine, settings, runs, say.elapsed, notes)
    print()
    print("\n".join(console_table(report)))
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
    measured = run.measurement is not None
    return [
        run.title,
        count_label(run.inputs.orders),
        f"{run.inputs.customers:,}" if run.with_customers else "not read",
        f"{run.customers_out:,}" if measured else "—",
        f"{run.seconds:.1f}" if measured else ("failed" if run.failed else "not run"),
        f"{run.peak_mb:,.0f}" if measured else "—",
        "—" if run.spill_peak_mb is None else f"{run.spill_peak_mb:,.0f}",
        f"{run.load_before.split(' / ')[0]} → {run.load_after.split(' / ')[0]}",
        run.verdict(),
    ]


def console_table(report: TxReport) -> list[str]:
    """The results as aligned plain-text lines."""
    rows = [TABLE_HEADERS, *(table_cells(r) for r in report.runs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(TABLE_HEADERS))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]


def ratio(a: float | None, b: float | None) -> str:
    """a ÷ b as '2.3×' (or 'not measured')."""
    return f"{a / b:.1f}×" if a is not None and b else "not measured"


def section(report: TxReport) -> str:
    """The transactions section of docs/benchmarks.md."""
    m = report.machine
    commit = f"commit {m['commit']}"
    if m.get("commit_end", m["commit"]) != m["commit"]:
        commit += f" at start, {m['commit_end']} at end"
    hashes = list(dict.fromkeys(r.measurement.code_sha256 for r in report.runs
                                if r.measurement and r.measurement.code_sha256))
    if len(hashes) == 1:
        commit += f"; mart code sha256 {hashes[0][:12]} in every run"
    elif hashes:
        commit += f"; **the mart code changed during the bench** ({len(hashes)} code hashes)"
    lines = [
        "## Transactions",
        "",
        f"Measured {m['date']} by `make bench` (`python -m benchmarks.transactions`); the whole bench took "
        f"{report.total_seconds / 60:.1f} min (inputs reused or generated included).",
        "",
        f"- Machine: {m['cores']} cores (`nproc`), {m['cpu']}, {m['memory']} RAM, shared with other work "
        f"(load average 1/5/15 min: {m['load_start']} at start, {m.get('load_end', 'unknown')} at end).",
        f"- Software: Python {m['python']}, DuckDB {m['duckdb']}, Ibis {m['ibis']}, pandas {m['pandas']}, "
        f"pyarrow {m['pyarrow']}, pyspark {m['pyspark']} ({m['java']}); {commit}.",
        f"- Settings: params `{report.settings['params']}` with `transactions.path` set to the orders folder and "
        f"`input` the customer Parquet file (or `null`); `engine.memory_limit: {report.settings['memory_limit']}` "
        f"(DuckDB spills to disk past it; DuckDB threads: {report.settings['threads']}); Spark "
        f"`spark_master: {SPARK_MASTER}` with the same `memory_limit` as driver heap.",
        f"- Targets (2 cores): 1e8 transactions → mart ≤ {TARGET.max_seconds:g} s and ≤ "
        f"{TARGET.max_peak_mb / 1024:g} GB peak on DuckDB; Spark local at 1e7 and the pandas roll-up for reference.",
        *(f"- {note}" for note in report.notes),
        "",
        *markdown_table(TABLE_HEADERS, [table_cells(r) for r in report.runs], text_columns=(0, 2, -2, -1)),
        "",
        "Orders = rows in the generated orders folder (read back from the Parquet footers); every run read exactly "
        "those" + ("" if all(r.counts_match for r in report.runs if r.measurement) else
                   " — **except where the console printed a WARNING**") + ". Customers out = mart rows (or the "
        "pandas roll-up's groups). Seconds exclude imports; peak MB = peak resident set (`VmHWM`) of the "
        "run's process, plus its JVM for Spark (MB = 2^20 bytes). Spilled MB = the largest size of DuckDB's "
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
    marts = [r for r in report.runs if r.engine != "pandas" and r.measurement]
    if not marts:
        return []
    stages = list(dict.fromkeys(name for r in marts for name in r.measurement.stages))
    rows = []
    for name in [*stages, "other"]:
        values = [r.measurement.stages.get(name, 0.0) if name != "other" else r.measurement.other_seconds
                  for r in marts]
        rows.append([name, *(f"{v:.1f}" for v in values)])
    rows.append(["**total**", *(f"**{r.seconds:.1f}**" for r in marts)])
    dominant = []
    for r in marts:
        if r.inputs.target_orders != max(x.inputs.target_orders for x in marts) and r.engine != "spark":
            continue
        ordered = sorted(r.measurement.stages.items(), key=lambda item: -item[1])[:2]
        parts = ", ".join(f"**{name}** {value:.1f} s ({value / r.seconds:.0%})" for name, value in ordered)
        dominant.append(f"- {r.short}: {parts}; other {r.measurement.other_seconds:.1f} s.")
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
        if spark.measurement is None:
            lines.append(f"- Spark at {count_label(spark.inputs.orders)} orders, {what}: failed (above), no ratio.")
        elif duck is None:
            lines.append(f"- Spark at {count_label(spark.inputs.orders)} orders, {what}: no DuckDB run to compare.")
        else:
            spark_stages = spark.seconds - spark.measurement.other_seconds
            duck_stages = duck.seconds - duck.measurement.other_seconds
            lines.append(
                f"- Spark ÷ DuckDB at {count_label(spark.inputs.orders)} orders, {what}: time "
                f"{ratio(spark.seconds, duck.seconds)} ({spark.seconds:.1f} s vs {duck.seconds:.1f} s; the stages "
                f"alone, without starting the JVM: {ratio(spark_stages, duck_stages)}), peak memory "
                f"{ratio(spark.peak_mb, duck.peak_mb)} ({spark.peak_mb:,.0f} MB vs {duck.peak_mb:,.0f} MB, of which "
                f"the JVM {spark.children_peak_mb:,.0f} MB)."
            )
    pandas = next((r for r in report.runs if r.engine == "pandas" and r.measurement), None)
    if pandas is not None:
        duck = report.find("duckdb", pandas.inputs.target_orders, False)
        if duck is not None:
            load = duck.measurement.stages.get("load")
            lines.append(
                f"- pandas roll-up ÷ DuckDB at {count_label(pandas.inputs.orders)} orders (orders only): "
                f"{ratio(pandas.seconds, load)} the DuckDB load stage ({pandas.seconds:.1f} s vs {load:.1f} s; "
                f"the load stage also counts the order checks), {ratio(pandas.seconds, duck.seconds)} the whole "
                f"mart ({duck.seconds:.1f} s); peak memory {ratio(pandas.peak_mb, duck.peak_mb)} "
                f"({pandas.peak_mb:,.0f} MB vs {duck.peak_mb:,.0f} MB). pandas: read "
                f"{pandas.measurement.stages['read']:.1f} s, groupby {pandas.measurement.stages['groupby']:.1f} s; "
                f"{pandas.customers_out:,} customers, DuckDB rolled up {duck.customers_rolled_up:,}."
            )
    for with_customers in (True, False):
        big = report.find("duckdb", report_orders(report), with_customers)
        small = next((r for r in report.runs if r.engine == "duckdb" and r.measurement and r is not big
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
        f"`bench-out/transactions/` (git-ignored) with N = ceil(orders / {ORDERS_PER_CUSTOMER}), more customers when the orders fell short of the target ({made}); the "
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The harness options (and the hidden ones of a single measurement)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.transactions",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=parse_size, default=DEFAULT_ORDERS,
                        help="orders for the DuckDB runs (default 1e8; 0: none)")
    parser.add_argument("--spark-orders", type=parse_size, default=DEFAULT_SPARK_ORDERS,
                        help="orders for the Spark run and its DuckDB twin (default 1e7; 0: no Spark)")
    parser.add_argument("--reference-orders", type=parse_size, default=DEFAULT_REFERENCE_ORDERS,
                        help="orders for the pandas roll-up and its DuckDB twin (default 1e7; 0: none)")
    parser.add_argument("--memory-limit", default=MEMORY_LIMIT, help="engine.memory_limit of every mart run")
    parser.add_argument("--threads", type=int, default=None, help="engine.threads of the DuckDB runs")
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS)
    parser.add_argument("--out", type=Path, default=DEFAULT_TX_OUT, help="inputs, marts and results")
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="the Markdown page to update")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave the Markdown page alone")
    parser.add_argument("--one", choices=("mart", "reference"), help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--orders-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the whole transactions bench (or, with the hidden --one, a single measurement)."""
    args = parse_args(argv)
    if args.one:
        try:
            found = (measure_mart_once(args.params, args.rows) if args.one == "mart"
                     else measure_reference_once(args.orders_dir, args.rows))
        except Exception as exc:  # the harness records why; the traceback still goes to the console
            where = exc.__traceback__
            while where is not None and where.tb_next is not None:
                where = where.tb_next
            place = f" ({relative(Path(where.tb_frame.f_code.co_filename))}:{where.tb_lineno})" if where else ""
            args.result.write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}{place}"}), encoding="utf-8")
            raise
        args.result.write_text(json.dumps(found, indent=2), encoding="utf-8")
        return 0
    config = TxConfig(orders=args.orders, spark_orders=args.spark_orders, reference_orders=args.reference_orders,
                      params=args.params.resolve(), out_dir=args.out.resolve(),
                      docs=None if args.no_docs else args.docs, memory_limit=args.memory_limit, threads=args.threads)
    report = run_bench(config)
    if config.docs is not None:
        write_docs(config.docs, {SECTION: section(report)})
        print(f"wrote {relative(config.docs)}")
    return 0 if all(r.measurement is not None for r in report.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
