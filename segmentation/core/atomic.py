"""All-or-nothing publishing of files and folders into a target folder, safe against errors, signals and kills.

Entries are staged in a hidden folder inside the target, so every rename stays on the target's filesystem (a
target that is its own mount point works). The publish is decided by ONE rename: the finished staging folder,
carrying its plan (what to install, what to remove), becomes `<target>/.publishing`. Installing then takes
several renames; a kill among them leaves `.publishing` behind, and whoever touches the target next (the next
run, or a reader through `recover`) rolls it forward to the end. So the target is always either wholly as it
was before or wholly as published, once recovered. A staging folder that was never committed belongs to a run
that died before deciding: it is thrown away.

One file (or folder) outside such a target is replaced with `replacing`: written at a temporary name beside it,
then renamed over it in one step.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

PUBLISHING = ".publishing"
STAGING_PREFIX = ".staging-"
LOCK = ".publish.lock"
PLAN = "plan.json"  # inside .publishing: names only, never data
TRASH = "trash"  # inside .publishing: replaced folders wait here until the publish is complete
TEMPORARY_SUFFIX = ".tmp"  # `replacing` writes `.<name>.<token>.tmp` beside its target

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
            _fsync(target)
            _roll_forward(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; when the block ends without error, what the block wrote there
    replaces `target` in one rename, so a reader sees the old file or the new one, never a part of either.

    The block writes a file (or makes a folder) at the yielded path; it is flushed to disk before the rename. On
    error `target` is left as it was and the temporary is removed; a killed process leaves only the hidden
    temporary (see `temporaries`). A folder that replaces a folder moves the old one aside first (a rename cannot
    replace a non-empty folder), so a kill between those two renames leaves `.<name>.<token>.old` instead.
    """
    target = Path(target)
    token = uuid.uuid4().hex[:16]
    temporary = target.with_name(f".{target.name}.{token}{TEMPORARY_SUFFIX}")
    try:
        yield temporary
        _fsync_tree(temporary)
        if temporary.is_dir() and os.path.lexists(target):
            _replace_folder(temporary, target, target.with_name(f".{target.name}.{token}.old"))
        else:
            os.replace(temporary, target)
        _fsync(target.parent)
    finally:
        if os.path.lexists(temporary):
            _delete(temporary)


def write_bytes(target: Path, data: bytes) -> None:
    """Replace `target` with a file holding `data`, all at once (see `replacing`)."""
    with replacing(target) as temporary:
        temporary.write_bytes(data)


def write_text(target: Path, text: str, encoding: str = "utf-8") -> None:
    """Replace `target` with a file holding `text`, all at once (see `replacing`)."""
    with replacing(target) as temporary:
        temporary.write_text(text, encoding=encoding)


def temporaries(folder: Path, pattern: str = "*") -> list[Path]:
    """The temporaries `replacing` left in `folder` (its process was killed) for targets whose names match
    `pattern`."""
    return sorted(folder.glob(f".{pattern}.*{TEMPORARY_SUFFIX}"))


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
    _fsync(target)
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


def _replace_folder(new: Path, target: Path, aside: Path) -> None:
    """Put folder `new` in place of `target`: the old entry moves aside, and back if the second rename fails."""
    os.replace(target, aside)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(aside, target)
        raise
    _delete(aside)


def _fsync_tree(path: Path) -> None:
    """Flush a file, or every file and folder under a folder, to disk."""
    if not path.is_dir():
        _fsync(path)
        return
    for folder, _folders, files in os.walk(path):
        for name in files:
            _fsync(Path(folder, name))
        _fsync(Path(folder))


def _write_synced(path: Path, text: str) -> None:
    """Write a small file and flush it to disk before it becomes part of a commit."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync(path: Path) -> None:
    """Flush a file's data, or a folder's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _step(label: str) -> None:
    """Give the test hook its chance before a change to the target."""
    if step_hook is not None:
        step_hook(label)
