"""A stopped report build cleans up after itself: workers, kernels and their files go at once."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from segmentation.params import Params
from segmentation.report.chapters import RUNTIME_PREFIX, Chapter, execute_chapters, remove_dead_runtime_dirs


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
    chapters = [Chapter("quick", _tiny_template(tmp_path, "quick", "print('done')")),
                Chapter("slow", _tiny_template(tmp_path, "slow", "import time; time.sleep(120)"))]
    out = tmp_path / "chapters"
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    raised: list[float] = []
    tree: list[psutil.Process] = []

    def progress(line: str) -> None:
        if line.startswith("chapter quick: executed"):
            tree.extend(p for p in psutil.Process().children(recursive=True)
                        if p.pid not in before and "resource_tracker" not in _cmdline(p))  # it lives with pytest
            assert kernels(tree), "the slow chapter's kernel is not running: nothing would be tested"
            raised.append(time.monotonic())
            raise KeyboardInterrupt  # Ctrl-C while the slow chapter's kernel runs

    try:
        with pytest.raises(KeyboardInterrupt):
            execute_chapters(chapters, params=small_mart, mart_dir=small_mart.mart_dir, out_dir=out, jobs=2,
                             progress=progress)
        stopping = time.monotonic() - raised[0]
        assert stopping < 20, f"took {stopping:.0f} s: waited for the slow chapter instead of stopping it"
        assert survivors(tree, grace=5) == []
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
