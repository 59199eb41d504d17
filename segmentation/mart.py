"""The mart folder: its file names, schema version, atomic publishing, and a reader for downstream users."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from segmentation.errors import MartMissingError

SCHEMA_VERSION = 1
CUSTOMERS = "customer_segments.parquet"
SUMMARY = "segment_summary.parquet"
INSIGHTS = "insights.json"
QUALITY = "data_quality.json"
MANIFEST = "manifest.json"
CONTACTS = "customer_contacts.parquet"
MART_FILES = (CUSTOMERS, SUMMARY, INSIGHTS, QUALITY, MANIFEST)


@dataclass(frozen=True)
class Mart:
    """A built mart, loaded: customers and summary as DataFrames, the JSON files as dicts."""

    path: Path
    customers: pd.DataFrame
    summary: pd.DataFrame
    insights: dict[str, Any]
    quality: dict[str, Any]
    manifest: dict[str, Any]


def read_mart(mart_dir: str | Path, *, build_hint: str = "make mart") -> Mart:
    """Load every mart file, or say which command builds the mart when it is missing or from an older schema."""
    mart_dir = Path(mart_dir)
    missing = [name for name in MART_FILES if not (mart_dir / name).is_file()]
    if missing:
        raise MartMissingError(f"{mart_dir}: no mart here (missing {', '.join(missing)}); build it with `{build_hint}`")
    manifest = _read_json(mart_dir / MANIFEST)
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise MartMissingError(
            f"{mart_dir}: mart schema version {version} is not the current {SCHEMA_VERSION}; rebuild it with `{build_hint}`"
        )
    return Mart(
        path=mart_dir,
        customers=pd.read_parquet(mart_dir / CUSTOMERS),
        summary=pd.read_parquet(mart_dir / SUMMARY),
        insights=_read_json(mart_dir / INSIGHTS),
        quality=_read_json(mart_dir / QUALITY),
        manifest=manifest,
    )


@contextmanager
def publish(mart_dir: Path) -> Iterator[Path]:
    """Yield a staging folder beside `mart_dir`; on success move its files into `mart_dir`, on error leave all as it was."""
    mart_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{mart_dir.name}-staging-", dir=mart_dir.parent))
    try:
        yield staging
        mart_dir.mkdir(parents=True, exist_ok=True)
        # manifest last: a reader that sees the new manifest sees the new data files too
        names = sorted(p.name for p in staging.iterdir())
        names.sort(key=lambda n: n == MANIFEST)
        for name in names:
            os.replace(staging / name, mart_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON the same way every time (sorted keys, fixed indentation) so reruns are byte-identical."""
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON file as a dict."""
    return json.loads(path.read_text(encoding="utf-8"))
