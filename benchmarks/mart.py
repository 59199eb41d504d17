"""`make bench`: the whole mart at 1e5, 1e6 and 1e7 customers beside the engine's floor, a bare SQL RFM and pandas.

`python -m benchmarks.mart [--sizes 1e5,1e6,1e7] [--skip-reference-above N] [--no-docs]`

At each size the customer CSV is generated once into `bench-out/` (seed 42). Then these run on that same file,
one after the other, each a whole process (`benchmarks.harness.run_measured`: wall time from start to exit, peak
memory of its process tree):

- the floor: DuckDB alone copying the CSV to Parquet (`benchmarks.bare_sql`);
- the bare SQL RFM: one DuckDB script, RFM, ntile scores, the params' rules as a CASE, Parquet out;
- the mart: `pipeline.run(params, force=True)`, every check, ids, scores, segments, summary and contract;
- the pandas notebook (`benchmarks.reference`), unless `--skip-reference-above` says otherwise.

The dashboard callbacks are timed on the 1e5 mart. The results are printed and written to docs/benchmarks.md
between marker comments; the rest of that file is left as it is.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness import (
    DEFAULT_DOCS,
    DEFAULT_OUT,
    DEFAULT_PARAMS,
    SEED,
    BenchError,
    ProcessRun,
    Progress,
    Say,
    bench_parser,
    child_main,
    console_table,
    finish_machine,
    machine_info,
    machine_lines,
    markdown_table,
    measure_mart_here,
    note_code_hashes,
    params_copy,
    parse_size,
    parse_sizes,
    peak_rss_mb,
    prepare_customers,
    ratio,
    relative,
    run_measured,
    size_label,
    stage_rows,
    verdict,
    write_docs,
    write_text,
)

DEFAULT_SIZES = (100_000, 1_000_000, 10_000_000)
DASHBOARD_SIZE = 100_000
DASHBOARD_BUDGET_MS = 200.0
KINDS = ("floor", "sql", "mart", "pandas")  # in the order they run at each size
TITLES = {"floor": "floor: DuckDB CSV → Parquet", "sql": "bare SQL RFM (DuckDB)", "mart": "mart",
          "pandas": "pandas notebook"}


@dataclass(frozen=True)
class Target:
    """What the mart must achieve at one size (None: no target on that measure)."""

    max_work_seconds: float | None = None  # its work inside the process, imports excluded
    max_seconds: float | None = None  # the whole process
    max_peak_mb: float | None = None  # the whole process tree
    max_floor_ratio: float | None = None  # whole process ÷ the floor's whole process


TARGETS = {
    100_000: Target(max_work_seconds=1.0),
    1_000_000: Target(max_floor_ratio=3.0),
    10_000_000: Target(max_seconds=20.0, max_peak_mb=4096.0, max_floor_ratio=3.0),
}


# ---------------------------------------------------------------------------------------------------------------
# results


@dataclass
class Run:
    """One measured whole process at one size, with what was read back from its output."""

    kind: str
    rows: int
    process: ProcessRun | None = None
    missing: str = "not run"  # what the tables say when there is no measurement
    segment_counts: dict[str, int] = field(default_factory=dict)
    output_rows: int | None = None
    unique_customer_ids: int | None = None

    @property
    def measured(self) -> bool:
        """Whether the process ran to its end without error."""
        return self.process is not None and self.process.error is None

    @property
    def seconds(self) -> float | None:
        """Wall time of the whole process."""
        return self.process.seconds if self.measured else None

    @property
    def peak_mb(self) -> float | None:
        """Peak resident memory of the process tree."""
        return self.process.peak_mb if self.measured else None

    @property
    def work_seconds(self) -> float | None:
        """The work inside the process, imports excluded (mart and pandas only)."""
        return self.process.work_seconds if self.measured else None

    @property
    def other_seconds(self) -> float:
        """Whole-process time outside the named stages (interpreter, imports, hashing, connecting)."""
        return max(0.0, (self.seconds or 0.0) - sum(self.process.stages.values())) if self.measured else 0.0


@dataclass
class SizeResult:
    """Every run at one size."""

    rows: int
    runs: dict[str, Run]

    @property
    def mart(self) -> Run:
        """The mart's run."""
        return self.runs["mart"]

    def floor_ratio(self, kind: str) -> float | None:
        """A run's whole-process time ÷ the floor's (None when either is missing)."""
        run, floor = self.runs.get(kind), self.runs.get("floor")
        if run is None or floor is None or not (run.measured and floor.measured):
            return None
        return run.seconds / floor.seconds

    def target_checks(self) -> list[tuple[str, bool | None]]:
        """Each target at this size and whether the mart met it (None: not measured)."""
        target = TARGETS.get(self.rows)
        if target is None:
            return []
        mart, checks = self.mart, []
        if target.max_work_seconds is not None:
            checks.append((f"work ≤ {target.max_work_seconds:g} s", mart.work_seconds <= target.max_work_seconds))
        if target.max_floor_ratio is not None:
            found = self.floor_ratio("mart")
            checks.append((f"≤ {target.max_floor_ratio:g}× floor", None if found is None
                           else found <= target.max_floor_ratio))
        if target.max_seconds is not None:
            checks.append((f"≤ {target.max_seconds:g} s", mart.seconds <= target.max_seconds))
        if target.max_peak_mb is not None:
            checks.append((f"≤ {target.max_peak_mb / 1024:g} GB", mart.peak_mb <= target.max_peak_mb))
        return checks

    def verdict(self) -> str:
        """'yes (…)', 'no (missed …)', 'partly (…)' or 'no target'."""
        return verdict(self.target_checks())

    def share_gap(self, kind: str) -> tuple[float, str] | None:
        """Largest difference in customer share between the mart and another run, in percentage points, and where."""
        other = self.runs.get(kind)
        if other is None or not other.segment_counts or not self.mart.segment_counts:
            return None
        return share_gap(self.mart.segment_counts, other.segment_counts)


def share_gap(mart_counts: dict[str, int], other_counts: dict[str, int]) -> tuple[float, str]:
    """Largest absolute difference of customer shares (percentage points) over all segments, and its segment."""
    mart_total = sum(mart_counts.values()) or 1
    other_total = sum(other_counts.values()) or 1
    gaps = {seg: abs(mart_counts.get(seg, 0) / mart_total - other_counts.get(seg, 0) / other_total) * 100
            for seg in {*mart_counts, *other_counts}}
    worst = max(gaps, key=gaps.get)
    return gaps[worst], worst


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
    """Everything one `python -m benchmarks.mart` measured."""

    machine: dict[str, str]
    settings: dict[str, str]
    sizes: list[SizeResult]
    dashboard: DashboardRun | None
    total_seconds: float


# ---------------------------------------------------------------------------------------------------------------
# inside a measured process


def measure_pandas_here(params_path: Path, out_dir: Path) -> dict[str, object]:
    """Run the pandas notebook on the params' input in this process; its work time and segment counts."""
    start = time.perf_counter()
    from benchmarks.reference import build_reference
    from segmentation.config.params import load_params

    import_seconds = time.perf_counter() - start
    rss_after_imports = peak_rss_mb()
    params = load_params(params_path)
    start = time.perf_counter()
    summary = build_reference(params.input_path, params, out_dir)
    counts = {str(seg): int(n) for seg, n in summary["customers"].items()}
    return {"work_seconds": time.perf_counter() - start, "import_seconds": import_seconds,
            "rss_after_imports_mb": rss_after_imports, "segment_counts": counts,
            "output_rows": sum(counts.values())}


# ---------------------------------------------------------------------------------------------------------------
# orchestration, in the harness process


@dataclass
class BenchConfig:
    """What to measure and where to put it."""

    sizes: tuple[int, ...] = DEFAULT_SIZES
    skip_reference_above: int | None = None  # the pandas notebook only at sizes ≤ this
    dashboard_size: int = DASHBOARD_SIZE
    params: Path = DEFAULT_PARAMS
    out_dir: Path = DEFAULT_OUT
    docs: Path | None = DEFAULT_DOCS
    threads: int | None = None
    memory_limit: str | None = None


def size_params(csv: Path, label: str, config: BenchConfig) -> Path:
    """The params of one size: the configured params on this CSV, mart in bench-out/mart_<label>."""
    engine = {key: value for key, value in (("threads", config.threads), ("memory_limit", config.memory_limit))
              if value}
    return params_copy(config.params, config.out_dir / "params" / f"{label}.yaml", engine=engine, input=csv,
                       mart_dir=config.out_dir / f"mart_{label}")


def command_of(kind: str, csv: Path, params_path: Path, config: BenchConfig, label: str) -> list[str]:
    """The command of one run (the SQL runs' scripts are written here, beside their outputs)."""
    out = config.out_dir
    if kind in ("floor", "sql"):
        from benchmarks import bare_sql
        from segmentation.config.params import load_params

        params = load_params(params_path)
        limits = {"threads": params.engine.threads, "memory_limit": params.engine.memory_limit}
        script = (bare_sql.floor_script(csv, output_of(kind, label, config), **limits) if kind == "floor"
                  else bare_sql.rfm_script(csv, output_of(kind, label, config), params, **limits))
        write_text(out / "sql" / f"{kind}_{label}.sql", script)
        return [sys.executable, "-c", bare_sql.RUN_SCRIPT, str(out / "sql" / f"{kind}_{label}.sql")]
    command = [sys.executable, "-m", "benchmarks.mart", "--one", kind, "--params", str(params_path),
               "--result", str(result_of(kind, label, config))]
    return command + (["--pandas-out", str(output_of(kind, label, config))] if kind == "pandas" else [])


def output_of(kind: str, label: str, config: BenchConfig) -> Path:
    """Where a reference run writes its output."""
    return config.out_dir / {"floor": f"floor_{label}.parquet", "sql": f"sql_rfm_{label}.parquet",
                             "pandas": f"pandas_{label}"}[kind]


def result_of(kind: str, label: str, config: BenchConfig) -> Path:
    """The result JSON a Python run writes."""
    return config.out_dir / "results" / f"{kind}_{label}.json"


def measure_run(kind: str, csv: Path, rows: int, params_path: Path, config: BenchConfig, say: Say) -> Run:
    """Run one kind on this size's CSV as a measured whole process, and read back its output."""
    label = size_label(rows, for_path=True)
    say(f"{kind:<9} {label}: running ({TITLES[kind]})")
    result_file = result_of(kind, label, config) if kind in ("mart", "pandas") else None
    process = run_measured(command_of(kind, csv, params_path, config, label), result_file=result_file)
    run = Run(kind, rows, process)
    if process.error:
        say(f"{kind:<9} {label}: FAILED ({process.error}); recorded as failed")
        run.missing = "failed"
        return run
    read_back(run, label, config)
    work = f" (work {run.work_seconds:.2f} s)" if run.work_seconds is not None else ""
    say(f"{kind:<9} {label}: {run.seconds:.2f} s{work}, peak {run.peak_mb:,.0f} MB, {run.output_rows:,} rows out")
    if run.output_rows != rows or run.unique_customer_ids not in (None, rows):
        say(f"WARNING   {label}: {kind} wrote {run.output_rows:,} rows ({run.unique_customer_ids} distinct "
            f"customer_id values) from {rows:,} customers")
    return run


def read_back(run: Run, label: str, config: BenchConfig) -> None:
    """Rows out and customers per segment, from the run's output files or its result JSON."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if run.kind == "mart":
        mart_dir = Path(run.process.result["mart_dir"])
        summary = pq.read_table(mart_dir / "segment_summary.parquet", columns=["segment_id", "customers"])
        run.segment_counts = dict(zip(summary["segment_id"].to_pylist(), summary["customers"].to_pylist(),
                                      strict=True))
        ids = pq.read_table(mart_dir / "customer_segments.parquet", columns=["customer_id"]).column("customer_id")
        run.output_rows, run.unique_customer_ids = len(ids), int(pc.count_distinct(ids).as_py())
    elif run.kind == "pandas":
        run.segment_counts, run.output_rows = run.process.result["segment_counts"], run.process.result["output_rows"]
    else:
        output = output_of(run.kind, label, config)
        run.output_rows = pq.ParquetFile(output).metadata.num_rows
        if run.kind == "sql":
            counts = pc.value_counts(pq.read_table(output, columns=["segment_id"]).column("segment_id"))
            run.segment_counts = {item["values"].as_py(): item["counts"].as_py() for item in counts}


def measure_size(rows: int, config: BenchConfig, say: Say) -> SizeResult:
    """Every kind, one after the other, on this size's CSV (read once before, so all find it in the page cache)."""
    csv = prepare_customers(rows, config.out_dir, say)
    with csv.open("rb") as stream:
        while stream.read(1 << 24):
            pass
    label = size_label(rows, for_path=True)
    params_path = size_params(csv, label, config)
    runs = {}
    for kind in KINDS:
        if kind == "pandas" and config.skip_reference_above is not None and rows > config.skip_reference_above:
            say(f"pandas    {label}: not run (--skip-reference-above {config.skip_reference_above:,})")
            runs[kind] = Run(kind, rows)
            continue
        runs[kind] = measure_run(kind, csv, rows, params_path, config, say)
        if kind == "mart" and not runs[kind].measured:
            raise BenchError(f"mart {label} failed ({runs[kind].process.error}); its traceback is above")
    result = SizeResult(rows, runs)
    say(f"ratios    {size_label(rows)}: " + ", ".join(
        f"{kind} {ratio(result.runs[kind].seconds, result.runs['floor'].seconds)}" for kind in KINDS[1:])
        + f" the floor; target: {result.verdict()}")
    for kind in ("sql", "pandas"):
        gap = result.share_gap(kind)
        if gap is not None:
            say(f"segments  {size_label(rows)}: largest share gap mart vs {kind} {gap[0]:.1f} pp ({gap[1]})")
    return result


def run_dashboard_bench(mart_dir: Path, rows: int, say: Say) -> DashboardRun:
    """Time the dashboard callbacks over a built mart with `python -m segmentation.dashboard.bench`."""
    say(f"dashboard {size_label(rows)}: timing callbacks over {relative(mart_dir)}")
    done = run_measured([sys.executable, "-m", "segmentation.dashboard.bench", str(mart_dir)], capture=True)
    found = DashboardRun(rows, relative(mart_dir), done.output, done.exit_code, done.seconds)
    print(found.output, flush=True)
    say(f"dashboard {size_label(rows)}: slowest callback {found.slowest_ms} ms ({found.seconds:.0f} s)")
    return found


def measure_dashboard(config: BenchConfig, say: Say) -> DashboardRun | None:
    """The dashboard callback timings over the mart built at the dashboard size, if that size was measured."""
    if not config.dashboard_size:
        return None
    if config.dashboard_size not in config.sizes:
        say(f"dashboard: skipped ({config.dashboard_size:,} is not among the sizes measured)")
        return None
    mart_dir = config.out_dir / f"mart_{size_label(config.dashboard_size, for_path=True)}"
    return run_dashboard_bench(mart_dir, config.dashboard_size, say)


def run_bench(config: BenchConfig) -> BenchReport:
    """Measure every kind at every size, then the dashboard; print as it goes."""
    say = Progress()
    machine = machine_info()
    config.out_dir.mkdir(parents=True, exist_ok=True)
    results = [measure_size(rows, config, say) for rows in config.sizes]
    dashboard = measure_dashboard(config, say)
    finish_machine(machine)
    note_code_hashes(machine, [r.mart.process.result.get("code_sha256") for r in results])
    engine = results[0].mart.process.result.get("engine", {}) if results else {}
    settings = {"params": relative(config.params), "threads": engine.get("threads", "unknown"),
                "memory_limit": engine.get("memory_limit", "unknown")}
    report = BenchReport(machine, settings, results, dashboard, say.elapsed)
    print()
    print("\n".join(console_table(RESULT_HEADERS, result_rows(results))))
    print(f"whole bench: {report.total_seconds / 60:.1f} min")
    return report


# ---------------------------------------------------------------------------------------------------------------
# tables and docs/benchmarks.md


RESULT_HEADERS = ["size", "run", "seconds", "peak MB", "÷ floor", "work s", "target met?"]


def result_rows(results: list[SizeResult], *, markdown: bool = False) -> list[list[str]]:
    """One row per run and size: whole-process seconds, peak MB, ratio to the floor, work seconds, verdict."""
    rows = []
    for result in results:
        for kind, run in result.runs.items():
            title = f"**{TITLES[kind]}**" if markdown and kind == "mart" else TITLES[kind]
            found = result.floor_ratio(kind)
            rows.append([
                size_label(result.rows), title,
                f"{run.seconds:.2f}" if run.measured else run.missing,
                f"{run.peak_mb:,.0f}" if run.measured else "—",
                f"{found:.1f}" if found is not None else "—",
                f"{run.work_seconds:.2f}" if run.work_seconds is not None else "—",
                result.verdict() if kind == "mart" else "reference",
            ])
    return rows


def docs_sections(report: BenchReport) -> dict[str, str]:
    """The Markdown sections this run rewrites: always the mart, the dashboard when it was measured."""
    sections = {"mart": mart_section(report)}
    if report.dashboard is not None:
        sections["dashboard"] = dashboard_section(report.dashboard, report.machine)
    return sections


def mart_section(report: BenchReport) -> str:
    """The runs side by side, machine, method, per-stage times and segment agreement."""
    return "\n".join([
        "## Mart",
        "",
        f"Measured {report.machine['date']} by `make bench` (`python -m benchmarks.mart`); the whole bench took "
        f"{report.total_seconds / 60:.1f} min.",
        "",
        *machine_lines(report.machine),
        f"- Settings: params `{report.settings['params']}` (its `engine` section: DuckDB threads "
        f"{report.settings['threads']}, memory limit {report.settings['memory_limit']}); the floor and the bare SQL "
        "RFM run under the same DuckDB settings.",
        "- Targets (2 cores, whole processes): the whole mart ≤ 3× the floor on the same file at 1e6 and 1e7; "
        "≤ 20 s and ≤ 4 GB peak at 1e7; its work (imports excluded) ≤ 1 s at 1e5.",
        *unmeasured_lines(report),
        "",
        *markdown_table(RESULT_HEADERS, result_rows(report.sizes, markdown=True), text_columns=(0, 1, -1)),
        "",
        "Seconds = wall time of the whole process, from start to exit (interpreter start and imports included); "
        "peak MB = the largest resident memory of its process tree (MB = 2^20 bytes); ÷ floor = seconds ÷ the "
        "floor's seconds at the same size, in this run; work s = the time the process measured for its own work, "
        "imports excluded.",
        "",
        *method_lines(),
        *stage_lines(report),
        *agreement_lines(report),
    ])


def unmeasured_lines(report: BenchReport) -> list[str]:
    """A note naming the sizes with targets that this run did not measure."""
    missing = [size_label(rows) for rows in TARGETS if rows not in {r.rows for r in report.sizes}]
    if not missing:
        return []
    return [f"- Not measured in this run: {', '.join(missing)}; its targets stay unknown until `make bench` runs "
            "every size."]


def method_lines() -> list[str]:
    """How the numbers were measured."""
    return [
        "### Method",
        "",
        f"- Input: `write_customers(rows, seed={SEED})` into `bench-out/` (git-ignored), the 20-field customer CSV; "
        "a file whose metadata JSON matches (rows and seed) is reused. Every run at a size reads that same file, "
        "after the harness has read it once, so each finds it in the page cache.",
        "- Each run is one fresh process started by the harness (`benchmarks/harness.py`), in the order of the "
        "table, so all see the same machine state. One run each: the machine is shared, so compare the ratios "
        "rather than single timings.",
        "- Floor (`benchmarks/bare_sql.py`): Python, DuckDB and one statement, "
        "`COPY (SELECT * FROM read_csv(file, columns = the schema's types)) TO parquet`: read, parse, write.",
        "- Bare SQL RFM (`benchmarks/bare_sql.py`): one DuckDB script from the same CSV: recency, frequency and "
        "monetary as the mart computes them, `ntile(bins)` scores (recency reversed), a CASE built from the params' "
        "rules (first match wins), all columns written to Parquet. No checks, ids, summary or contract.",
        "- Mart: `segmentation.mart.pipeline.run(params, force=True)` (what `segmentation run --force` does) with a "
        "copy of the params pointing at the CSV: hashing the input, every data-quality check, ids, scores, "
        "segments, summary, contract and writing the mart.",
        "- pandas notebook (`benchmarks/reference.py`): `pd.read_csv(engine=\"pyarrow\")`, `drop_duplicates()`, "
        "recency / frequency / monetary, `pd.qcut(x.rank(method=\"first\"), bins)` scores, `DataFrame.apply(row_fn, "
        "axis=1)` over the same rules, a groupby summary per segment, both written to Parquet.",
        "",
    ]


def stage_lines(report: BenchReport) -> list[str]:
    """Seconds per mart stage at every size, with shares at the largest size."""
    runs = [(size_label(r.rows), r.mart) for r in report.sizes if r.mart.measured]
    if not runs:
        return []
    largest_label, largest = max(runs, key=lambda item: item[1].rows)
    headers = ["stage", *(f"{label} s" for label, _ in runs), f"share at {largest_label}"]
    rows = stage_rows([(run.process.stages, run.other_seconds, run.seconds) for _, run in runs],
                      total="**whole process**")
    stages = largest.process.stages
    parts = {**stages, "other": largest.other_seconds}
    rows = [*([*row, f"{parts.get(row[0], 0.0) / largest.seconds:.0%}"] for row in rows[:-1]), [*rows[-1], "100%"]]
    dominant = max(stages, key=stages.get) if stages else "none"
    return [
        "### Mart stages",
        "",
        "From the pipeline's own stage timings (its `progress` lines); *other* is the rest of the whole process "
        "(interpreter start, imports, hashing the input and code, connecting, reading params). The stages build "
        "lazy Ibis expressions, so a stage's time is the queries it runs: the stage that writes the customer file "
        "also pays for every upstream step that was not materialised before it.",
        "",
        *markdown_table(headers, rows),
        "",
        f"At {largest_label} the largest stage is **{dominant}** "
        f"({stages.get(dominant, 0.0):.1f} s of {largest.seconds:.1f} s).",
        "",
    ]


def agreement_lines(report: BenchReport) -> list[str]:
    """Customer share per segment: mart, bare SQL and pandas, at each size."""
    kinds = [k for k in ("mart", "sql", "pandas") if any(r.runs[k].segment_counts for r in report.sizes)]
    if len(kinds) < 2:
        return []
    segments = list(dict.fromkeys(seg for r in report.sizes for k in kinds for seg in r.runs[k].segment_counts))
    headers = ["segment", *(f"{size_label(r.rows)} {' / '.join(kinds)}" for r in report.sizes)]
    rows = []
    for seg in segments:
        rows.append([seg, *(" / ".join(share(r.runs[k], seg) for k in kinds) for r in report.sizes)])
    for kind in kinds[1:]:
        gaps = [r.share_gap(kind) for r in report.sizes]
        rows.append([f"largest gap, mart vs {kind}", *(f"{g[0]:.1f} pp ({g[1]})" if g else "—" for g in gaps)])
    return [
        "### Segment counts: mart, bare SQL, pandas",
        "",
        "Share of customers per segment. `ntile` and `qcut` over first-rank split equal values across bins (every "
        "score holds N/bins customers); the mart gives equal values the same score, so e.g. all single-order "
        "customers share F = 1 and the F bins are uneven (recency in whole days ties too). All three apply the "
        "same rules in the same order, so the gaps come from those ties.",
        "",
        *markdown_table(headers, rows),
        "",
    ]


def share(run: Run, segment: str) -> str:
    """A run's share of customers in one segment ('—' when it has no counts)."""
    total = sum(run.segment_counts.values())
    return f"{run.segment_counts.get(segment, 0) / total:.1%}" if total else "—"


def dashboard_section(run: DashboardRun, machine: dict[str, str]) -> str:
    """The dashboard callback timings over the 1e5 mart, with the budget verdict."""
    slowest = run.slowest_ms
    verdict_text = ("not measured" if slowest is None
                    else f"{'met' if slowest <= DASHBOARD_BUDGET_MS else 'missed'} (slowest {slowest:.1f} ms)")
    table = dashboard_table(run.output)
    body = table if table else ["```text", run.output, "```"]
    return "\n".join([
        "## Dashboard callbacks",
        "",
        f"Measured {machine['date']} by `make bench` on the {size_label(run.rows)} mart (`{run.mart_dir}`, from "
        f"the CSV) with `python -m segmentation.dashboard.bench {run.mart_dir}`: each callback posted through "
        "Dash's own route (JSON encoding included), median of 20 runs after a warm-up, in ms (response size).",
        "",
        f"Target: every callback ≤ {DASHBOARD_BUDGET_MS:.0f} ms at 1e5 customers: **{verdict_text}**.",
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
    return [*markdown_table(["scenario", "customers", *names], cells), "", *notes]


# ---------------------------------------------------------------------------------------------------------------
# command line


def main(argv: list[str] | None = None) -> int:
    """Run the whole bench (or, with the hidden --one, a single measured process)."""
    parser = bench_parser("benchmarks.mart", __doc__, children=("mart", "pandas"))
    parser.add_argument("--sizes", type=parse_sizes, default=DEFAULT_SIZES, help="comma-separated, e.g. 1e5,1e6")
    parser.add_argument("--skip-reference-above", type=parse_size, default=None, metavar="N",
                        help="run the pandas notebook only at sizes ≤ N (default: all sizes)")
    parser.add_argument("--dashboard-size", type=parse_size, default=DASHBOARD_SIZE,
                        help="size whose mart the dashboard callbacks are timed on (0: none)")
    parser.add_argument("--threads", type=int, default=None,
                        help="override the params' engine.threads (mart and DuckDB references)")
    parser.add_argument("--memory-limit", default=None, help="override the params' engine.memory_limit, e.g. 4GB")
    parser.add_argument("--pandas-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one == "mart":
        return child_main(args.result, lambda: measure_mart_here(args.params))
    if args.one == "pandas":
        return child_main(args.result, lambda: measure_pandas_here(args.params, args.pandas_out))
    config = BenchConfig(
        sizes=args.sizes, skip_reference_above=args.skip_reference_above, dashboard_size=args.dashboard_size,
        params=args.params.resolve(), out_dir=args.out.resolve(), docs=None if args.no_docs else args.docs,
        threads=args.threads, memory_limit=args.memory_limit,
    )
    try:
        report = run_bench(config)
    except BenchError as exc:
        print(f"bench stopped: {exc}", file=sys.stderr)
        return 1
    write_docs(config.docs, docs_sections(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
