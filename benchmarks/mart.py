"""`make bench`: time the mart at 1e5, 1e6 and 1e7 customers beside a plain-pandas reference, and record it.

`python -m benchmarks.mart [--sizes 1e5,1e6,1e7] [--skip-reference-above N] [--no-docs]`

For each size the customer file is generated once into `bench-out/` (seed 42) and converted to Parquet, so the
numbers measure the mart, not CSV parsing. Then the mart and the reference (`benchmarks.reference`) run one after
the other, each in a fresh Python process, so the wall time and peak memory of a run belong to that run alone.
One extra mart run on the CSV file (1e6) is recorded for information, and the dashboard callbacks are timed on
the 1e5 mart. The results are printed and written to `docs/benchmarks.md` between marker comments; the rest of
that file is left as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = (100_000, 1_000_000, 10_000_000)
SEED = 42
DEFAULT_PARAMS = ROOT / "params" / "default.yaml"
DEFAULT_OUT = ROOT / "bench-out"
DEFAULT_DOCS = ROOT / "docs" / "benchmarks.md"
CSV_RUN_SIZE = 1_000_000
DASHBOARD_SIZE = 100_000
PARQUET_SOURCE_KEY = b"benchmarks.source"
CSV_BLOCK_BYTES = 64 << 20  # large read blocks give large Parquet row groups
DASHBOARD_BUDGET_MS = 200.0
Say = Callable[[str], None]  # prints one progress line


class BenchError(Exception):
    """A measurement that the bench cannot do without failed."""


@dataclass(frozen=True)
class Target:
    """What the mart must achieve at one size (None: no target on that measure)."""

    max_seconds: float | None = None
    max_peak_mb: float | None = None
    min_speedup: float | None = None


TARGETS = {
    100_000: Target(max_seconds=1.0),
    10_000_000: Target(max_seconds=30.0, max_peak_mb=4096.0, min_speedup=20.0),
}


# ---------------------------------------------------------------------------------------------------------------
# results


@dataclass
class Measurement:
    """One timed run (mart or reference) in its own process."""

    kind: str
    rows: int
    input_path: str
    seconds: float
    import_seconds: float
    peak_rss_mb: float
    rss_after_imports_mb: float
    segment_counts: dict[str, int]
    output_rows: int
    stages: dict[str, float] = field(default_factory=dict)
    unique_customer_ids: int | None = None
    code_sha256: str | None = None
    engine: dict[str, str] = field(default_factory=dict)

    @property
    def other_seconds(self) -> float:
        """Time outside the named stages (input hashing, connecting, params)."""
        return max(0.0, self.seconds - sum(self.stages.values()))


@dataclass
class SizeResult:
    """The mart and the reference at one size."""

    rows: int
    mart: Measurement
    reference: Measurement | None
    reference_missing: str = "not run"  # what the table says when there is no reference measurement

    @property
    def speedup(self) -> float | None:
        """Reference time ÷ mart time; None when the reference was not run."""
        return self.reference.seconds / self.mart.seconds if self.reference else None

    def target_checks(self) -> list[tuple[str, bool | None]]:
        """Each target at this size and whether it was met (None: not measured)."""
        target = TARGETS.get(self.rows)
        if target is None:
            return []
        checks: list[tuple[str, bool | None]] = []
        if target.max_seconds is not None:
            checks.append((f"≤ {target.max_seconds:g} s", self.mart.seconds <= target.max_seconds))
        if target.max_peak_mb is not None:
            checks.append((f"≤ {target.max_peak_mb / 1024:g} GB", self.mart.peak_rss_mb <= target.max_peak_mb))
        if target.min_speedup is not None:
            met = None if self.speedup is None else self.speedup >= target.min_speedup
            checks.append((f"≥ {target.min_speedup:g}×", met))
        return checks

    def verdict(self) -> str:
        """'yes', 'no (…)' or 'no target', naming the targets that were missed or not measured."""
        checks = self.target_checks()
        if not checks:
            return "no target"
        missed = [label for label, met in checks if met is False]
        unmeasured = [label for label, met in checks if met is None]
        if missed:
            return f"no (missed {', '.join(missed)})"
        if unmeasured:
            return f"partly ({', '.join(unmeasured)} not measured)"
        return "yes (" + ", ".join(label for label, _ in checks) + ")"

    def share_gap(self) -> tuple[float, str] | None:
        """Largest difference in customer share between mart and reference, in percentage points, and where."""
        if self.reference is None:
            return None
        return share_gap(self.mart.segment_counts, self.reference.segment_counts)


@dataclass
class DashboardRun:
    """The dashboard callback benchmark's output over one mart."""

    rows: int
    mart_dir: str
    output: str
    exit_code: int
    seconds: float

    @property
    def slowest_ms(self) -> float | None:
        """The slowest median callback time it printed."""
        found = re.search(r"slowest callback: ([\d.]+) ms", self.output)
        return float(found.group(1)) if found else None


@dataclass
class BenchReport:
    """Everything one `make bench` measured."""

    machine: dict[str, str]
    settings: dict[str, str]
    sizes: list[SizeResult]
    csv_run: Measurement | None
    dashboard: DashboardRun | None
    total_seconds: float


def share_gap(mart_counts: dict[str, int], reference_counts: dict[str, int]) -> tuple[float, str]:
    """Largest absolute difference of customer shares (percentage points) over all segments, and its segment."""
    mart_total = sum(mart_counts.values()) or 1
    reference_total = sum(reference_counts.values()) or 1
    gaps = {
        seg: abs(mart_counts.get(seg, 0) / mart_total - reference_counts.get(seg, 0) / reference_total) * 100
        for seg in {*mart_counts, *reference_counts}
    }
    worst = max(gaps, key=gaps.get)
    return gaps[worst], worst


# ---------------------------------------------------------------------------------------------------------------
# inputs


@dataclass(frozen=True)
class Inputs:
    """The generated customer file of one size, as CSV and as Parquet."""

    rows: int
    csv: Path
    parquet: Path


def prepare_inputs(rows: int, out_dir: Path, say: Say) -> Inputs:
    """Generate (seed 42) and convert the customer file of this size, reusing files that already match."""
    csv = out_dir / f"customers_{rows}.csv"
    parquet = csv.with_suffix(".parquet")
    if generated_file_matches(csv, rows, SEED):
        say(f"generate {size_label(rows)}: reusing {relative(csv)}")
    else:
        from segmentation.synthetic.generate import write_customers

        start = time.perf_counter()
        write_customers(csv, rows, SEED)
        say(f"generate {size_label(rows)}: {rows:,} rows → {relative(csv)} ({time.perf_counter() - start:.1f} s)")
    if parquet_matches(parquet, csv):
        say(f"convert  {size_label(rows)}: reusing {relative(parquet)}")
    else:
        start = time.perf_counter()
        convert_to_parquet(csv, parquet)
        say(f"convert  {size_label(rows)}: → {relative(parquet)} ({time.perf_counter() - start:.1f} s)")
    return Inputs(rows, csv, parquet)


def generated_file_matches(csv: Path, rows: int, seed: int) -> bool:
    """Whether `csv` exists and its metadata JSON says it was generated with these rows and seed."""
    metadata_path = csv.with_name(f"{csv.stem}_metadata.json")
    if not (csv.is_file() and metadata_path.is_file()):
        return False
    try:
        found = json.loads(metadata_path.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return found.get("num_rows") == rows and found.get("seed") == seed


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
    except Exception:  # unreadable or half-written: convert again
        return False
    return stored is not None and json.loads(stored) == csv_fingerprint(csv)


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
    temporary = parquet.with_name(f".{parquet.name}.tmp")
    with pq.ParquetWriter(temporary, schema) as writer:
        for batch in reader:
            writer.write_table(pa.Table.from_batches([batch], schema=schema))
    os.replace(temporary, parquet)


def params_copy(source: Path, target: Path, *, engine: dict[str, object] | None = None, **paths: Path) -> Path:
    """A copy of a params file with paths replaced (input, mart_dir) and engine settings overridden."""
    import yaml

    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    raw.update({key: str(value) for key, value in paths.items()})
    if engine:
        raw["engine"] = {**(raw.get("engine") or {}), **engine}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return target


# ---------------------------------------------------------------------------------------------------------------
# one measurement, inside its own process


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (2^20 bytes)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_mart_here(params_path: Path, rows: int) -> Measurement:
    """Build the mart from these params in this process; time it and read its peak memory."""
    start = time.perf_counter()
    from segmentation.config.params import load_params
    from segmentation.mart.pipeline import run

    import_seconds = time.perf_counter() - start
    rss_after_imports = peak_rss_mb()
    start = time.perf_counter()
    params = load_params(params_path)
    result = run(params, force=True, progress=lambda message: print(f"    mart | {message}", flush=True))
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    counts, output_rows, unique_ids = mart_counts(result.mart_dir)
    return Measurement(
        kind="mart", rows=rows, input_path=str(params.input_path), seconds=seconds, import_seconds=import_seconds,
        peak_rss_mb=peak, rss_after_imports_mb=rss_after_imports, segment_counts=counts, output_rows=output_rows,
        stages={name: round(value, 4) for name, value in result.timings.items()}, unique_customer_ids=unique_ids,
        code_sha256=result.manifest.get("fingerprint", {}).get("code_sha256"), engine=engine_settings(params),
    )


def engine_settings(params) -> dict[str, str]:
    """The DuckDB threads and memory limit the params give the mart."""
    engine = getattr(params, "engine", None)
    threads = getattr(engine, "threads", None)
    memory_limit = getattr(engine, "memory_limit", None)
    return {"threads": str(threads) if threads else "all cores",
            "memory_limit": memory_limit or "DuckDB default (80 % of RAM)"}


def mart_counts(mart_dir: Path) -> tuple[dict[str, int], int, int]:
    """Customers per segment, mart rows and distinct customer ids, read from the written mart."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    summary = pq.read_table(mart_dir / "segment_summary.parquet", columns=["segment_id", "customers"]).to_pydict()
    counts = dict(zip(summary["segment_id"], map(int, summary["customers"]), strict=True))
    ids = pq.read_table(mart_dir / "customer_segments.parquet", columns=["customer_id"]).column("customer_id")
    return counts, len(ids), int(pc.count_distinct(ids).as_py())


def measure_reference_here(params_path: Path, rows: int, out_dir: Path) -> Measurement:
    """Run the plain-pandas reference on the params' input in this process; time it and read its peak memory."""
    start = time.perf_counter()
    from benchmarks.reference import build_reference
    from segmentation.config.params import load_params

    import_seconds = time.perf_counter() - start
    rss_after_imports = peak_rss_mb()
    params = load_params(params_path)
    start = time.perf_counter()
    summary = build_reference(params.input_path, params, out_dir)
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    counts = {str(seg): int(n) for seg, n in summary["customers"].items()}
    return Measurement(
        kind="reference", rows=rows, input_path=str(params.input_path), seconds=seconds,
        import_seconds=import_seconds, peak_rss_mb=peak, rss_after_imports_mb=rss_after_imports,
        segment_counts=counts, output_rows=sum(counts.values()),
    )


# ---------------------------------------------------------------------------------------------------------------
# orchestration, in the harness process


@dataclass
class BenchConfig:
    """What to measure and where to put it."""

    sizes: tuple[int, ...] = DEFAULT_SIZES
    skip_reference_above: int | None = None
    csv_run_size: int = CSV_RUN_SIZE
    dashboard_size: int = DASHBOARD_SIZE
    params: Path = DEFAULT_PARAMS
    out_dir: Path = DEFAULT_OUT
    docs: Path | None = DEFAULT_DOCS
    threads: int | None = None
    memory_limit: str | None = None


class Progress:
    """Prints one line per step, prefixed with the seconds since the bench started."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        """Seconds since the bench started."""
        return time.perf_counter() - self.start

    def __call__(self, message: str) -> None:
        print(f"[{self.elapsed:7.1f} s] {message}", flush=True)


def measure_in_subprocess(kind: str, params_path: Path, rows: int, config: BenchConfig, label: str) -> Measurement:
    """Run one measurement (`mart` or `reference`) in a fresh Python process and read back its result."""
    result_file = config.out_dir / "results" / f"{kind}_{label}.json"
    result_file.parent.mkdir(parents=True, exist_ok=True)
    result_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", "benchmarks.mart", "--one", kind, "--params", str(params_path),
               "--rows", str(rows), "--result", str(result_file)]
    if kind == "reference":
        command += ["--reference-out", str(config.out_dir / f"reference_{label}")]
    subprocess.run(command, cwd=ROOT, check=True)
    return Measurement(**json.loads(result_file.read_text(encoding="utf-8")))


def bench_params(inputs_path: Path, label: str, config: BenchConfig) -> Path:
    """The params file of one measurement: the configured params on this input, mart in bench-out/mart_<label>."""
    engine = {key: value for key, value in (("threads", config.threads), ("memory_limit", config.memory_limit))
              if value}
    return params_copy(config.params, config.out_dir / "params" / f"{label}.yaml", engine=engine,
                       input=inputs_path, mart_dir=config.out_dir / f"mart_{label}")


def run_mart(inputs_path: Path, rows: int, label: str, config: BenchConfig, say: Say) -> Measurement:
    """Measure the mart on one input file; its mart goes to bench-out/mart_<label>."""
    params_path = bench_params(inputs_path, label, config)
    say(f"mart      {label}: running")
    try:
        found = measure_in_subprocess("mart", params_path, rows, config, label)
    except subprocess.CalledProcessError as exc:
        raise BenchError(f"mart {label} failed (exit code {exc.returncode}); its traceback is above") from None
    say(f"mart      {label}: {found.seconds:.2f} s, peak {found.peak_rss_mb:,.0f} MB")
    if found.unique_customer_ids is not None and found.unique_customer_ids != found.output_rows:
        say(f"WARNING   {label}: mart has {found.output_rows:,} rows but {found.unique_customer_ids:,} distinct "
            "customer_id values")
    return found


def run_reference(inputs_path: Path, rows: int, label: str, config: BenchConfig, say: Say) -> Measurement:
    """Measure the plain-pandas reference on one input file."""
    params_path = bench_params(inputs_path, label, config)
    say(f"reference {label}: running")
    found = measure_in_subprocess("reference", params_path, rows, config, label)
    say(f"reference {label}: {found.seconds:.2f} s, peak {found.peak_rss_mb:,.0f} MB")
    return found


def run_dashboard_bench(mart_dir: Path, rows: int, say: Say) -> DashboardRun:
    """Time the dashboard callbacks over a built mart with `python -m segmentation.dashboard.bench`."""
    say(f"dashboard {size_label(rows)}: timing callbacks over {relative(mart_dir)}")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "segmentation.dashboard.bench", str(mart_dir)],
                          cwd=ROOT, capture_output=True, text=True)
    found = DashboardRun(rows, relative(mart_dir), (done.stdout + done.stderr).strip(), done.returncode,
                         time.perf_counter() - start)
    print(found.output, flush=True)
    say(f"dashboard {size_label(rows)}: slowest callback {found.slowest_ms} ms ({found.seconds:.0f} s)")
    return found


def run_bench(config: BenchConfig) -> BenchReport:
    """Measure mart and reference at every size, the CSV-input run and the dashboard; print as it goes."""
    say = Progress()
    machine = machine_info()
    config.out_dir.mkdir(parents=True, exist_ok=True)
    inputs: dict[int, Inputs] = {}
    results: list[SizeResult] = []
    for rows in config.sizes:
        inputs[rows] = prepare_inputs(rows, config.out_dir, say)
        results.append(measure_size(inputs[rows], config, say))
        report_agreement(results[-1], say)
    csv_run = None
    if config.csv_run_size:
        rows = config.csv_run_size
        csv_input = inputs.get(rows) or prepare_inputs(rows, config.out_dir, say)
        csv_run = run_mart(csv_input.csv, rows, f"{size_label(rows, for_path=True)}_csv", config, say)
    dashboard = measure_dashboard(config, say)

    machine["load_end"] = load_average()
    machine["commit_end"] = git_commit()
    engine = results[0].mart.engine if results else {}
    settings = {"params": relative(config.params), "threads": engine.get("threads", "unknown"),
                "memory_limit": engine.get("memory_limit", "unknown")}
    report = BenchReport(machine, settings, results, csv_run, dashboard, say.elapsed)
    print()
    print("\n".join(console_table(results)))
    print(f"whole bench: {report.total_seconds / 60:.1f} min")
    return report


def measure_size(inputs: Inputs, config: BenchConfig, say: Say) -> SizeResult:
    """The mart, then the reference (unless skipped), on the Parquet file of one size."""
    label = size_label(inputs.rows, for_path=True)
    mart = run_mart(inputs.parquet, inputs.rows, label, config, say)
    if config.skip_reference_above is not None and inputs.rows > config.skip_reference_above:
        say(f"reference {label}: not run (--skip-reference-above {config.skip_reference_above:,})")
        return SizeResult(inputs.rows, mart, None, "not run")
    try:
        reference = run_reference(inputs.parquet, inputs.rows, label, config, say)
    except subprocess.CalledProcessError as exc:
        say(f"reference {label}: failed (exit code {exc.returncode}); recorded as failed")
        return SizeResult(inputs.rows, mart, None, "failed")
    return SizeResult(inputs.rows, mart, reference)


def measure_dashboard(config: BenchConfig, say: Say) -> DashboardRun | None:
    """The dashboard callback timings over the mart built at the dashboard size, if that size was measured."""
    if not config.dashboard_size:
        return None
    if config.dashboard_size not in config.sizes:
        say(f"dashboard: skipped ({config.dashboard_size:,} is not among the sizes measured)")
        return None
    mart_dir = config.out_dir / f"mart_{size_label(config.dashboard_size, for_path=True)}"
    return run_dashboard_bench(mart_dir, config.dashboard_size, say)


def report_agreement(result: SizeResult, say: Say) -> None:
    """Print how close the reference's segment counts are to the mart's."""
    gap = result.share_gap()
    if gap is None:
        return
    points, segment = gap
    counts = ", ".join(
        f"{seg} {result.mart.segment_counts.get(seg, 0):,}/{result.reference.segment_counts.get(seg, 0):,}"
        for seg in result.mart.segment_counts
    )
    say(f"segments  {size_label(result.rows)}: mart/reference {counts}; largest share gap {points:.1f} pp ({segment})")


# ---------------------------------------------------------------------------------------------------------------
# machine and formatting


def machine_info() -> dict[str, str]:
    """Cores, CPU model, memory, library versions, date, load and commit of this run."""
    return {
        "cores": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "cpu": cpu_model(),
        "memory": memory_total(),
        "python": platform.python_version(),
        "duckdb": package_version("duckdb"),
        "pandas": package_version("pandas"),
        "pyarrow": package_version("pyarrow"),
        "ibis": package_version("ibis-framework"),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_start": load_average(),
        "commit": git_commit(),
    }


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's processor string)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total() -> str:
    """Total memory from /proc/meminfo, in GB."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 ** 2:.1f} GB"
    except OSError:
        pass
    return "unknown"


def package_version(name: str) -> str:
    """Installed version of a distribution."""
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (the machine is shared: they show how busy it was)."""
    try:
        return " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def git_commit() -> str:
    """The short commit of the working tree, marked when it has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} + uncommitted changes" if dirty else head


def size_label(rows: int, *, for_path: bool = False) -> str:
    """'1e6' for powers of ten, else the number ('2,000', or '2000' in a path)."""
    exponent = len(str(rows)) - 1
    if rows >= 10 and rows == 10 ** exponent:
        return f"1e{exponent}"
    return str(rows) if for_path else f"{rows:,}"


def relative(path: Path) -> str:
    """A path relative to the project root when it is inside it."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def result_cells(result: SizeResult) -> list[str]:
    """The cells of one size's row: size, mart s, mart MB, reference s, reference MB, speed-up, targets."""
    reference, missing = result.reference, result.reference_missing
    return [
        size_label(result.rows),
        f"{result.mart.seconds:.2f}",
        f"{result.mart.peak_rss_mb:,.0f}",
        f"{reference.seconds:.2f}" if reference else missing,
        f"{reference.peak_rss_mb:,.0f}" if reference else missing,
        f"{result.speedup:.1f}" if result.speedup is not None else missing,
        result.verdict(),
    ]


RESULT_HEADERS = ["size", "mart s", "mart peak MB", "reference s", "reference peak MB", "speed-up ×", "target met?"]


def console_table(results: list[SizeResult]) -> list[str]:
    """The results as aligned plain-text lines."""
    rows = [RESULT_HEADERS, *(result_cells(r) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(RESULT_HEADERS))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]


def markdown_table(headers: list[str], rows: list[list[str]], text_columns: tuple[int, ...] = (0,)) -> list[str]:
    """A Markdown table; numbers right-aligned, the `text_columns` (indices, negative from the end) left-aligned."""
    text = {i % len(headers) for i in text_columns}
    align = ["---" if i in text else "---:" for i in range(len(headers))]
    return [f"| {' | '.join(cells)} |" for cells in (headers, align, *rows)]


# ---------------------------------------------------------------------------------------------------------------
# docs/benchmarks.md


SECTION_START = "<!-- bench:{name}:start -->"
SECTION_END = "<!-- bench:{name}:end -->"

DOCS_TEMPLATE = f"""# Benchmarks

`make bench` (`python -m benchmarks.mart`) rewrites the sections between the `<!-- bench:… -->` marker
comments; everything outside them is kept as written.

{SECTION_START.format(name="mart")}
## Mart

Not yet measured: run `make bench`.
{SECTION_END.format(name="mart")}

{SECTION_START.format(name="dashboard")}
## Dashboard callbacks

Not yet measured: run `make bench` (or `python -m segmentation.dashboard.bench MART_DIR`).
{SECTION_END.format(name="dashboard")}

{SECTION_START.format(name="report")}
## Report build

Not yet measured: run `make bench` (`python -m benchmarks.report`).
{SECTION_END.format(name="report")}
"""


def update_sections(text: str, sections: dict[str, str]) -> str:
    """Replace the body between each named section's markers (appending missing sections at the end)."""
    for name, body in sections.items():
        start, end = SECTION_START.format(name=name), SECTION_END.format(name=name)
        block = f"{start}\n{body.strip()}\n{end}"
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
        if pattern.search(text):
            text = pattern.sub(lambda _match: block, text, count=1)
        else:
            text = text.rstrip("\n") + f"\n\n{block}\n"
    return text


def write_docs(path: Path, sections: dict[str, str]) -> None:
    """Write these sections into the benchmarks page, creating it from the template when missing."""
    text = path.read_text(encoding="utf-8") if path.is_file() else DOCS_TEMPLATE
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(update_sections(text, sections), encoding="utf-8")
    os.replace(temporary, path)


def docs_sections(report: BenchReport) -> dict[str, str]:
    """The Markdown sections this run rewrites: always the mart, the dashboard when it was measured."""
    sections = {"mart": mart_section(report)}
    if report.dashboard is not None:
        sections["dashboard"] = dashboard_section(report.dashboard, report.machine)
    return sections


def mart_section(report: BenchReport) -> str:
    """The mart's results, machine, method, per-stage times, CSV-input run and segment agreement."""
    m = report.machine
    lines = [
        "## Mart",
        "",
        f"Measured {m['date']} by `make bench`; the whole bench took {report.total_seconds / 60:.1f} min.",
        "",
        f"- Machine: {m['cores']} cores (`nproc`), {m['cpu']}, {m['memory']} RAM, shared with other work "
        f"(load average 1/5/15 min: {m['load_start']} at start, {m.get('load_end', 'unknown')} at end).",
        f"- Software: Python {m['python']}, DuckDB {m['duckdb']}, Ibis {m['ibis']}, pandas {m['pandas']}, "
        f"pyarrow {m['pyarrow']}; {code_version_note(report)}.",
        f"- Mart settings: params `{report.settings['params']}` (its `engine` section: DuckDB threads "
        f"{report.settings['threads']}, memory limit {report.settings['memory_limit']}).",
        "- Targets (2 cores): mart ≤ 1 s at 1e5; ≤ 30 s and ≤ 4 GB peak at 1e7; ≥ 20× the reference at 1e7. "
        "1e6 has no target of its own.",
        "",
        *markdown_table(RESULT_HEADERS, [result_cells(r) for r in report.sizes], text_columns=(0, -1)),
        "",
        "Speed-up = reference seconds ÷ mart seconds, both measured in this run. MB = 2^20 bytes.",
        "",
        *method_lines(report),
        *stage_lines(report),
        *csv_run_lines(report),
        *agreement_lines(report),
    ]
    return "\n".join(lines)


def code_version_note(report: BenchReport) -> str:
    """The commit at start (and end, if it moved) and whether every mart run used the same mart code."""
    m = report.machine
    commit = f"commit {m['commit']}"
    if m.get("commit_end", m["commit"]) != m["commit"]:
        commit += f" at start, {m['commit_end']} at end"
    runs = [r.mart for r in report.sizes] + ([report.csv_run] if report.csv_run else [])
    hashes = list(dict.fromkeys(run.code_sha256 for run in runs if run.code_sha256))
    if len(hashes) == 1:
        return f"{commit}; mart code sha256 {hashes[0][:12]} in every run"
    if hashes:
        return f"{commit}; **the mart code changed during the bench** ({len(hashes)} code hashes)"
    return commit


def method_lines(report: BenchReport) -> list[str]:
    """How the numbers were measured."""
    marts = [r.mart for r in report.sizes]
    references = [r.reference for r in report.sizes if r.reference]
    imports = (
        f"Imports are excluded (mart: {max(x.import_seconds for x in marts):.1f} s, "
        + (f"reference: {max(x.import_seconds for x in references):.1f} s" if references else "reference: not run")
        + ", the slowest of the runs)."
    ) if marts else ""
    baseline = (
        f"Peak memory includes the interpreter and libraries: after imports a mart process holds about "
        f"{max(x.rss_after_imports_mb for x in marts):,.0f} MB"
        + (f", a reference process {max(x.rss_after_imports_mb for x in references):,.0f} MB." if references else ".")
    ) if marts else ""
    return [
        "### Method",
        "",
        f"- Inputs: `write_customers(rows, seed={SEED})` into `bench-out/` (git-ignored), converted to Parquet with "
        "the schema's types (dates, booleans, numbers), so the mart's time is not CSV parsing. Files that match "
        "(rows and seed in the metadata JSON; the Parquet's recorded source CSV) are reused.",
        "- Each measurement runs in a fresh Python process (`python -m benchmarks.mart --one mart|reference`), "
        "started by the harness, mart then reference at each size, so both see the same machine state. "
        "One run each: the machine is shared, so compare the ratio rather than single timings.",
        f"- Time: wall time of the work inside that process. {imports}",
        "- Peak memory: the process's peak resident set (`VmHWM`), read right after the work. " + baseline,
        "- Mart: `segmentation.mart.pipeline.run(params, force=True)` with a copy of the params pointing at the "
        "Parquet file; includes hashing the input, every stage and writing the mart.",
        "- Reference (`benchmarks/reference.py`, what a typical notebook does): `pd.read_parquet`, "
        "`drop_duplicates()`, recency / frequency / monetary, `pd.qcut(x.rank(method=\"first\"), bins)` scores "
        "(recency reversed), `DataFrame.apply(row_fn, axis=1)` over the same params rules (first match wins), a "
        "groupby summary per segment, both written to Parquet. Its segment counts differ from the mart's only "
        "through tie handling (below).",
        "",
    ]


def stage_lines(report: BenchReport) -> list[str]:
    """Seconds per mart stage at every size (and the CSV-input run), with shares at the largest size."""
    runs = [(size_label(r.rows), r.mart) for r in report.sizes]
    if report.csv_run is not None:
        runs.append((f"{size_label(report.csv_run.rows)} (CSV input)", report.csv_run))
    if not runs:
        return []
    stages = list(dict.fromkeys(name for _, run in runs for name in run.stages))
    largest_label, largest = max(((label, run) for label, run in runs if "CSV" not in label),
                                 key=lambda item: item[1].rows, default=runs[0])
    headers = ["stage", *(f"{label} s" for label, _ in runs), f"share at {largest_label}"]
    rows = []
    for name in [*stages, "other"]:
        values = [run.stages.get(name, 0.0) if name != "other" else run.other_seconds for _, run in runs]
        mine = largest.stages.get(name, 0.0) if name != "other" else largest.other_seconds
        rows.append([name, *(f"{v:.2f}" for v in values), f"{mine / largest.seconds:.0%}"])
    rows.append(["**total**", *(f"**{run.seconds:.2f}**" for _, run in runs), "100%"])
    dominant = max(stages, key=lambda name: largest.stages.get(name, 0.0)) if stages else "none"
    return [
        "### Mart stages",
        "",
        "From the pipeline's own stage timings (its `progress` lines); *other* is the rest of `run()` "
        "(hashing the input and code, connecting, reading params). The stages build lazy Ibis expressions, so a "
        "stage's time is the queries it runs: the stage that writes the customer file also pays for every "
        "upstream step that was not materialised before it.",
        "",
        *markdown_table(headers, rows),
        "",
        f"At {largest_label} the largest stage is **{dominant}** "
        f"({largest.stages.get(dominant, 0.0):.1f} s of {largest.seconds:.1f} s).",
        "",
    ]


def csv_run_lines(report: BenchReport) -> list[str]:
    """The information-only mart run on CSV input, beside the Parquet run of the same size."""
    run = report.csv_run
    if run is None:
        return []
    parquet = next((r.mart for r in report.sizes if r.rows == run.rows), None)
    versus = (f"; the same size from Parquet: {parquet.seconds:.2f} s, peak {parquet.peak_rss_mb:,.0f} MB"
              if parquet else "")
    return [
        "### CSV input (information)",
        "",
        f"The mart on the {size_label(run.rows)} CSV file (all fields read as text, then parsed by the data-quality "
        f"stage): {run.seconds:.2f} s, peak {run.peak_rss_mb:,.0f} MB{versus}.",
        "",
    ]


def agreement_lines(report: BenchReport) -> list[str]:
    """Customer share per segment, mart vs reference, at each size where the reference ran."""
    compared = [r for r in report.sizes if r.reference]
    if not compared:
        return []
    segments = list(dict.fromkeys(seg for r in compared for seg in [*r.mart.segment_counts,
                                                                     *r.reference.segment_counts]))
    headers = ["segment", *(f"{size_label(r.rows)} mart / reference" for r in compared)]
    rows = []
    for seg in segments:
        cells = []
        for r in compared:
            mart_share = r.mart.segment_counts.get(seg, 0) / max(1, r.mart.output_rows)
            ref_share = r.reference.segment_counts.get(seg, 0) / max(1, r.reference.output_rows)
            cells.append(f"{mart_share:.1%} / {ref_share:.1%}")
        rows.append([seg, *cells])
    rows.append(["largest gap", *(f"{r.share_gap()[0]:.1f} pp ({r.share_gap()[1]})" for r in compared)])
    return [
        "### Segment counts: reference vs mart",
        "",
        "Share of customers per segment. The reference's `qcut` over first-rank splits equal values across bins "
        "(every score holds N/bins customers); the mart gives equal values the same score, so e.g. all "
        "single-order customers share F = 1 and the F bins are uneven (recency in whole days ties too). "
        "Both apply the same rules in the same order, so the gaps below come from those ties.",
        "",
        *markdown_table(headers, rows),
        "",
    ]


def dashboard_section(run: DashboardRun, machine: dict[str, str]) -> str:
    """The dashboard callback timings over the 1e5 mart, with the budget verdict."""
    slowest = run.slowest_ms
    verdict = ("not measured" if slowest is None
               else f"{'met' if slowest <= DASHBOARD_BUDGET_MS else 'missed'} (slowest {slowest:.1f} ms)")
    table = dashboard_table(run.output)
    body = table if table else ["```text", run.output, "```"]
    return "\n".join([
        "## Dashboard callbacks",
        "",
        f"Measured {machine['date']} by `make bench` on the {size_label(run.rows)} mart (`{run.mart_dir}`, from "
        f"Parquet input) with `python -m segmentation.dashboard.bench {run.mart_dir}`: each callback posted through "
        "Dash's own route (JSON encoding included), median of 20 runs after a warm-up, in ms (response size).",
        "",
        f"Target: every callback ≤ {DASHBOARD_BUDGET_MS:.0f} ms at 1e5 customers: **{verdict}**.",
        "",
        *body,
        "",
    ])


def dashboard_table(output: str) -> list[str]:
    """The dashboard bench's scenario lines as a Markdown table (empty when the output has another shape)."""
    scenario = re.compile(r"^- (?P<label>.+?) \[(?P<customers>[\d,]+) customers\]: (?P<cells>.+)$")
    cell = re.compile(r"^(?P<name>.+?): (?P<ms>[\d.]+) \((?P<kb>[\d,.]+) kB\)$")
    names: list[str] = []
    rows = []
    for line in output.splitlines():
        found = scenario.match(line.strip())
        if not found:
            continue
        values = {}
        for part in found["cells"].split("; "):
            match = cell.match(part.strip())
            if not match:
                return []
            if match["name"] not in names:
                names.append(match["name"])
            values[match["name"]] = f"{match['ms']} ({match['kb']} kB)"
        rows.append((found["label"], found["customers"], values))
    if not rows:
        return []
    notes = [line.strip() for line in output.splitlines() if line.startswith(("mart ", "slowest"))]
    cells = [[label, customers, *(values.get(n, "") for n in names)] for label, customers, values in rows]
    table = markdown_table(["scenario", "customers", *names], cells)
    return [*table, "", *notes]


# ---------------------------------------------------------------------------------------------------------------
# command line


def parse_size(text: str) -> int:
    """A row count written as 100000, 100_000, 1e5 or 100,000."""
    value = float(text.replace("_", "").replace(",", ""))
    if value < 0 or value != int(value):
        raise argparse.ArgumentTypeError(f"not a whole number of rows: {text!r}")
    return int(value)


def parse_sizes(text: str) -> tuple[int, ...]:
    """Comma-separated sizes, e.g. '1e5,1e6'."""
    return tuple(parse_size(part) for part in text.split(",") if part.strip())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The harness options (and the hidden ones of a single measurement)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mart", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=DEFAULT_SIZES, help="comma-separated, e.g. 1e5,1e6")
    parser.add_argument("--skip-reference-above", type=parse_size, default=None, metavar="N",
                        help="run the reference only at sizes ≤ N (default: all sizes)")
    parser.add_argument("--csv-size", type=parse_size, default=CSV_RUN_SIZE,
                        help="size of the extra CSV-input mart run (0: none)")
    parser.add_argument("--dashboard-size", type=parse_size, default=DASHBOARD_SIZE,
                        help="size whose mart the dashboard callbacks are timed on (0: none)")
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="inputs, marts and results")
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="the Markdown page to update")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave the Markdown page alone")
    parser.add_argument("--threads", type=int, default=None,
                        help="override the params' engine.threads for the mart (default: as in the params)")
    parser.add_argument("--memory-limit", default=None,
                        help="override the params' engine.memory_limit for the mart, e.g. 4GB")
    parser.add_argument("--one", choices=("mart", "reference"), help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reference-out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def measure_one(args: argparse.Namespace) -> None:
    """Inside a measurement process: run one measurement and write its result JSON."""
    if args.one == "mart":
        found = measure_mart_here(args.params, args.rows)
    else:
        found = measure_reference_here(args.params, args.rows, args.reference_out)
    args.result.write_text(json.dumps(asdict(found), indent=2), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the whole bench (or, with the hidden --one, a single measurement)."""
    args = parse_args(argv)
    if args.one:
        measure_one(args)
        return 0
    config = BenchConfig(
        sizes=args.sizes, skip_reference_above=args.skip_reference_above, csv_run_size=args.csv_size,
        dashboard_size=args.dashboard_size, params=args.params.resolve(), out_dir=args.out.resolve(),
        docs=None if args.no_docs else args.docs, threads=args.threads, memory_limit=args.memory_limit,
    )
    try:
        report = run_bench(config)
    except BenchError as exc:
        print(f"bench stopped: {exc}", file=sys.stderr)
        return 1
    if config.docs is not None:
        write_docs(config.docs, docs_sections(report))
        print(f"wrote {relative(config.docs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
