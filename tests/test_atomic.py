"""All-or-nothing publishing: a kill at any step leaves the target wholly old or, once recovered, wholly new."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from segmentation.core import atomic
from tests.conftest import ROOT

OLD = {"a.txt": "old a", "b.txt": "old b", "gone.txt": "old gone", "site/index.html": "old site"}
NEW = {"a.txt": "new a", "b.txt": "new b", "c.txt": "new c", "site/index.html": "new site", "site/x.html": "x"}

# Publishes NEW over the target given as argv[1]; with argv[2] = N, the process SIGKILLs itself before step N.
PUBLISHER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from segmentation.core import atomic
    from tests.kill_hook import kill_at_step

    target, kill_at = Path(sys.argv[1]), int(sys.argv[2])
    kill_at_step(kill_at)
    with atomic.publishing(target, replace_all=True, last=["b.txt"]) as staging:
        for name, text in {new!r}.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_text(text)
""").replace("{new!r}", repr(NEW))


def write_tree(folder: Path, files: dict[str, str]) -> None:
    """Files under a folder, from relative path → text."""
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def visible_tree(folder: Path) -> dict[str, str]:
    """Every file under a folder, hidden entries (locks, staging) left out."""
    found = {}
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if path.is_file() and not rel.parts[0].startswith("."):
            found[str(rel)] = path.read_text()
    return found


def publish_in_child(target: Path, kill_at: int) -> subprocess.CompletedProcess:
    """Run the publisher in a fresh Python process that kills itself at step `kill_at` (0: never)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", PUBLISHER, str(target), str(kill_at)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_publish_replaces_everything_and_removes_what_is_no_longer_written(tmp_path):
    write_tree(tmp_path, OLD)
    done = publish_in_child(tmp_path, 0)
    assert done.returncode == 0, done.stderr
    assert visible_tree(tmp_path) == NEW
    assert not list(tmp_path.glob(".staging-*")) and not (tmp_path / atomic.PUBLISHING).exists()
    assert done.stdout.splitlines()[0] == "commit"
    installs = [line for line in done.stdout.splitlines() if line.startswith("install ")]
    assert installs[-1] == "install b.txt"  # `last` entries go in after the rest


def test_a_kill_at_every_step_leaves_the_target_wholly_old_or_wholly_new(tmp_path):
    write_tree(tmp_path / "probe", OLD)
    steps = publish_in_child(tmp_path / "probe", 0).stdout.splitlines()
    assert len(steps) >= 8  # commit, trash site, installs, remove gone.txt, done
    outcomes = []
    for kill_at in range(1, len(steps) + 1):
        target = tmp_path / f"kill-{kill_at}"
        write_tree(target, OLD)
        killed = publish_in_child(target, kill_at)
        assert killed.returncode == -signal.SIGKILL, (steps[kill_at - 1], killed.stderr)
        atomic.recover(target)  # what the next run or reader does first
        state = visible_tree(target)
        assert state in (OLD, NEW), f"torn after a kill at '{steps[kill_at - 1]}': {state}"
        assert not list(target.glob(".staging-*")) and not atomic.interrupted(target)
        outcomes.append("new" if state == NEW else "old")
    # before the commit rename the old target stays; from it on, the publish is rolled forward
    assert outcomes == ["old"] + ["new"] * (len(steps) - 1)


def test_an_error_while_staging_changes_nothing(tmp_path):
    write_tree(tmp_path, OLD)
    with pytest.raises(RuntimeError, match="half-way"):
        with atomic.publishing(tmp_path, replace_all=True) as staging:
            (staging / "a.txt").write_text("new a")
            raise RuntimeError("failed half-way")
    assert visible_tree(tmp_path) == OLD
    assert not list(tmp_path.glob(".staging-*"))


def test_without_replace_all_only_named_entries_go(tmp_path):
    write_tree(tmp_path, OLD)
    with atomic.publishing(tmp_path, remove=["gone.txt", "never-there.txt"]) as staging:
        (staging / "c.txt").write_text("new c")
    assert visible_tree(tmp_path) == {**{k: v for k, v in OLD.items() if k != "gone.txt"}, "c.txt": "new c"}


def test_stagings_of_dead_runs_are_removed_and_live_ones_kept(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a pid that no longer runs
    dead = tmp_path / f"{atomic.STAGING_PREFIX}{child.pid}-abc"
    live = tmp_path / f"{atomic.STAGING_PREFIX}{os.getppid()}-def"
    for folder in (dead, live):
        folder.mkdir()
        (folder / "a.txt").write_text("partial")
    assert atomic.recover(tmp_path) is False
    assert not dead.exists() and live.exists()
