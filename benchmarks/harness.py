"""What every benchmark shares: measured whole processes, generated inputs, machine facts, tables and the docs page.

Each measurement is one fresh process started by `run_measured`, timed from start to exit, with the peak
resident memory of its whole process tree (a Spark JVM or a chapter worker counts). A process may write a result
JSON (`child_main`) with what only it can know: its work time without imports, its stage times. The benchmarks
print `Progress` lines as they go and rewrite their sections of docs/benchmarks.md with `write_docs`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from segmentation.core import atomic

ROOT = Path(__file__).resolve().parents[1]
SEED = 42
DEFAULT_PARAMS = ROOT / "params" / "default.yaml"
DEFAULT_OUT = ROOT / "bench-out"
DEFAULT_DOCS = ROOT / "docs" / "benchmarks.md"
MEMORY_SAMPLE_S = 0.05  # how often the process tree's memory is read
Say = Callable[[str], None]  # prints one progress line


class BenchError(Exception):
    """A measurement that the bench cannot do without failed."""


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


# ---------------------------------------------------------------------------------------------------------------
# one measured whole process, from outside


@dataclass
class ProcessRun:
    """One whole process as the harness saw it, and the result JSON it wrote (empty when none)."""

    seconds: float  # wall time from start to exit
    peak_mb: float  # peak resident memory of the process tree (MB = 2^20 bytes)
    children_peak_mb: float  # of which its descendants (a JVM, workers) at their largest
    exit_code: int
    load_before: str
    load_after: str
    result: dict[str, Any] = field(default_factory=dict)
    output: str = ""  # stdout and stderr, when captured

    @property
    def error(self) -> str | None:
        """Why the process failed (None: it exited 0 and reported no error)."""
        if self.exit_code == 0 and "error" not in self.result:
            return None
        return self.result.get("error") or f"exit code {self.exit_code}"

    @property
    def work_seconds(self) -> float | None:
        """The time the process reported for its work, imports excluded (None: it reported none)."""
        return self.result.get("work_seconds")

    @property
    def stages(self) -> dict[str, float]:
        """Seconds per stage, as the process reported them."""
        return self.result.get("stages") or {}


def run_measured(command: list[str], *, cwd: Path = ROOT, result_file: Path | None = None,
                 capture: bool = False) -> ProcessRun:
    """Run a command to its end as a measured whole process; `result_file` is the JSON it may write."""
    if result_file is not None:
        result_file.parent.mkdir(parents=True, exist_ok=True)
        result_file.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    load_before = load_average()
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        sink = {"stdout": out, "stderr": subprocess.STDOUT} if capture else {}
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, **sink)
        with TreeMemory(process.pid) as memory:
            _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
        out.seek(0)
        output = out.read().strip()
    own_peak = usage.ru_maxrss / (1024 if sys.platform.startswith("linux") else 2**20)
    result = {}
    if result_file is not None and result_file.is_file():
        result = json.loads(result_file.read_text(encoding="utf-8"))
    return ProcessRun(seconds, max(own_peak, memory.peak_mb), memory.children_peak_mb, process.returncode,
                      load_before, load_average(), result, output)


class TreeMemory:
    """Samples the resident memory of a process and its descendants in a thread; keeps the largest total seen.

    The largest single peak (`VmHWM`) counts too, so a process alone is measured exactly, while a tree's total is
    as good as the sampling: a spike shorter than `every_s` across several processes can be missed."""

    def __init__(self, pid: int, every_s: float = MEMORY_SAMPLE_S) -> None:
        self.pid, self.every_s = pid, every_s
        self.peak_mb = self.children_peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.every_s):
                return

    def sample(self) -> None:
        """Read the tree's memory once."""
        total = children = 0.0
        for pid in process_tree(self.pid):
            rss, hwm = memory_of(pid)
            total += rss
            children += rss if pid != self.pid else 0.0
            self.peak_mb = max(self.peak_mb, hwm)
        self.peak_mb = max(self.peak_mb, total)
        self.children_peak_mb = max(self.children_peak_mb, children)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def process_tree(pid: int) -> list[int]:
    """`pid` and its live descendants, from /proc (empty where there is no /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                todo.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue
    return found


def memory_of(pid: int) -> tuple[float, float]:
    """Current and peak resident memory of one process (`VmRSS`, `VmHWM`), in MB; zeros when it is gone."""
    rss = hwm = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return rss, hwm


# ---------------------------------------------------------------------------------------------------------------
# inside a measured process


def child_main(result_file: Path, measure: Callable[[], dict[str, Any]]) -> int:
    """Run one measurement in this process and write its result JSON (or, when it fails, why, then raise)."""
    try:
        found = measure()
    except Exception as exc:  # the harness records why; the traceback still goes to the console
        where = exc.__traceback__
        while where is not None and where.tb_next is not None:
            where = where.tb_next
        place = f" ({relative(Path(where.tb_frame.f_code.co_filename))}:{where.tb_lineno})" if where else ""
        write_text(result_file, json.dumps({"error": f"{type(exc).__name__}: {exc}{place}"}))
        raise
    write_text(result_file, json.dumps(found, indent=2))
    return 0


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return memory_of(os.getpid())[1]


def measure_mart_here(params_path: Path) -> dict[str, Any]:
    """Build the mart from these params in this process (as `segmentation run --force` does) and time the work."""
    start = time.perf_counter()
    from segmentation.config.params import load_params
    from segmentation.mart.pipeline import run

    import_seconds = time.perf_counter() - start
    rss_after_imports = peak_rss_mb()
    start = time.perf_counter()
    params = load_params(params_path)
    result = run(params, force=True, progress=lambda message: print(f"    mart | {message}", flush=True))
    return {
        "work_seconds": time.perf_counter() - start, "import_seconds": import_seconds,
        "rss_after_imports_mb": rss_after_imports, "mart_dir": str(result.mart_dir),
        "stages": {name: round(value, 4) for name, value in result.timings.items()},
        "code_sha256": result.manifest.get("fingerprint", {}).get("code_sha256"), "engine": engine_settings(params),
    }


def engine_settings(params) -> dict[str, str]:
    """The DuckDB threads and memory limit the params give the mart."""
    engine = getattr(params, "engine", None)
    threads = getattr(engine, "threads", None)
    memory_limit = getattr(engine, "memory_limit", None)
    return {"threads": str(threads) if threads else "all cores",
            "memory_limit": memory_limit or "DuckDB default (80 % of RAM)"}


# ---------------------------------------------------------------------------------------------------------------
# inputs


def prepare_customers(rows: int, out_dir: Path, say: Say) -> Path:
    """The generated customer CSV of this size (seed 42) in `out_dir`, reused when its metadata matches."""
    csv = out_dir / f"customers_{rows}.csv"
    if generated_file_matches(csv, rows, SEED):
        say(f"generate {size_label(rows)}: reusing {relative(csv)}")
        return csv
    from segmentation.synthetic.generate import write_customers

    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    write_customers(csv, rows, SEED)
    say(f"generate {size_label(rows)}: {rows:,} rows → {relative(csv)} ({time.perf_counter() - start:.1f} s)")
    return csv


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


def params_copy(source: Path, target: Path, *, engine: dict[str, object] | None = None, **overrides: object) -> Path:
    """A copy of a params file with top-level keys replaced (paths become strings) and engine settings overridden."""
    import yaml

    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    raw.update({key: str(value) if isinstance(value, Path) else value for key, value in overrides.items()})
    if engine:
        raw["engine"] = {**(raw.get("engine") or {}), **engine}
    write_text(target, yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return target


# ---------------------------------------------------------------------------------------------------------------
# the machine


def machine_info(**extra: str) -> dict[str, str]:
    """Cores, CPU model, memory, library versions, date, load and commit of this run (and `extra` facts)."""
    return {
        "cores": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "cpu": cpu_model(),
        "memory": memory_total(),
        "python": platform.python_version(),
        "duckdb": package_version("duckdb"),
        "pandas": package_version("pandas"),
        "pyarrow": package_version("pyarrow"),
        "ibis": package_version("ibis-framework"),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_start": load_average(),
        "commit": git_commit(),
        **extra,
    }


def finish_machine(machine: dict[str, str]) -> None:
    """Add the load and the commit at the end of a bench (the commit may have moved while it ran)."""
    machine["load_end"] = load_average()
    machine["commit_end"] = git_commit()


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


def machine_lines(machine: dict[str, str], more_software: str = "") -> list[str]:
    """The 'Machine' and 'Software' bullets of a docs section (`more_software`: e.g. ', pyspark 4.0')."""
    return [
        f"- Machine: {machine['cores']} cores (`nproc`), {machine['cpu']}, {machine['memory']} RAM, shared with "
        f"other work (load average 1/5/15 min: {machine['load_start']} at start, "
        f"{machine.get('load_end', 'unknown')} at end).",
        f"- Software: Python {machine['python']}, DuckDB {machine['duckdb']}, Ibis {machine['ibis']}, pandas "
        f"{machine['pandas']}, pyarrow {machine['pyarrow']}{more_software}; {code_note(machine)}.",
    ]


def code_note(machine: dict[str, str]) -> str:
    """The commit at start (and end, if it moved) and whether every mart run used the same mart code."""
    commit = f"commit {machine['commit']}"
    if machine.get("commit_end", machine["commit"]) != machine["commit"]:
        commit += f" at start, {machine['commit_end']} at end"
    hashes = list(dict.fromkeys(h for h in machine.get("code_sha256", "").split(",") if h))
    if len(hashes) == 1:
        return f"{commit}; mart code sha256 {hashes[0][:12]} in every run"
    if hashes:
        return f"{commit}; **the mart code changed during the bench** ({len(hashes)} code hashes)"
    return commit


def note_code_hashes(machine: dict[str, str], hashes: list[str | None]) -> None:
    """Record the mart code hashes of the runs, for `code_note`."""
    machine["code_sha256"] = ",".join(dict.fromkeys(h for h in hashes if h))


# ---------------------------------------------------------------------------------------------------------------
# formatting


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


def ratio(a: float | None, b: float | None) -> str:
    """a ÷ b as '2.3×' (or 'not measured')."""
    return f"{a / b:.1f}×" if a is not None and b else "not measured"


def verdict(checks: list[tuple[str, bool | None]], *, none: str = "no target") -> str:
    """'yes (…)', 'no (missed …)', 'partly (… not measured)' or `none` when there are no checks."""
    if not checks:
        return none
    missed = [label for label, met in checks if met is False]
    unmeasured = [label for label, met in checks if met is None]
    if missed:
        return f"no (missed {', '.join(missed)})"
    if unmeasured:
        return f"partly ({', '.join(unmeasured)} not measured)"
    return "yes (" + ", ".join(label for label, _ in checks) + ")"


def console_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A table as aligned plain-text lines."""
    table = [headers, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in table]


def stage_rows(columns: list[tuple[dict[str, float], float, float]], *, digits: int = 2,
               total: str = "**total**") -> list[list[str]]:
    """The rows of a stage table with one column per run, given as (seconds per stage, other seconds, total):
    each stage, then 'other', then the total in bold."""
    names = list(dict.fromkeys(name for stages, _other, _total in columns for name in stages))
    rows = [[name, *(f"{stages.get(name, 0.0):.{digits}f}" for stages, _other, _total in columns)] for name in names]
    rows.append(["other", *(f"{other:.{digits}f}" for _stages, other, _total in columns)])
    rows.append([total, *(f"**{whole:.{digits}f}**" for _stages, _other, whole in columns)])
    return rows


def markdown_table(headers: list[str], rows: list[list[str]], text_columns: tuple[int, ...] = (0,)) -> list[str]:
    """A Markdown table; numbers right-aligned, the `text_columns` (indices, negative from the end) left-aligned."""
    text = {i % len(headers) for i in text_columns}
    align = ["---" if i in text else "---:" for i in range(len(headers))]
    return [f"| {' | '.join(cells)} |" for cells in (headers, align, *rows)]


# ---------------------------------------------------------------------------------------------------------------
# command line


def parse_size(text: str) -> int:
    """A row count written as 100000, 100_000, 1e5 or 100,000."""
    try:
        value = float(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of rows: {text!r}") from None
    if value < 0 or value != int(value):
        raise argparse.ArgumentTypeError(f"not a whole number of rows: {text!r}")
    return int(value)


def parse_sizes(text: str) -> tuple[int, ...]:
    """Comma-separated sizes, e.g. '1e5,1e6'."""
    return tuple(parse_size(part) for part in text.split(",") if part.strip())


def bench_parser(prog: str, doc: str, *, out: Path = DEFAULT_OUT, children: tuple[str, ...] = ()
                 ) -> argparse.ArgumentParser:
    """The options every benchmark has (params, output folder, docs page) and the hidden ones of its processes."""
    parser = argparse.ArgumentParser(prog=f"python -m {prog}", description=doc.splitlines()[0])
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS)
    parser.add_argument("--out", type=Path, default=out, help="inputs, outputs and results")
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="the Markdown page to update")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave the Markdown page alone")
    if children:
        parser.add_argument("--one", choices=children, help=argparse.SUPPRESS)
        parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return parser


# ---------------------------------------------------------------------------------------------------------------
# docs/benchmarks.md


SECTION_START = "<!-- bench:{name}:start -->"
SECTION_END = "<!-- bench:{name}:end -->"

DOCS_TEMPLATE = f"""# Benchmarks

`make bench` (`python -m benchmarks.mart`, `python -m benchmarks.report`, then `python -m benchmarks.transactions`)
rewrites the sections between the `<!-- bench:… -->` marker comments; everything outside them is kept as written.

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
            text = pattern.sub(lambda _match, block=block: block, text, count=1)
        else:
            text = text.rstrip("\n") + f"\n\n{block}\n"
    return text


def write_docs(path: Path | None, sections: dict[str, str]) -> None:
    """Write these sections into the benchmarks page (created from the template when missing); None: do nothing."""
    if path is None:
        return
    text = path.read_text(encoding="utf-8") if path.is_file() else DOCS_TEMPLATE
    write_text(path, update_sections(text, sections))
    print(f"wrote {relative(path)}", flush=True)


def write_text(path: Path, text: str) -> None:
    """Write a UTF-8 text file whole or not at all (its folder is made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, text)
