"""A report's site and PDF are published together, and a stopped build cleans up after itself.

One report is built from the small mart (the "previous build") and copied for each test. Kills happen at
deterministic points: the publish step's `atomic.step_hook`, a test-only pause inside the PDF stage, or once a
chapter kernel runs. Every test leaves no process behind, even when it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import psutil
import pytest

from segmentation.config.params import Params, load_params
from segmentation.core import atomic
from segmentation.mart.store import file_sha256
from segmentation.report import SiteBuildError
from segmentation.report.build import STAMP_NAME, ReportLayout, build_report
from segmentation.report.chapters import (
    RUNTIME_PREFIX,
    Chapter,
    chapter_key,
    execute_chapters,
    inputs_digest,
    plan_chapters,
    remove_dead_runtime_dirs,
)
from segmentation.report.chapters.pool import _ctrl_c_held_from_new_workers
from tests.conftest import ROOT, params_copy

# sphinx-book-theme 1.4 touches an attribute Sphinx 9 deprecates; harmless, and not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*HandleFootnoteTransform.app' is deprecated")

# faulthandler: a child that hangs is sent SIGABRT and prints every thread's stack (see exit_code)
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONFAULTHANDLER": "1"}
WAIT_S = 300  # for a sign of progress in a child build on a loaded machine


def report_files(folder: Path, name: str = "default") -> dict[str, str]:
    """What a reader of build/report/<name>/ gets: every site file, the PDF and the stamp, by hash.

    Works on a staging folder too (same entry names), so a child can say what it is about to publish.
    """
    files = {f"site/{p.relative_to(folder / 'site').as_posix()}": file_sha256(p)
             for p in sorted((folder / "site").rglob("*")) if p.is_file()}
    for entry in (f"{name}.pdf", STAMP_NAME):
        if (folder / entry).is_file():
            files[entry] = file_sha256(folder / entry)
    return files


@dataclass(frozen=True)
class Previous:
    """The previous build: its root (build/, figures/), params, and what it published."""

    root: Path
    params: Params

    @property
    def report_dir(self) -> Path:
        """build/report/<name>."""
        return ReportLayout(self.root, self.params.name).report_dir

    def copy(self, to: Path) -> Path:
        """A copy of the whole root (chapters, Sphinx work folder, site, PDF, stamp, figures)."""
        return Path(shutil.copytree(self.root, to, symlinks=True))


@pytest.fixture(scope="module")
def previous(small_mart: Params, tmp_path_factory: pytest.TempPathFactory) -> Previous:
    """The report of the small mart, built once for this module."""
    root = tmp_path_factory.mktemp("previous")
    build_report(small_mart, progress=lambda _line: None, root=root)
    return Previous(root, small_mart)


def retitled(params: Params, folder: Path) -> Params:
    """The same params with another title: another site and PDF from the same chapters."""
    folder.mkdir(parents=True, exist_ok=True)
    return load_params(params_copy(params.path, folder, title=f"{params.title} (republished)"))


def retag_chapters(chapters_dir: Path, params: Params) -> None:
    """Give the executed chapters the cache keys of `params`, so a build with it re-renders only site and PDF.

    (Test-only shortcut: a title change would otherwise re-execute every chapter, for minutes.)
    """
    inputs = inputs_digest(params, params.mart_dir)
    for chapter in plan_chapters(params):
        path = chapters_dir / f"{chapter.slug}.ipynb"
        nb = json.loads(path.read_text(encoding="utf-8"))
        nb["metadata"]["segmentation"]["cache_key"] = chapter_key(chapter, inputs)
        path.write_text(json.dumps(nb), encoding="utf-8")


# --- (a) the publish step killed at every step ---------------------------------------------------------------

# Builds the report of argv[1] into the root argv[2]; SIGKILLs itself at publish step argv[3] (0: never). At the
# first step ("commit") it prints the hashes of what it is about to publish (the staging folder).
KILLED_BUILD = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    from segmentation.core import atomic
    from segmentation.config.params import load_params
    from segmentation.report.build import ReportLayout, build_report
    from tests.kill_hook import kill_at_step
    from tests.report.test_publish import report_files

    params, root, kill_at = load_params(Path(sys.argv[1])), Path(sys.argv[2]), int(sys.argv[3])
    report_dir = ReportLayout(root, params.name).report_dir

    def staged():
        staging = next(report_dir.glob(f"{atomic.STAGING_PREFIX}{os.getpid()}-*"))
        print("STAGED " + json.dumps(report_files(staging, params.name)), flush=True)

    kill_at_step(kill_at, prefix="STEP ", on_first=staged)
    build_report(params, progress=lambda line: print(line, flush=True), root=root)
""")


def killed_build(params: Params, root: Path, kill_at: int) -> tuple[subprocess.CompletedProcess, list[str], dict]:
    """Run KILLED_BUILD; return the process, the publish steps it reached and what it staged."""
    done = subprocess.run([sys.executable, "-c", KILLED_BUILD, str(params.path), str(root), str(kill_at)],
                          env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=WAIT_S)
    lines = done.stdout.splitlines()
    steps = [line.removeprefix("STEP ") for line in lines if line.startswith("STEP ")]
    staged = next((json.loads(line.removeprefix("STAGED ")) for line in lines if line.startswith("STAGED ")), {})
    return done, steps, staged


@pytest.mark.slow
def test_a_kill_at_every_publish_step_leaves_site_and_pdf_wholly_old_or_wholly_new(
    previous: Previous, tmp_path: Path
) -> None:
    old = report_files(previous.report_dir)
    new_params = retitled(previous.params, tmp_path / "params")
    # a template root: chapters cached for the new params, Sphinx's work folder warm for them, the OLD site and PDF
    template = previous.copy(tmp_path / "template")
    report_dir = ReportLayout(template, previous.params.name).report_dir
    retag_chapters(report_dir / "chapters", new_params)
    done, steps, new = killed_build(new_params, template, 0)
    assert done.returncode == 0, done.stderr
    assert steps[0] == "commit" and steps[-1] == "done" and "install site" in steps, steps
    assert f"install {previous.params.name}.pdf" in steps and steps[-2] == f"install {STAMP_NAME}", steps
    assert report_files(report_dir) == new != old
    for entry in ("site", f"{previous.params.name}.pdf", STAMP_NAME):
        _replace(report_dir / entry, previous.report_dir / entry)
    assert report_files(report_dir) == old

    outcomes = []
    for kill_at in range(1, len(steps) + 1):
        root = Path(shutil.copytree(template, tmp_path / f"kill-{kill_at}", symlinks=True))
        target = ReportLayout(root, previous.params.name).report_dir
        killed, reached, staged = killed_build(new_params, root, kill_at)
        step = steps[kill_at - 1]
        assert killed.returncode == -signal.SIGKILL and reached[-1] == step, (step, killed.stderr[-2000:])
        if step == "commit":
            assert report_files(target) == old, "the target changed before the commit rename"
        atomic.recover(target)  # what the next run, or a careful reader, does first
        state = report_files(target)
        assert state in (old, staged), f"torn after a kill at '{step}'"
        assert not list(target.glob(f"{atomic.STAGING_PREFIX}*")) and not atomic.interrupted(target)
        outcomes.append("new" if state == staged else "old")
        lines: list[str] = []
        build_report(new_params, progress=lines.append, root=root)  # the next report
        if state == old:
            assert "site and pdf: unchanged" not in lines and any(x.startswith("site: built") for x in lines), step
        else:
            assert "site and pdf: unchanged" in lines, step
            assert report_files(target) == staged
    assert outcomes == ["old"] + ["new"] * (len(steps) - 1)


def _replace(target: Path, source: Path) -> None:
    """Put a copy of `source` (file or folder) where `target` is."""
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink(missing_ok=True)
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy2(source, target)


@pytest.mark.slow
def test_a_failing_pdf_leaves_the_previous_site_and_pdf(
    previous: Previous, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = previous.copy(tmp_path / "root")
    report_dir = ReportLayout(root, previous.params.name).report_dir
    new_params = retitled(previous.params, tmp_path / "params")
    retag_chapters(report_dir / "chapters", new_params)
    old = report_files(report_dir)

    def broken_pdf(*_args, **_kwargs) -> None:
        raise SiteBuildError("PDF rendering failed: on purpose")

    monkeypatch.setattr("segmentation.report.build.build_pdf", broken_pdf)
    lines: list[str] = []
    with pytest.raises(SiteBuildError, match="on purpose"):
        build_report(new_params, progress=lines.append, root=root)
    assert any(line.startswith("site: built") for line in lines)
    assert report_files(report_dir) == old
    assert not list(report_dir.glob(f"{atomic.STAGING_PREFIX}*")) and not (report_dir / ".work" / "html").exists()


@pytest.mark.slow
def test_an_edited_published_pdf_is_not_reported_unchanged(previous: Previous, tmp_path: Path) -> None:
    root = previous.copy(tmp_path / "root")
    pdf = ReportLayout(root, previous.params.name).pdf
    pdf.write_bytes(pdf.read_bytes() + b"\n% edited\n")
    lines: list[str] = []
    build_report(previous.params, progress=lines.append, root=root)
    assert "site and pdf: unchanged" not in lines and any(line.startswith("pdf: built") for line in lines)
    lines.clear()
    build_report(previous.params, progress=lines.append, root=root)  # now the stamp vouches for what is there
    assert "site and pdf: unchanged" in lines


# Publishes the figures of the chapters in argv[1] into argv[2]; SIGKILLs itself at step argv[3] (0: never).
KILLED_FIGURES = textwrap.dedent("""
    import sys
    from pathlib import Path
    from segmentation.report.chapters import publish_figures
    from tests.kill_hook import kill_at_step

    chapters, target, kill_at = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    kill_at_step(kill_at)
    publish_figures(sorted(chapters.glob("*.ipynb")), target)
""")


@pytest.mark.slow
def test_a_kill_at_every_figure_publish_step_leaves_the_figures_wholly_old_or_wholly_new(
    previous: Previous, tmp_path: Path
) -> None:
    figures = previous.root / "figures" / previous.params.name
    new = {p.name: file_sha256(p) for p in figures.iterdir() if not p.name.startswith(".")}
    changed = sorted(new)[:3]

    def old_figures(folder: Path) -> Path:
        """The previous figures folder: three figures differ and one no chapter makes anymore."""
        shutil.copytree(figures, folder)
        for name in changed:
            (folder / name).write_bytes(b"old " + name.encode())
        (folder / "retired-figure.png").write_bytes(b"old retired")
        return folder

    def state(folder: Path) -> dict[str, str]:
        return {p.name: file_sha256(p) for p in folder.iterdir() if not p.name.startswith(".")}

    old = state(old_figures(tmp_path / "probe"))
    probe = subprocess.run([sys.executable, "-c", KILLED_FIGURES, str(previous.report_dir / "chapters"),
                            str(tmp_path / "probe"), "0"], env=ENV, cwd=ROOT, capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    steps = probe.stdout.splitlines()
    assert state(tmp_path / "probe") == new
    assert [s for s in steps if s.startswith("install ")] == [f"install {n}" for n in changed], steps
    assert "remove retired-figure.png" in steps
    for kill_at in range(1, len(steps) + 1):
        target = old_figures(tmp_path / f"kill-{kill_at}")
        killed = subprocess.run([sys.executable, "-c", KILLED_FIGURES, str(previous.report_dir / "chapters"),
                                 str(target), str(kill_at)], env=ENV, cwd=ROOT, capture_output=True, text=True)
        assert killed.returncode == -signal.SIGKILL, (steps[kill_at - 1], killed.stderr)
        atomic.recover(target)
        assert state(target) == (old if kill_at == 1 else new), f"after a kill at '{steps[kill_at - 1]}'"


# --- (b) a real `python -m segmentation report` stopped by a signal ------------------------------------------


@dataclass
class Child:
    """A `python -m segmentation report` (or a wrapper of it) in its own session, output in files."""

    proc: subprocess.Popen
    root: Path
    out: Path
    err: Path
    seen: dict[int, psutil.Process] = field(default_factory=dict)  # every process of its tree ever looked at

    @property
    def stdout(self) -> str:
        """What it printed so far."""
        return self.out.read_text(encoding="utf-8")

    @property
    def stderr(self) -> str:
        """Its error output so far."""
        return self.err.read_text(encoding="utf-8")

    def tree(self) -> list[psutil.Process]:
        """Every process it started, directly or not (workers, kernels, the resource tracker)."""
        try:
            tree = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        self.seen.update((p.pid, p) for p in tree)
        return tree


@contextmanager
def started(argv: list[str], root: Path, logs: Path) -> Iterator[Child]:
    """Start a child build; afterwards kill whatever is left of its tree (a failing test leaks nothing)."""
    out, err = logs / "stdout.txt", logs / "stderr.txt"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, *argv], cwd=root, env=ENV, stdout=stdout, stderr=stderr,
                                start_new_session=True)  # its own process group, like a command in a terminal
    child = Child(proc, root, out, err)
    try:
        yield child
    finally:
        for leftover in [*child.tree(), *child.seen.values()]:  # orphans are no longer in the tree: seen keeps them
            _kill_quietly(leftover)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)


def exit_code(child: Child, hang_s: float = 120) -> int:
    """The child's exit code. A child still running after `hang_s` is hung, not slow (a stopped build exits in
    seconds): it is sent SIGABRT, so faulthandler prints where each of its threads waits, and the test fails."""
    try:
        return child.proc.wait(timeout=hang_s)
    except subprocess.TimeoutExpired:
        child.proc.send_signal(signal.SIGABRT)
        child.proc.wait(timeout=30)
        pytest.fail(f"the build did not exit; its threads when stopped:\n{child.stderr}")


def _kill_quietly(proc: psutil.Process) -> None:
    """SIGKILL a process if it still runs."""
    try:
        proc.kill()
    except psutil.NoSuchProcess:
        pass


def _cmdline(proc: psutil.Process) -> str:
    """A process's command line ('' once it is gone)."""
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def wait_for(what: str, ready: Callable[[], object], child: Child, timeout: float = WAIT_S) -> object:
    """Poll until `ready()` is truthy; fail naming `what` (with the child's output) if it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = ready()
        if value:
            return value
        if child.proc.poll() is not None:
            pytest.fail(f"the build ended (exit {child.proc.returncode}) before {what}: {child.stderr[-2000:]}")
        time.sleep(0.05)
    pytest.fail(f"no {what} after {timeout} s: {child.stdout[-2000:]}")


def kernels(tree: list[psutil.Process]) -> list[psutil.Process]:
    """The Jupyter kernels among processes."""
    return [proc for proc in tree if "ipykernel_launcher" in _cmdline(proc)]


def survivors(tree: list[psutil.Process], grace: float) -> list[str]:
    """Processes of `tree` still running (zombies count as gone) after waiting up to `grace` seconds."""
    deadline = time.monotonic() + grace
    while True:
        alive = []
        for proc in tree:
            try:
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(f"{proc.pid} {' '.join(proc.cmdline())[:100]}")
            except psutil.NoSuchProcess:
                continue
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def leftovers(report_dir: Path, pid: int) -> list[str]:
    """What a stopped build must not leave: partial notebooks, kernel logs, staging, its kernels' temp folder."""
    found = [p.name for p in (report_dir / "chapters").iterdir()
             if p.name.endswith((".running.ipynb", ".kernel.log", ".tmp"))]
    found += [p.name for p in report_dir.glob(f"{atomic.STAGING_PREFIX}*")]
    found += [p.name for p in report_dir.glob(atomic.PUBLISHING)]
    found += [str(p) for p in Path(tempfile.gettempdir()).glob(f"{RUNTIME_PREFIX}{pid}-*")]
    return sorted(found)


def report_argv(params: Params) -> list[str]:
    """`python -m segmentation report` of a params file (its mart is built: the run step finds it up to date)."""
    return ["-m", "segmentation", "report", "--params", str(params.path)]


def uncached(previous: Previous, root: Path, slugs: list[str] | None = None) -> Path:
    """A copy of the previous build whose chapters (all, or those named) must be executed again."""
    previous.copy(root)
    chapters = ReportLayout(root, previous.params.name).chapters_dir
    for path in chapters.glob("*.ipynb"):
        if slugs is None or path.stem in slugs:
            path.unlink()
    return root


@pytest.mark.slow
@pytest.mark.parametrize("signum, code, line", [
    (signal.SIGTERM, 143, "terminated (SIGTERM)"),
    (signal.SIGINT, 130, "interrupted"),
], ids=["SIGTERM", "SIGINT-to-the-process-group"])
def test_a_signal_while_chapters_run_stops_workers_and_kernels_and_cleans_up(
    previous: Previous, tmp_path: Path, signum: int, code: int, line: str
) -> None:
    root = uncached(previous, tmp_path / "root")
    report_dir = ReportLayout(root, previous.params.name).report_dir
    old = report_files(report_dir)
    with started(report_argv(previous.params), root, tmp_path) as child:
        wait_for("chapter kernel", lambda: list((report_dir / "chapters").glob(".*.running.ipynb"))
                 and kernels(child.tree()), child)
        tree = child.tree()
        if signum == signal.SIGINT:
            os.killpg(child.proc.pid, signal.SIGINT)  # like Ctrl-C in a terminal: the whole process group
        else:
            child.proc.send_signal(signum)  # like `kill`: the command only
        assert exit_code(child) == code
        assert child.stderr.splitlines() == [line]
        assert survivors(tree, grace=5) == []
        assert leftovers(report_dir, child.proc.pid) == []
        assert report_files(report_dir) == old


# The real command, with a test-only pause in the PDF stage (after "site: built") and the mart step skipped (the
# retitled params would rebuild the shared small mart).
PAUSED_IN_PDF = textwrap.dedent("""
    import sys, time
    import segmentation.cli as cli
    import segmentation.report.build as build

    real_pdf = build.build_pdf

    def paused_pdf(*args, **kwargs):
        print("test: pdf paused", flush=True)
        time.sleep(600)
        return real_pdf(*args, **kwargs)

    build.build_pdf = paused_pdf
    cli._run = lambda args: 0
    sys.exit(cli.main(sys.argv[1:]))
""")


@pytest.mark.slow
def test_sigterm_after_the_site_is_built_publishes_neither_site_nor_pdf(previous: Previous, tmp_path: Path) -> None:
    root = previous.copy(tmp_path / "root")
    report_dir = ReportLayout(root, previous.params.name).report_dir
    new_params = retitled(previous.params, tmp_path / "params")
    retag_chapters(report_dir / "chapters", new_params)
    old = report_files(report_dir)
    argv = ["-c", PAUSED_IN_PDF, "report", "--params", str(new_params.path)]
    with started(argv, root, tmp_path) as child:
        wait_for("pause in the PDF stage", lambda: "test: pdf paused" in child.stdout, child)
        assert "site: built" in child.stdout
        child.proc.send_signal(signal.SIGTERM)
        assert exit_code(child) == 143
        assert child.stderr.splitlines() == ["terminated (SIGTERM)"]
        assert report_files(report_dir) == old
        assert leftovers(report_dir, child.proc.pid) == [] and not (report_dir / ".work" / "html").exists()


@pytest.mark.slow
def test_a_sigkilled_build_takes_its_workers_and_kernels_along_and_the_next_run_cleans_up(
    previous: Previous, tmp_path: Path
) -> None:
    slugs = ["01_summary", "02_data_quality", "09_appendix"]
    root = uncached(previous, tmp_path / "root", slugs)
    report_dir = ReportLayout(root, previous.params.name).report_dir
    old = report_files(report_dir)
    with started(report_argv(previous.params), root, tmp_path) as child:
        wait_for("chapter kernel", lambda: kernels(child.tree()), child)
        tree = child.tree()
        child.proc.kill()
        assert child.proc.wait(timeout=60) == -signal.SIGKILL
        assert survivors(tree, grace=15) == []  # workers die with their parent, kernels with their worker
        killed_pid = child.proc.pid
    assert report_files(report_dir) == old
    nxt = subprocess.run([sys.executable, *report_argv(previous.params)], cwd=root, env=ENV, capture_output=True,
                         text=True, timeout=WAIT_S * 2)
    assert nxt.returncode == 0, nxt.stderr
    assert leftovers(report_dir, killed_pid) == []
    assert "site and pdf: unchanged" in nxt.stdout  # the same chapters again: the published report still holds
    assert report_files(report_dir) == old


# --- the pieces ------------------------------------------------------------------------------------------------


def _tiny_template(folder: Path, name: str, body: str) -> Path:
    """A one-cell chapter template with the report's parameters cell."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('params_path = ""\nmart_dir = ""', metadata={"tags": ["parameters"]})
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny"), params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_an_error_while_chapters_run_stops_the_others_at_once(small_mart: Params, tmp_path: Path) -> None:
    finished = tmp_path / "slow-finished"  # the slow chapter's last act: it exists only if it ran to the end
    slow = f"import pathlib, time; time.sleep(120); pathlib.Path({str(finished)!r}).touch()"
    chapters = [Chapter("quick", _tiny_template(tmp_path, "quick", "print('done')")),
                Chapter("slow", _tiny_template(tmp_path, "slow", slow))]
    out = tmp_path / "chapters"
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    tree: list[psutil.Process] = []

    def progress(line: str) -> None:
        if line.startswith("chapter quick: executed"):
            tree.extend(p for p in psutil.Process().children(recursive=True)
                        if p.pid not in before and "resource_tracker" not in _cmdline(p))  # it lives with pytest
            assert kernels(tree), "the slow chapter's kernel is not running: nothing would be tested"
            raise KeyboardInterrupt  # Ctrl-C while the slow chapter's kernel runs

    try:
        with pytest.raises(KeyboardInterrupt):
            execute_chapters(chapters, params=small_mart, mart_dir=small_mart.mart_dir, out_dir=out, jobs=2,
                             progress=progress)
        assert survivors(tree, grace=5) == []  # so the slow chapter can no longer finish
        assert not finished.exists(), "waited for the slow chapter instead of stopping it"
    finally:
        for proc in tree:
            _kill_quietly(proc)
    assert sorted(p.name for p in out.iterdir()) == ["quick.ipynb"]
    assert not list(Path(tempfile.gettempdir()).glob(f"{RUNTIME_PREFIX}{os.getpid()}-*"))


def test_runtime_folders_of_dead_builds_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = tmp_path / f"{RUNTIME_PREFIX}{gone.pid}-abc"
    live = tmp_path / f"{RUNTIME_PREFIX}{os.getpid()}-def"
    for folder in (dead, live):
        folder.mkdir()
        (folder / "kernel-1.json").write_text("{}")
    assert remove_dead_runtime_dirs(tmp_path) == [dead]
    assert live.exists() and not dead.exists()


def _blocked_signals(pid: int) -> int:
    """The signal mask of a running process (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigBlk:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no SigBlk in /proc/{pid}/status")


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads signal masks from /proc")
def test_workers_start_with_ctrl_c_held_so_a_starting_worker_prints_no_traceback() -> None:
    sigint = 1 << (signal.SIGINT - 1)
    with _ctrl_c_held_from_new_workers():
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert _blocked_signals(worker.pid) & sigint
        assert not _blocked_signals(os.getpid()) & sigint  # this process gets Ctrl-C again
    finally:
        worker.kill()
        worker.wait()
