"""All-or-nothing publishing of files and folders into a target folder, safe against errors, signals and kills.

Entries are staged in a hidden folder inside the target, so every rename stays on the target's filesystem (a
target that is its own mount point works). The publish is decided by ONE rename: the finished staging folder,
carrying its plan (what to install, what to remove), becomes `<target>/.publishing`. Installing then takes
several renames; a kill among them leaves `.publishing` behind, and whoever touches the target next (the next
run, or a reader through `recover`) rolls it forward to the end. So the target is always either wholly as it
was before or wholly as published, once recovered. A staging folder that was never committed belongs to a run
that died before deciding: it is thrown away.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

PUBLISHING = ".publishing"
STAGING_PREFIX = ".staging-"
LOCK = ".publish.lock"
PLAN = "plan.json"  # inside .publishing: names only, never data
TRASH = "trash"  # inside .publishing: replaced folders wait here until the publish is complete

# Tests set this to a function that is called with a label before every change to the target ("commit",
# "install NAME", "trash NAME", "remove NAME", "done"); it may kill the process to show a kill there is survived.
step_hook: Callable[[str], None] | None = None


@contextmanager
def publishing(target: Path, *, replace_all: bool = False, remove: Iterable[str] = (),
               last: Iterable[str] = ()) -> Iterator[Path]:
    """Yield an empty staging folder inside `target`; when the block ends without error, publish what it holds.

    Every entry written into the staging folder replaces the target's entry of the same name. `replace_all`
    also removes the target's visible entries the staging folder does not hold (a file a run no longer writes
    must not outlive it); `remove` names further entries to delete. Entries named in `last` are installed
    after the others (a manifest, so a reader that sees it sees the rest). On error nothing in the target
    changes and the staging folder is removed.
    """
    target.mkdir(parents=True, exist_ok=True)
    recover(target)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=target))
    try:
        yield staging
        finals = set(last)
        names = sorted(p.name for p in staging.iterdir())
        order = [n for n in names if n not in finals] + [n for n in names if n in finals]
        with _locked(target):
            _roll_forward(target)  # another run may have committed while this one staged
            doomed = set(remove)
            if replace_all:
                doomed |= {p.name for p in target.iterdir() if not p.name.startswith(".")}
            plan = {"install": order, "remove": sorted(doomed - set(names))}
            _write_synced(staging / PLAN, json.dumps(plan))
            _step("commit")
            os.replace(staging, target / PUBLISHING)
            _fsync_dir(target)
            _roll_forward(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def recover(target: Path) -> bool:
    """Finish a publish a killed run committed, and remove stagings of runs that are gone; True if one finished."""
    if not target.is_dir():
        return False
    with _locked(target):
        finished = _roll_forward(target)
        for leftover in target.glob(f"{STAGING_PREFIX}*"):
            if not _owner_alive(leftover.name):
                shutil.rmtree(leftover, ignore_errors=True)
    return finished


def interrupted(target: Path) -> bool:
    """True while `target` holds a committed publish that is not installed yet (a reader should not trust it)."""
    return (target / PUBLISHING).is_dir()


def _roll_forward(target: Path) -> bool:
    """Install a committed publish (idempotent: each step checks whether it already happened)."""
    pending = target / PUBLISHING
    if not pending.is_dir():
        return False
    plan = json.loads((pending / PLAN).read_text(encoding="utf-8"))
    trash = pending / TRASH
    for name in plan["install"]:
        new, old = pending / name, target / name
        if not os.path.lexists(new):
            continue  # installed before a kill
        if os.path.lexists(old) and (new.is_dir() or old.is_dir()) and not old.is_symlink():
            trash.mkdir(exist_ok=True)
            _step(f"trash {name}")
            shutil.rmtree(trash / name, ignore_errors=True)
            os.replace(old, trash / name)  # a folder cannot be renamed over another
        _step(f"install {name}")
        os.replace(new, old)
    for name in plan["remove"]:
        doomed = target / name
        if os.path.lexists(doomed):
            _step(f"remove {name}")
            _delete(doomed)
    _fsync_dir(target)
    _step("done")
    shutil.rmtree(pending)
    return True


@contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Hold the target's publish lock (two runs never install into one target at once)."""
    with open(target / LOCK, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _owner_alive(staging_name: str) -> bool:
    """True when the process that made a staging folder still runs (its pid is part of the name)."""
    pid_text = staging_name.removeprefix(STAGING_PREFIX).split("-", 1)[0]
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _delete(path: Path) -> None:
    """Remove a file, link or folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _write_synced(path: Path, text: str) -> None:
    """Write a small file and flush it to disk before it becomes part of a commit."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    """Flush a folder's entries (renames) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _step(label: str) -> None:
    """Give the test hook its chance before a change to the target."""
    if step_hook is not None:
        step_hook(label)
