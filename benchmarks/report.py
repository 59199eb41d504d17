"""`python -m benchmarks.report`: time `python -m segmentation report` cold and unchanged at 1e5 customers.

Cold means a fresh folder: no mart, no chapter cache, no site. Both runs are whole commands in a new process
(interpreter start, mart, chapters, site and PDF), as `make report` runs them. The result is written to the
`report` section of docs/benchmarks.md.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.harness import (
    DEFAULT_OUT,
    ROOT,
    BenchError,
    Say,
    bench_parser,
    load_average,
    machine_info,
    params_copy,
    prepare_customers,
    run_measured,
    size_label,
    write_docs,
)

ROWS = 100_000
COLD_TARGET_S = 60.0
RERUN_TARGET_S = 5.0


@dataclass(frozen=True)
class ReportTiming:
    """Wall times of one cold build and one unchanged rerun."""

    rows: int
    params_name: str
    cold_s: float
    rerun_s: float
    rerun_executed: int
    load_before: str
    load_after: str


def time_command(command: list[str], cwd: Path) -> tuple[float, str]:
    """Run a command to its end as a measured whole process; its wall time and output (raises when it fails)."""
    done = run_measured(command, cwd=cwd, capture=True)
    if done.exit_code != 0:
        raise BenchError(f"{' '.join(command)} failed ({done.exit_code}): {done.output[-500:]}")
    return done.seconds, done.output


def report_params(params: Path, folder: Path, csv: Path) -> Path:
    """A copy of `params` in `folder` reading `csv`, with its mart there and the project's chapter notebooks (the
    report runs in `folder`, where the default `chapters/` does not exist)."""
    return params_copy(params, folder / params.name, input=csv, mart_dir=folder / "mart", chapters=ROOT / "chapters")


def measure(rows: int, params: Path, out_dir: Path, say: Say = print) -> ReportTiming:
    """Build the report twice in a fresh folder: cold, then unchanged."""
    csv = prepare_customers(rows, out_dir, say)
    folder = out_dir / f"report_{size_label(rows, for_path=True)}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    copy = report_params(params, folder, csv)
    command = [sys.executable, "-m", "segmentation", "report", "--params", str(copy)]
    load_before = load_average()
    cold, _ = time_command(command, folder)
    say(f"report {size_label(rows)} cold: {cold:.1f} s")
    rerun, output = time_command(command, folder)
    executed = output.count(": executed in")
    say(f"report {size_label(rows)} unchanged rerun: {rerun:.1f} s ({executed} chapters executed)")
    return ReportTiming(rows, params.stem, cold, rerun, executed, load_before, load_average())


def section(timing: ReportTiming, machine: dict[str, str]) -> str:
    """The report section of docs/benchmarks.md."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cold_ok = "met" if timing.cold_s <= COLD_TARGET_S else "missed"
    rerun_ok = "met" if timing.rerun_s <= RERUN_TARGET_S and timing.rerun_executed == 0 else "missed"
    return "\n".join([
        "## Report build",
        "",
        f"Measured {stamp} by `make bench` (`python -m benchmarks.report`): `python -m segmentation report` with "
        f"`params/{timing.params_name}.yaml` on {timing.rows:,} generated customers, in a fresh folder (no mart, "
        "no chapter cache, no site), then once more unchanged. Each is one whole command in a new process: "
        "interpreter start, mart, chapters, site and PDF.",
        "",
        f"- Machine: {machine['cores']} cores, {machine['cpu']}, {machine['memory']} RAM, commit {machine['commit']}; "
        f"load average (1/5/15 min) {timing.load_before} before, {timing.load_after} after.",
        "",
        "| run | seconds | target | |",
        "| --- | ---: | ---: | --- |",
        f"| cold | {timing.cold_s:.1f} | ≤ {COLD_TARGET_S:.0f} | {cold_ok} |",
        f"| unchanged rerun ({timing.rerun_executed} chapters executed) | {timing.rerun_s:.1f} | "
        f"≤ {RERUN_TARGET_S:.0f} | {rerun_ok} |",
    ])


def main(argv: list[str] | None = None) -> int:
    """Measure and record."""
    parser = bench_parser("benchmarks.report", __doc__, out=DEFAULT_OUT)
    parser.add_argument("--rows", type=int, default=ROWS)
    args = parser.parse_args(argv)
    timing = measure(args.rows, args.params.resolve(), args.out.resolve())
    write_docs(None if args.no_docs else args.docs, {"report": section(timing, machine_info())})
    return 0


if __name__ == "__main__":
    sys.exit(main())
