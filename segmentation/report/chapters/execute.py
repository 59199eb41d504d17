"""Executing a report's chapters: those whose cache key changed run on the process pool, the rest are reused."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from segmentation.config.params import Params
from segmentation.report.chapters.keys import chapter_key, inputs_digest
from segmentation.report.chapters.notebooks import remove_stale, stored_key
from segmentation.report.chapters.plan import Chapter
from segmentation.report.chapters.pool import remove_dead_runtime_dirs, run_chapters


@dataclass(frozen=True)
class ChapterRun:
    """What happened to one chapter in a build: where its notebook is, whether it ran, and how long it took."""

    chapter: Chapter
    notebook: Path
    key: str
    executed: bool
    seconds: float


def execute_chapters(
    chapters: list[Chapter],
    *,
    params: Params,
    mart_dir: Path,
    out_dir: Path,
    jobs: int | None = None,
    progress: Callable[[str], None] = print,
) -> list[ChapterRun]:
    """Execute the chapters whose cache key changed (in parallel), reuse the rest; one progress line per chapter."""
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_dead_runtime_dirs()  # what a SIGKILLed build's kernels left in the temp folder
    inputs = inputs_digest(params, mart_dir)
    runs: dict[str, ChapterRun] = {}
    pending = []
    for chapter in chapters:
        key = chapter_key(chapter, inputs)
        notebook = out_dir / f"{chapter.slug}.ipynb"
        if notebook.is_file() and stored_key(notebook) == key:
            runs[chapter.slug] = ChapterRun(chapter, notebook, key, executed=False, seconds=0.0)
            progress(f"chapter {chapter.slug}: cached")
        else:
            pending.append((chapter, key, notebook))
    if pending:
        base = {"params_path": str(params.path.resolve()), "mart_dir": str(mart_dir.resolve())}
        with closing(run_chapters(pending, base, jobs)) as finished:  # closing: an error here stops the workers too
            for chapter, key, notebook, seconds in finished:
                runs[chapter.slug] = ChapterRun(chapter, notebook, key, executed=True, seconds=seconds)
                progress(f"chapter {chapter.slug}: executed in {seconds:.1f} s")
    remove_stale(out_dir, {c.slug for c in chapters})
    return [runs[c.slug] for c in chapters]
