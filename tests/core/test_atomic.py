"""Atomic writes: a publish killed at any step leaves the target wholly old or, once recovered, wholly new; one
file or folder replaced with `replacing` is old or new, never half-written."""

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


# --- one file or folder replaced in one rename (atomic.replacing) ---


def hidden(folder: Path) -> list[str]:
    """Names of the hidden entries in a folder (temporaries, folders moved aside)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_replacing_puts_the_new_file_in_place_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with atomic.replacing(target) as temporary:
        assert temporary.parent == tmp_path and temporary.name.startswith(".a.txt.")
        temporary.write_text("new")
        assert target.read_text() == "old"  # nothing changes before the block ends
    assert target.read_text() == "new"
    atomic.write_text(tmp_path / "b.txt", "text")
    atomic.write_bytes(tmp_path / "c.bin", b"\0bytes")
    assert (tmp_path / "b.txt").read_text() == "text" and (tmp_path / "c.bin").read_bytes() == b"\0bytes"
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_replacing_keeps_the_old_file_when_the_block_fails(tmp_path, error):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(error), atomic.replacing(target) as temporary:
        temporary.write_text("half of the n")
        raise error("stopped half-way")
    assert target.read_text() == "old"
    assert hidden(tmp_path) == []


def test_replacing_keeps_the_old_file_when_the_rename_fails(tmp_path):
    target = tmp_path / "notes"
    target.mkdir()
    (target / "kept.txt").write_text("kept")
    with pytest.raises(IsADirectoryError):
        atomic.write_text(target, "a file cannot replace a folder")
    assert (target / "kept.txt").read_text() == "kept"
    assert hidden(tmp_path) == []


def test_replacing_with_nothing_written_fails_and_changes_nothing(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(FileNotFoundError), atomic.replacing(target):
        pass
    assert target.read_text() == "old" and hidden(tmp_path) == []


def test_replaced_files_get_the_usual_permissions(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic.write_text(tmp_path / "replaced.txt", "x")
    assert (tmp_path / "replaced.txt").stat().st_mode == plain.stat().st_mode  # not mkstemp's owner-only 0600


def test_a_folder_replaces_a_folder_whole(tmp_path):
    target = tmp_path / "parts"
    write_tree(target, {"part-0.txt": "old 0", "part-1.txt": "old 1"})
    with atomic.replacing(target) as temporary:
        write_tree(temporary, {"part-0.txt": "new 0"})
    assert visible_tree(target) == {"part-0.txt": "new 0"}
    with atomic.replacing(tmp_path / "fresh") as temporary:
        write_tree(temporary, {"x.txt": "x"})
    assert visible_tree(tmp_path / "fresh") == {"x.txt": "x"}
    assert hidden(tmp_path) == []


def test_a_folder_that_cannot_go_in_puts_the_old_one_back(tmp_path, monkeypatch):
    target = tmp_path / "parts"
    write_tree(target, {"part-0.txt": "old"})
    real_replace = os.replace

    def refuse_the_new_folder(source, destination):
        if Path(source).name.endswith(atomic.TEMPORARY_SUFFIX):
            raise OSError("disk said no")
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", refuse_the_new_folder)
    with pytest.raises(OSError, match="disk said no"), atomic.replacing(target) as temporary:
        write_tree(temporary, {"part-0.txt": "new"})
    assert visible_tree(target) == {"part-0.txt": "old"}
    assert hidden(tmp_path) == []


def test_a_killed_writer_leaves_the_old_file_and_a_temporary_that_can_be_found(tmp_path):
    target = tmp_path / "a.ipynb"
    target.write_text("old")
    killer = textwrap.dedent("""
        import os, signal, sys
        from pathlib import Path
        from segmentation.core import atomic

        with atomic.replacing(Path(sys.argv[1])) as temporary:
            temporary.write_text("new")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = subprocess.run([sys.executable, "-c", killer, str(target)], env=env, cwd=ROOT, timeout=60, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert target.read_text() == "old"
    left = atomic.temporaries(tmp_path, "*.ipynb")
    assert [p.name for p in left] == hidden(tmp_path) and len(left) == 1
    assert atomic.temporaries(tmp_path, "*.csv") == []
