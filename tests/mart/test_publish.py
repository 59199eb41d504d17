"""The mart is published as one unit, into a folder the project owns, and checked against its manifest.

A real `run` is killed (SIGKILL, by a deterministic hook before each step of the publish, never a timing race) and
the mart must then be wholly the old one or wholly the new one, for a reader and for the next run; files a run no
longer writes go; `validate` never touches the mart; a tampered mart is rebuilt by `run` and refused by readers;
a mart_dir the project does not own, a read-only folder and a full disk are one line and exit code 2.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from segmentation.cli import main
from segmentation.config.params import Params, load_params
from segmentation.core import atomic
from segmentation.core.errors import MartMissingError
from segmentation.dashboard import data as d
from segmentation.mart import pipeline as pipeline_module
from segmentation.mart.pipeline import run
from segmentation.mart.store import CONTACTS, CUSTOMERS, FILES, INSIGHTS, MANIFEST, QUALITY, build_sha256, read_mart
from segmentation.migration import MIGRATION, MIGRATION_JSON, read_migration
from tests.conftest import ROOT, params_copy

# Runs the command line (argv[2:]) in a fresh process that SIGKILLs itself before publish step argv[1] (0: never).
KILLER = textwrap.dedent("""
    import sys
    from segmentation.cli import main
    from tests.kill_hook import kill_at_step

    kill_at_step(int(sys.argv[1]), prefix="STEP ")
    sys.exit(main(sys.argv[2:]))
""")


def cli_killed_at(kill_at: int, *args: str) -> subprocess.CompletedProcess:
    """`python -m segmentation ARGS` in a child process killed before publish step `kill_at` (0: never)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", KILLER, str(kill_at), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def files_of(folder: Path) -> dict[str, bytes]:
    """The visible files of a mart folder (hidden ones are the publisher's lock and leftovers)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.startswith(".") and p.is_file()}


def same_build(found: dict[str, bytes], expected: dict[str, bytes]) -> bool:
    """Equal files; manifests equal but for their timings (two runs of one build differ only there)."""
    if set(found) != set(expected):
        return False
    for name in found:
        if name == MANIFEST:
            left, right = (json.loads(x[name]) for x in (found, expected))
            if {**left, "timings_s": None} != {**right, "timings_s": None}:
                return False
        elif found[name] != expected[name]:
            return False
    return True


def leftovers(folder: Path) -> list[str]:
    """Staging folders and unfinished publishes inside a mart folder, and old-style stagings beside it."""
    inside = [p.name for p in folder.iterdir() if p.name.startswith((atomic.STAGING_PREFIX, atomic.PUBLISHING))]
    beside = [p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}-staging-")]
    return inside + beside


def one_line_error(capsys) -> str:
    """stderr of a command that failed as a user error: exactly one line starting with 'error: '."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


@dataclass(frozen=True)
class Builds:
    """One mart folder and two params files that build it: `old` (file A, with contacts), `new` (file B, without)."""

    mart_dir: Path
    old: Params
    new: Params
    old_files: dict[str, bytes]
    new_files: dict[str, bytes]


@pytest.fixture(scope="module")
def builds(tmp_path_factory, small_csv) -> Builds:
    """The old and the new build of one mart folder, each kept as a copy of its files. Their params files differ, so a
    build of one over the other takes the folder over (`force`)."""
    folder = tmp_path_factory.mktemp("publish")
    mart_dir = folder / "mart"
    fewer = pd.read_csv(small_csv, dtype=str, keep_default_na=False).head(1_500)
    fewer.to_csv(folder / "b.csv", index=False)
    (folder / "old").mkdir()
    (folder / "new").mkdir()
    old = load_params(params_copy(ROOT / "params" / "default.yaml", folder / "old", input=small_csv, mart_dir=mart_dir,
                                  privacy={"export_contacts": True}))
    new = load_params(params_copy(ROOT / "params" / "default.yaml", folder / "new", input=folder / "b.csv",
                                  mart_dir=mart_dir))
    run(new)
    new_files = files_of(mart_dir)
    run(old, force=True)
    return Builds(mart_dir, old, new, files_of(mart_dir), new_files)


def reset_to_old(builds: Builds) -> None:
    """The mart folder holding exactly the old build."""
    shutil.rmtree(builds.mart_dir, ignore_errors=True)
    builds.mart_dir.mkdir()
    for name, data in builds.old_files.items():
        (builds.mart_dir / name).write_bytes(data)


# --- one unit: kills, files a run no longer writes, tampering ---------------------------------------------------


def test_a_run_killed_at_every_publish_step_leaves_the_mart_wholly_old_or_wholly_new(builds: Builds, tmp_path: Path):
    reset_to_old(builds)
    probe = cli_killed_at(0, "run", "--force", "--params", str(builds.new.path))
    assert probe.returncode == 0, probe.stderr
    steps = [line.removeprefix("STEP ") for line in probe.stdout.splitlines() if line.startswith("STEP ")]
    assert steps[0] == "commit" and f"remove {CONTACTS}" in steps and steps[-1] == "done"
    assert [s for s in steps if s.startswith("install")][-1] == f"install {MANIFEST}"  # the manifest goes in last
    assert same_build(files_of(builds.mart_dir), builds.new_files)

    outcomes = []
    for kill_at, step in enumerate(steps, start=1):
        reset_to_old(builds)
        killed = cli_killed_at(kill_at, "run", "--force", "--params", str(builds.new.path))
        assert killed.returncode == -signal.SIGKILL, (step, killed.stderr)

        # a reader finishes the publish first (on a copy: the next run gets the killed state too)
        reader_copy = shutil.copytree(builds.mart_dir, tmp_path / f"reader-{kill_at}")
        mart = read_mart(reader_copy)
        state = files_of(reader_copy)
        assert same_build(state, builds.old_files) or same_build(state, builds.new_files), f"torn after '{step}'"
        outcome = "old" if same_build(state, builds.old_files) else "new"
        assert len(mart.customers) == (2_000 if outcome == "old" else 1_500)
        outcomes.append(outcome)

        # the next run finishes it too, and is "up to date" only when the new build is wholly there (the old one,
        # another params file's, it takes over)
        said: list[str] = []
        result = run(builds.new, force=outcome == "old", progress=said.append)
        assert result.skipped is (outcome == "new"), (step, said)
        assert same_build(files_of(builds.mart_dir), builds.new_files)
        assert not leftovers(builds.mart_dir)  # the run removes the dead staging too; a reader leaves it be
        assert not atomic.interrupted(reader_copy)
    # before the commit rename the old mart stays; from it on, the publish is rolled forward
    assert outcomes == ["old"] + ["new"] * (len(steps) - 1)


def test_contacts_go_when_consent_is_withdrawn(builds: Builds):
    reset_to_old(builds)
    assert CONTACTS in files_of(builds.mart_dir)
    run(builds.new, force=True)
    assert CONTACTS not in files_of(builds.mart_dir)
    assert CONTACTS not in json.loads((builds.mart_dir / MANIFEST).read_text())[FILES]


@pytest.mark.parametrize("tamper", ["customers replaced", "same size, other bytes", "file removed", "file added"])
def test_a_mart_that_no_longer_matches_its_manifest_is_rebuilt_and_refused_by_readers(
        builds: Builds, tmp_path: Path, tamper: str, capsys):
    reset_to_old(builds)
    mart_dir = builds.mart_dir
    if tamper == "customers replaced":  # what a publish killed between two renames left before
        (mart_dir / CUSTOMERS).write_bytes(builds.new_files[CUSTOMERS])
        named = CUSTOMERS
    elif tamper == "same size, other bytes":  # only the hash sees it
        text = (mart_dir / INSIGHTS).read_text()
        (mart_dir / INSIGHTS).write_text(text.replace('"revenue_concentration"', '"revenue_concentratioN"'))
        named = INSIGHTS
    elif tamper == "file removed":
        (mart_dir / QUALITY).unlink()
        named = QUALITY
    else:
        (mart_dir / "notes.txt").write_text("added by hand")
        named = "notes.txt"

    with pytest.raises(MartMissingError) as refused:
        read_mart(mart_dir)
    message = str(refused.value)
    assert named in message and "rebuild it with `make mart`" in message and "\n" not in message
    if tamper != "file removed":  # the dashboard refuses it too (a missing file is the older "no mart here" page)
        with pytest.raises(MartMissingError, match=named):
            d.load_dashboard_data(mart_dir)

    assert main(["run", "--params", str(builds.old.path)]) == 0
    out = capsys.readouterr().out
    assert "up to date" not in out and f"{named} " in out and "rebuilding" in out
    assert same_build(files_of(mart_dir), builds.old_files)  # the hand-added file is gone too
    read_mart(mart_dir)


def test_leftovers_of_killed_runs_are_removed_by_the_next_run(builds: Builds):
    reset_to_old(builds)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    inside = builds.mart_dir / f"{atomic.STAGING_PREFIX}{dead.pid}-abc"
    beside = builds.mart_dir.parent / f".{builds.mart_dir.name}-staging-k3j2x"  # what older versions left
    for folder in (inside, beside):
        folder.mkdir()
        (folder / CUSTOMERS).write_bytes(b"partial")
    said: list[str] = []
    assert run(builds.old, progress=said.append).skipped
    assert not inside.exists() and not beside.exists()


def test_validate_leaves_the_mart_alone_and_writes_a_review_of_its_own(builds: Builds, tmp_path: Path,
                                                                       monkeypatch, capsys):
    reset_to_old(builds)
    other = tmp_path / "other.csv"
    other.write_bytes((builds.new.input_path).read_bytes())
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--params", str(builds.old.path), "--input", str(other)]) == 0
    review = tmp_path / "build" / "validate" / builds.old.name / QUALITY
    assert f"review written to {review.relative_to(tmp_path)}" in capsys.readouterr().out
    assert json.loads(review.read_text())["input"] == str(other)
    assert files_of(builds.mart_dir) == builds.old_files  # not a byte changed
    assert run(builds.old).skipped  # still up to date
    assert main(["validate", "--params", str(builds.old.path), "--out", str(builds.mart_dir)]) == 2
    assert "cannot go into a mart folder" in one_line_error(capsys)


def test_migrate_adds_its_files_to_the_manifest_and_a_rebuild_removes_them(builds: Builds, tmp_path: Path, capsys):
    reset_to_old(builds)
    before = shutil.copytree(builds.mart_dir, tmp_path / "before")
    manifest = json.loads((before / MANIFEST).read_text())
    manifest["reference_date"] = "2000-01-01"  # an earlier snapshot of the same customers
    (before / MANIFEST).write_text(json.dumps(manifest))
    code = main(["migrate", "--before", str(before), "--after", str(builds.mart_dir),
                 "--params", str(builds.old.path)])
    assert code == 0, capsys.readouterr().err

    listed = read_mart(builds.mart_dir).manifest[FILES]
    assert {MIGRATION, MIGRATION_JSON} <= set(listed)
    found = read_migration(builds.mart_dir)
    assert found is not None and found.current
    assert found.info["after"]["build_sha256"] == build_sha256(json.loads((builds.mart_dir / MANIFEST).read_text()))
    assert run(builds.old).skipped  # still whole, still up to date
    assert d.load_dashboard_data(builds.mart_dir).migration is not None

    assert not run(builds.old, force=True).skipped  # a new build: the migration described the old one
    assert not (builds.mart_dir / MIGRATION).exists() and not (builds.mart_dir / MIGRATION_JSON).exists()
    data = d.load_dashboard_data(builds.mart_dir)
    assert data.migration is None and data.migration_note.startswith("No segment migration")


# --- a mart in a folder being read while a killed publish waits --------------------------------------------------


def test_a_reader_that_cannot_finish_an_interrupted_publish_says_so(builds: Builds, monkeypatch):
    reset_to_old(builds)
    killed = cli_killed_at(3, "run", "--force", "--params", str(builds.new.path))  # after the commit, among installs
    assert killed.returncode == -signal.SIGKILL
    assert atomic.interrupted(builds.mart_dir)

    def refuse(_target):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(atomic, "recover", refuse)
    with pytest.raises(MartMissingError) as refused:
        read_mart(builds.mart_dir)
    message = str(refused.value)
    assert "half-way through a publish" in message and "Permission denied" in message and "\n" not in message
    monkeypatch.undo()
    assert same_build(files_of(builds.mart_dir), builds.old_files) is False  # torn on disk until recovered …
    assert len(read_mart(builds.mart_dir).customers) == 1_500  # … and whole once a reader finishes it
    assert same_build(files_of(builds.mart_dir), builds.new_files)


# --- mart_dir must be a folder the project owns ------------------------------------------------------------------


def _stop_work(*_args, **_kwargs):
    raise AssertionError("the work started before mart_dir was checked")


@pytest.mark.parametrize("case", ["a file", "empty string", "dot", "root", "project folder", "holds other files",
                                  "holds the input"])
@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_mart_dir_the_project_does_not_own_is_refused_before_any_work(
        tmp_path: Path, small_csv: Path, monkeypatch, capsys, case: str, command: str):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("not a mart")
    monkeypatch.chdir(work)  # "" and "." are the working folder
    monkeypatch.setattr(pipeline_module, "connect", _stop_work)  # nothing is read, nothing is written
    input_path = small_csv
    if case == "a file":
        mart_dir, named = work / "notes.txt", "is a file"
    elif case == "empty string":
        mart_dir, named = "", "is the working folder"
    elif case == "dot":
        mart_dir, named = ".", "is the working folder"
    elif case == "root":
        mart_dir, named = "/", "is a file system root"
    elif case == "project folder":
        mart_dir, named = ROOT, "is the project folder"
    elif case == "holds other files":
        mart_dir, named = tmp_path / "shared", "holds other files (e.g. plan.docx) and no mart manifest"
        mart_dir.mkdir()
        (mart_dir / "plan.docx").write_text("someone's")
    else:
        mart_dir = tmp_path / "data"  # a mart an older version published beside its input
        mart_dir.mkdir()
        (mart_dir / MANIFEST).write_text(json.dumps({"schema_version": 1, "params": {"name": "default"}}))
        input_path = Path(shutil.copy(small_csv, mart_dir / "customers.csv"))
        named = f"holds {input_path}, which publishing a mart would delete"
    params = params_copy(ROOT / "params" / "default.yaml", tmp_path, input=input_path, mart_dir=mart_dir)
    before = sorted(p.name for p in work.iterdir())

    assert main([command, "--params", str(params)]) == 2
    err = one_line_error(capsys)
    assert named in err and "set mart_dir in the params file to a folder of its own" in err
    assert sorted(p.name for p in work.iterdir()) == before


def test_migrate_refuses_an_after_folder_the_project_does_not_own(builds: Builds, tmp_path: Path, monkeypatch,
                                                                  capsys):
    reset_to_old(builds)
    monkeypatch.chdir(tmp_path)
    code = main(["migrate", "--before", str(builds.mart_dir), "--after", str(ROOT), "--params", str(builds.old.path)])
    assert code == 2
    err = one_line_error(capsys)
    assert f"{ROOT}: the mart folder is the project folder; pass a mart folder" in err


def test_an_empty_folder_and_a_new_one_are_fine(tmp_path: Path, small_csv: Path):
    (tmp_path / "empty").mkdir()
    for name in ("empty", "new/deeper"):
        params = load_params(params_copy(ROOT / "params" / "default.yaml", tmp_path, input=small_csv,
                                         mart_dir=tmp_path / name))
        run(params)
        read_mart(tmp_path / name)


# --- read-only folders and full disks: one line, exit 2, the previous mart intact -------------------------------


def _no_space(path, payload):
    if Path(path).name == INSIGHTS:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return _write_json(path, payload)


_write_json = pipeline_module.write_json


def test_a_full_disk_while_publishing_is_one_line_and_keeps_the_previous_mart(builds: Builds, monkeypatch, capsys):
    reset_to_old(builds)
    monkeypatch.setattr(pipeline_module, "write_json", _no_space)
    assert main(["run", "--force", "--params", str(builds.old.path)]) == 2
    err = one_line_error(capsys)
    assert f"{builds.mart_dir}: cannot publish the mart: No space left on device (the previous mart is unchanged)" \
        in err
    assert files_of(builds.mart_dir) == builds.old_files and not leftovers(builds.mart_dir)


def test_a_refused_rename_is_one_line_and_keeps_the_previous_mart(builds: Builds, monkeypatch, capsys):
    reset_to_old(builds)
    real_replace = os.replace

    def refuse(src, dst):
        if Path(dst).parent == builds.mart_dir:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", refuse)
    assert main(["run", "--force", "--params", str(builds.new.path)]) == 2
    monkeypatch.undo()
    assert "cannot publish the mart: Permission denied (the previous mart is unchanged)" in one_line_error(capsys)
    assert files_of(builds.mart_dir) == builds.old_files and not leftovers(builds.mart_dir)


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs mounted at `where` for the block; the test is skipped where mounting is not allowed."""
    where.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount")
    done = subprocess.run([mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True,
                          text=True) if mount else None
    if done is None or done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() if done else 'no mount command'})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _remount_read_only(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)


def test_a_mart_folder_that_is_its_own_mount_point_is_published_into(tmp_path: Path, small_csv: Path):
    params = load_params(params_copy(ROOT / "params" / "default.yaml", tmp_path, input=small_csv,
                                     mart_dir=tmp_path / "mart"))
    with tmpfs(tmp_path / "mart", "8m"):
        assert not run(params).skipped
        assert not run(params, force=True).skipped  # replacing a mart works there too
        assert len(read_mart(params.mart_dir).customers) == 2_000


def test_a_real_full_disk_keeps_the_previous_mart(tmp_path: Path, small_csv: Path, capsys):
    with tmpfs(tmp_path / "fs", "1m") as fs:
        params = params_copy(ROOT / "params" / "default.yaml", tmp_path, input=small_csv, mart_dir=fs / "mart")
        assert main(["run", "--params", str(params)]) == 0
        built = files_of(fs / "mart")
        stat = os.statvfs(fs)
        (fs / "filler").write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - 40_000))  # leave 40 kB
        capsys.readouterr()
        assert main(["run", "--force", "--params", str(params)]) == 2
        err = one_line_error(capsys)
        assert "cannot publish the mart: No space left on device (the previous mart is unchanged)" in err
        assert files_of(fs / "mart") == built and not leftovers(fs / "mart")


def test_a_read_only_mart_folder_or_parent_is_one_line_before_any_work(tmp_path: Path, small_csv: Path,
                                                                        monkeypatch, capsys):
    with tmpfs(tmp_path / "fs", "4m") as fs:
        params = params_copy(ROOT / "params" / "default.yaml", tmp_path, input=small_csv, mart_dir=fs / "mart")
        assert main(["run", "--params", str(params)]) == 0
        built = files_of(fs / "mart")
        _remount_read_only(fs)
        capsys.readouterr()
        assert main(["run", "--params", str(params)]) == 0  # an intact mart is still up to date
        assert "up to date" in capsys.readouterr().out
        read_mart(fs / "mart")  # and readable

        monkeypatch.setattr(pipeline_module, "connect", _stop_work)
        assert main(["run", "--force", "--params", str(params)]) == 2
        err = one_line_error(capsys)
        assert f"{fs / 'mart'}: cannot publish the mart: Read-only file system" in err
        assert "the previous mart is unchanged" in err
        assert files_of(fs / "mart") == built

        elsewhere = params_copy(ROOT / "params" / "default.yaml", tmp_path, input=small_csv, mart_dir=fs / "new")
        assert main(["run", "--params", str(elsewhere)]) == 2
        err = one_line_error(capsys)
        assert f"{fs / 'new'}: cannot publish the mart: Read-only file system" in err and "nothing was published" in err
