"""The mart folder: its file names, schema version, ownership, all-or-nothing publishing, and a checked reader.

A mart is published as one unit through `segmentation.core.atomic`: every file of a build is staged inside the mart
folder and the publish is decided by one rename, so the folder is wholly the previous mart or wholly the new one
(a killed publish is finished by whoever touches the folder next). The manifest, installed last, lists every
other file with its size and SHA-256; `run` rebuilds a mart whose files do not match it, and `read_mart` refuses
one. Files a build no longer writes (contacts after consent was withdrawn, a migration of an older build) go.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from segmentation.core import atomic
from segmentation.core.errors import MartFolderError, MartMissingError, SegmentationError

# 2: the manifest lists every file with its size and sha256; 3: numbers only, no sentences (key traits as numbers in
# the summary, insights without title and sentence, data-quality checks without their action text); 4: the manifest
# records the currency of every amount (`currency`, an ISO 4217 code), which the report and the dashboard show;
# 5: the orders review states its returns (data_quality.json's orders.returns) and the attributes taken from the
# orders
SCHEMA_VERSION = 5
CUSTOMERS = "customer_segments.parquet"
SUMMARY = "segment_summary.parquet"
INSIGHTS = "insights.json"
QUALITY = "data_quality.json"
MANIFEST = "manifest.json"
CONTACTS = "customer_contacts.parquet"
MIGRATION = "segment_migration.parquet"
MIGRATION_JSON = "migration.json"
MART_FILES = (CUSTOMERS, SUMMARY, INSIGHTS, QUALITY, MANIFEST)  # every mart has these
# in the manifest's `params`: the params file that built the mart, found wherever it runs (see owner_record)
OWNER_FILE, OWNER_FROM_MART = "file", "path_from_mart"
FILES = "files"  # the manifest's list of the mart's other files: {name: {"bytes": n, "sha256": hex}}
BUILD_HINT = "make mart"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the package: the checkout, run from one
FIX_MART_DIR = "set mart_dir in the params file to a folder of its own (one that does not exist yet, e.g. data/mart)"
_READ_ATTEMPTS = 3


@dataclass(frozen=True)
class Mart:
    """A built mart, loaded: customers and summary as DataFrames, the JSON files as dicts."""

    path: Path
    customers: pd.DataFrame
    summary: pd.DataFrame
    insights: dict[str, Any]
    quality: dict[str, Any]
    manifest: dict[str, Any]


def read_mart(mart_dir: str | Path, *, build_hint: str = BUILD_HINT) -> Mart:
    """Load every mart file, after checking that the folder holds exactly the files its manifest lists.

    A publish a killed run left half-installed is finished first (or, without write access, refused in one line).
    Every listed file's size is checked, and the SHA-256 of every file, which costs about as much again as reading
    the mart from the page cache (docs/mart.md). Raises MartMissingError naming `build_hint` when the mart is
    missing, from an older schema, or does not match its manifest.
    """
    mart_dir = Path(mart_dir)
    for _attempt in range(_READ_ATTEMPTS):
        stamp, manifest, problem = _checked_manifest(mart_dir, build_hint)
        mart = None if problem else _load(mart_dir, manifest)
        # a publish that ran while this one read changes the manifest (installed last) or leaves .publishing
        if _read_bytes(mart_dir / MANIFEST) == stamp and not atomic.interrupted(mart_dir):
            if problem:
                raise MartMissingError(f"{mart_dir}: {problem}, so the mart does not match its manifest; "
                                       f"rebuild it with `{build_hint}`")
            return mart
    raise MartMissingError(f"{mart_dir}: the mart changed while it was being read (a run is publishing it); try again")


def mismatch(mart_dir: Path, manifest: dict[str, Any], *, hashes: bool = True) -> str | None:
    """Why the folder does not hold exactly the files the manifest lists (sizes, then hashes), or None if it does."""
    listed = manifest.get(FILES)
    if not isinstance(listed, dict):
        return f"{MANIFEST} lists no files (it was written by an older version)"
    present = {p.name: p for p in mart_dir.iterdir() if not p.name.startswith(".") and p.name != MANIFEST}
    for name, entry in sorted(listed.items()):
        path = present.get(name)
        if path is None or not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if size != entry.get("bytes"):
            return f"{name} has changed since the build ({size:,} bytes, the manifest says {entry.get('bytes')})"
    extra = sorted(set(present) - set(listed))
    if extra:
        return f"{extra[0]} is not part of the build (added by hand?)"
    if hashes:
        for name, entry in sorted(listed.items()):
            if file_sha256(present[name]) != entry.get("sha256"):
                return f"{name} has changed since the build (its SHA-256 is not the manifest's)"
    return None


def build_sha256(manifest: dict[str, Any]) -> str:
    """Identity of the build a manifest describes: its hash without the file list (which `migrate` extends)."""
    build = {k: v for k, v in manifest.items() if k != FILES}
    return hashlib.sha256(json.dumps(build, sort_keys=True, default=str).encode()).hexdigest()


def check_mart_dir(mart_dir: Path, *, keep: Iterable[Path | None] = (), params_path: Path | None = None,
                   fix: str = FIX_MART_DIR) -> None:
    """Refuse, in one line naming the folder and the fix, a `mart_dir` this project does not own.

    Owned: a folder that does not exist yet, is empty (publish leftovers aside), or holds a mart manifest. Never
    owned, whatever they hold: a file system root, the working folder, the project folder, an ancestor of
    either, the home folder, or a folder that holds one of `keep` (the params file, the input): publishing a mart
    replaces everything in its folder.
    """
    path = Path(mart_dir)
    where = f" (mart_dir of {params_path})" if params_path is not None else ""
    try:
        resolved = path.resolve()
        if resolved == Path(resolved.anchor):
            raise MartFolderError(f"{path}: the mart folder{where} is a file system root; {fix}")
        for label, special in (("the working folder", Path.cwd()), ("the project folder", PROJECT_ROOT),
                               ("the home folder", Path(os.path.expanduser("~")))):
            special = special.resolve()
            if resolved == special or resolved in special.parents:
                what = label if resolved == special else f"a folder that holds {label} {special}"
                raise MartFolderError(f"{path}: the mart folder{where} is {what}; {fix}")
        for kept in keep:
            if kept is not None and (kept.resolve() == resolved or resolved in kept.resolve().parents):
                raise MartFolderError(f"{path}: the mart folder{where} holds {kept}, which publishing a mart would "
                                      f"delete; {fix}")
        if not path.exists() and not path.is_symlink():
            return
        if not path.is_dir():
            raise MartFolderError(f"{path}: the mart folder{where} is a file, not a folder; {fix}")
        foreign = sorted(p.name for p in path.iterdir() if not _publish_leftover(p.name))
    except OSError as exc:
        raise MartFolderError(f"{path}: cannot use the mart folder{where}: {_reason(exc)}") from exc
    if not foreign:
        return
    if not _holds_manifest(path):
        raise MartFolderError(f"{path}: the mart folder{where} holds other files (e.g. {foreign[0]}) and no mart "
                              f"manifest; {fix}, or empty this one")
    folders = [name for name in foreign if not name.startswith(".") and (path / name).is_dir()]
    if folders:
        raise MartFolderError(f"{path}: the mart folder{where} holds a folder, {folders[0]}, which a mart never "
                              f"has; move it out (publishing would delete it)")


def owner_record(params_path: Path, mart_dir: Path) -> dict[str, str]:
    """How a mart records the params file that owns it, besides the path as given: the file's absolute path, and
    its path relative to the mart folder (both resolved). A mart belongs to a params file while either still
    matches: a copied mart folder keeps the first, a moved project the second."""
    params_file, folder = Path(params_path).resolve(), Path(mart_dir).resolve()
    return {OWNER_FILE: str(params_file), OWNER_FROM_MART: Path(os.path.relpath(params_file, folder)).as_posix()}


def other_owner(manifest: dict[str, Any] | None, params_path: Path, mart_dir: Path) -> str | None:
    """The params file that built the mart in `mart_dir` when it is not `params_path` (None when it is, or when
    there is no mart). A mart from before the record is told apart by the params file's name."""
    recorded = (manifest or {}).get("params")
    if not isinstance(recorded, dict):
        return None
    if OWNER_FILE not in recorded:
        name = recorded.get("name")
        return None if not isinstance(name, str) or name == Path(params_path).stem else str(recorded.get("path"))
    ours = owner_record(params_path, mart_dir)
    if any(recorded.get(key) == ours[key] for key in ours):
        return None
    given = recorded.get("path")
    # the path as given when it still names that file from here; else the absolute one
    same = isinstance(given, str) and str(Path(given).resolve()) == recorded[OWNER_FILE]
    return given if same else str(recorded[OWNER_FILE])


def check_owner(manifest: dict[str, Any] | None, params_path: Path, mart_dir: Path, *,
                own_folder: Path | None = None) -> None:
    """Refuse, in one line naming both params files, to build over a mart another params file built.

    `own_folder`, when given, is where `params_path`'s mart goes without `mart_dir` (named after the file).
    """
    other = other_owner(manifest, params_path, mart_dir)
    if other is None:
        return
    default = f" (left out, it is {own_folder})" if own_folder is not None else ""
    raise MartFolderError(
        f"{mart_dir}: holds the mart of {other}, not of {params_path}; give {params_path} a mart_dir of its "
        f"own{default}, or add --force to take this folder over (replacing the mart of {other})"
    )


def settle(mart_dir: Path) -> None:
    """Before a build: finish a publish a killed run committed, and remove the stagings killed runs left, inside
    the mart folder and (from older versions) beside it as `.<mart>-staging-*`."""
    try:
        # only when there is something to do: an intact mart on a read-only folder can still be found up to date
        if mart_dir.is_dir() and any(p.name == atomic.PUBLISHING or p.name.startswith(atomic.STAGING_PREFIX)
                                     for p in mart_dir.iterdir()):
            atomic.recover(mart_dir)
        prefix = f".{mart_dir.name}-staging-"
        if mart_dir.parent.is_dir():
            for leftover in mart_dir.parent.iterdir():
                if leftover.name.startswith(prefix) and leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover)
    except OSError as exc:
        raise MartFolderError(f"{mart_dir}: cannot finish an interrupted publish or remove what killed runs left "
                              f"there: {_reason(exc)}") from exc


@contextmanager
def publishing(mart_dir: Path, *, amend: bool = False) -> Iterator[Path]:
    """Yield a staging folder inside `mart_dir`; when the block ends without error, publish it as one unit.

    A build (default) stages every file, its manifest included, and replaces the whole mart: files it did not
    write go. With `amend`, the staged files are added to the existing mart (replacing files of the same name)
    and the manifest is rewritten to list them (a staged manifest.json replaces the mart's). Either way the
    manifest gets the size and SHA-256 of every other file, and is installed last.

    An OSError (read-only folder, full disk) becomes a MartFolderError naming the folder and the reason; the
    previous mart stays as it was (or, when the error came after the commit, the next run finishes the publish).
    """
    base = _verified_manifest(mart_dir) if amend else None
    try:
        with atomic.publishing(mart_dir, replace_all=not amend, last=[MANIFEST]) as staging:
            yield staging
            _seal(staging, base)
    except Exception as exc:
        reason = None if isinstance(exc, SegmentationError) else _os_reason(exc)
        if reason is None:
            raise
        state = _state_after_failure(mart_dir)
        raise MartFolderError(f"{mart_dir}: cannot publish the mart: {reason} ({state})") from exc


def check_writable(mart_dir: Path) -> None:
    """Before the work of a build: refuse, in one line, a mart folder (or the folder it would be made in) that
    cannot be written (read-only file system, no permission). A full disk only shows while publishing."""
    nearest = next((p for p in (mart_dir, *mart_dir.parents) if p.is_dir()), None)
    if nearest is None or os.access(nearest, os.W_OK):
        return
    read_only = bool(os.statvfs(nearest).f_flag & os.ST_RDONLY)
    reason = os.strerror(errno.EROFS if read_only else errno.EACCES)
    where = "" if nearest == mart_dir else f" in {nearest}"
    raise MartFolderError(f"{mart_dir}: cannot publish the mart: {reason}{where} ({_state_after_failure(mart_dir)})")


def _state_after_failure(mart_dir: Path) -> str:
    """What a failed publish left: the previous mart, nothing, or a committed publish the next run finishes."""
    if atomic.interrupted(mart_dir):
        return "the publish was committed; the next run or reader finishes it"
    return "the previous mart is unchanged" if (mart_dir / MANIFEST).is_file() else "nothing was published"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON the same way every time (sorted keys, fixed indentation) so reruns are byte-identical."""
    text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    path.write_text(text + "\n", encoding="utf-8")


def _load(mart_dir: Path, manifest: dict[str, Any]) -> Mart:
    """The mart's files, read."""
    return Mart(
        path=mart_dir,
        customers=pd.read_parquet(mart_dir / CUSTOMERS),
        summary=pd.read_parquet(mart_dir / SUMMARY),
        insights=_read_json(mart_dir / INSIGHTS),
        quality=_read_json(mart_dir / QUALITY),
        manifest=manifest,
    )


def _finish_interrupted(mart_dir: Path, build_hint: str) -> None:
    """Roll forward a publish that a killed run committed (or wait for a live one); say so if it cannot be."""
    if not atomic.interrupted(mart_dir):
        return
    try:
        atomic.recover(mart_dir)
    except OSError as exc:
        raise MartMissingError(
            f"{mart_dir}: the mart is half-way through a publish ({atomic.PUBLISHING} is there) and this process "
            f"cannot finish it: {_reason(exc)}; run `{build_hint}` as a user who can write to that folder") from exc


def _checked_manifest(mart_dir: Path, build_hint: str) -> tuple[bytes, dict[str, Any], str | None]:
    """A mart's manifest (its bytes and parsed), after finishing an interrupted publish and checking the schema
    version, and why the folder does not match it (None when it does)."""
    _finish_interrupted(mart_dir, build_hint)
    missing = [name for name in MART_FILES if not (mart_dir / name).is_file()]
    if MANIFEST in missing:  # with a manifest, a missing file is a mart that does not match it (below)
        raise MartMissingError(f"{mart_dir}: no mart here (missing {', '.join(missing)}); build it with `{build_hint}`")
    stamp = _read_bytes(mart_dir / MANIFEST)
    manifest = _parse_manifest(mart_dir, stamp, build_hint)
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise MartMissingError(f"{mart_dir}: mart schema version {version} is not the current {SCHEMA_VERSION}; "
                               f"rebuild it with `{build_hint}`")
    return stamp, manifest, mismatch(mart_dir, manifest)


def _verified_manifest(mart_dir: Path) -> dict[str, Any]:
    """The manifest of an existing mart whose files match it (the base `publishing(amend=True)` extends)."""
    _stamp, manifest, problem = _checked_manifest(mart_dir, BUILD_HINT)
    if problem:
        raise MartMissingError(f"{mart_dir}: {problem}, so the mart does not match its manifest; "
                               f"rebuild it with `{BUILD_HINT}`")
    return manifest


def _seal(staging: Path, base: dict[str, Any] | None) -> None:
    """Write the staged manifest (or the amended base) with the size and SHA-256 of every other file in the mart."""
    staged = staging / MANIFEST
    if staged.is_file():
        manifest = _read_json(staged)
    elif base is not None:
        manifest = dict(base)
    else:
        raise RuntimeError(f"{staging}: a mart build must write {MANIFEST}")
    files = dict(base.get(FILES, {})) if base is not None else {}
    for path in sorted(staging.iterdir()):
        if path.name == MANIFEST:
            continue
        if not path.is_file():
            raise RuntimeError(f"{path}: a mart holds files only")
        files[path.name] = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
    manifest[FILES] = dict(sorted(files.items()))
    write_json(staged, manifest)


def _holds_manifest(folder: Path) -> bool:
    """True when a folder holds a mart's manifest (any schema version), or is half-way through publishing one."""
    for candidate in (folder / MANIFEST, folder / atomic.PUBLISHING / MANIFEST):
        try:
            found = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(found, dict) and "schema_version" in found and "params" in found:
            return True
    return False


def _publish_leftover(name: str) -> bool:
    """Entries `segmentation.core.atomic` keeps in a folder it publishes into (lock, stagings, an unfinished
    publish)."""
    return name in (atomic.LOCK, atomic.PUBLISHING) or name.startswith(atomic.STAGING_PREFIX)


_OS_REASONS = {code: os.strerror(code) for code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES,
                                                      errno.EPERM, errno.EIO, errno.EXDEV)}


def _os_reason(exc: BaseException) -> str | None:
    """The operating system's reason when an error is an OSError, or an engine's I/O error that quotes one
    (DuckDB raises its own IOException for a full disk); None for anything else."""
    if isinstance(exc, OSError):
        return _reason(exc)
    text = str(exc)
    return next((reason for reason in _OS_REASONS.values() if reason in text), None)


def _reason(exc: OSError) -> str:
    """An OSError's reason without the Python decoration: 'No space left on device', 'Read-only file system'."""
    return exc.strerror or str(exc)


def _parse_manifest(mart_dir: Path, text: bytes | None, build_hint: str) -> dict[str, Any]:
    """The manifest as a dict, or a one-line error naming the build command."""
    try:
        manifest = json.loads(text)
    except (TypeError, ValueError):
        manifest = None
    if not isinstance(manifest, dict):
        raise MartMissingError(f"{mart_dir / MANIFEST}: not a mart manifest (not a JSON object); "
                               f"rebuild the mart with `{build_hint}`")
    return manifest


def _read_bytes(path: Path) -> bytes | None:
    """A file's bytes, or None when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON file as a dict."""
    return json.loads(path.read_text(encoding="utf-8"))
