"""An executed chapter's files in the chapters folder: the notebook made into a page (carrying its cache key), the
failed notebook and kernel log kept for an error message, and removing what no chapter of the report needs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbformat

from segmentation.core import atomic
from segmentation.report.chapters.plan import Chapter, display_path
from segmentation.report.errors import ChapterFailedError
from segmentation.report.escape import md_text


def kernel_log(notebook: Path) -> Path:
    """Where the kernel of a chapter writes its console output."""
    return notebook.with_name(f".{notebook.stem}.kernel.log")


def chapter_error(chapter: Chapter, partial: Path, notebook: Path, failure: dict[str, Any]) -> ChapterFailedError:
    """One line naming the template, the failing cell, the error and where the failed notebook was kept."""
    kept = notebook.with_name(f"{notebook.stem}.failed.ipynb")
    cell = "kernel start"
    where = f"kernel log: {display_path(kernel_log(notebook))}"
    if partial.is_file():
        os.replace(partial, kept)
        cell = _template_cell(chapter.template, kept)
        where = f"executed notebook: {display_path(kept)}"
    source = " ".join(str(failure.get("source", "")).split())
    code = f" `{source[:80]}`" if source else ""
    evalue = " ".join(str(failure["evalue"]).split())[:300]
    return ChapterFailedError(f"{chapter.describe()}: {cell}{code} raised {failure['ename']}: {evalue} ({where})")


def _template_cell(template: Path, executed: Path) -> str:
    """'cell 7' numbered as in the template: papermill adds cells but keeps the template's cell ids."""
    try:
        failed = next(cell for cell in nbformat.read(executed, as_version=4).cells
                      if any(o.get("output_type") == "error" for o in cell.get("outputs", [])))
        ids = [cell.get("id") for cell in nbformat.read(template, as_version=4).cells]
        return f"cell {ids.index(failed.get('id')) + 1}"
    except (StopIteration, ValueError, OSError):
        return "a cell"


def finish_notebook(source: Path, target: Path, chapter: Chapter, key: str) -> None:
    """Make an executed notebook a page: unique cell ids, the chapter's own H1, no run metadata; store its key."""
    nb = nbformat.read(source, as_version=4)
    prefix = chapter.slug.replace(".", "-")[:52]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{prefix}-{i:02d}"  # papermill keeps template ids: duplicates across pages of one site
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        tags = cell.metadata.get("tags", [])
        if ("injected-parameters" in tags or "parameters" in tags) and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
        alt = _figure_alt(cell)
        if alt:
            cell.metadata["mystnb"] = {"image": {"alt": alt}}  # MyST-NB's per-cell image options: alt text
    if chapter.title:
        _retitle(nb, chapter.title)
    nb.metadata.pop("papermill", None)
    nb.metadata["segmentation"] = {"chapter": chapter.slug, "cache_key": key, "parameters": chapter.parameters}
    with atomic.replacing(target) as staging:
        nbformat.write(nb, staging)
    source.unlink(missing_ok=True)


def _figure_alt(cell: nbformat.NotebookNode) -> str | None:
    """The alt text of the figure a cell shows (its text/plain rendering), if it shows one."""
    for output in cell.get("outputs", []):
        if output.get("metadata", {}).get("segmentation", {}).get("figure"):
            text = output.get("data", {}).get("text/plain", "")
            return "".join(text) if isinstance(text, list) else text
    return None


def _retitle(nb: nbformat.NotebookNode, title: str) -> None:
    """Replace the first H1 of the notebook with `title`, as text (a segment name is never MyST)."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("# "):
                lines[i] = f"# {md_text(title)}"
                cell.source = "\n".join(lines)
                return


def stored_key(notebook: Path) -> str | None:
    """The cache key an executed notebook was made with (None if unreadable)."""
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8"))["metadata"]
        return meta.get("segmentation", {}).get("cache_key")
    except (OSError, ValueError, KeyError):
        return None


def remove_stale(out_dir: Path, slugs: set[str]) -> None:
    """Delete executed notebooks of chapters no longer in the report (e.g. a segment removed from the params).

    Hidden leftovers of a killed run go too: `.x.running.ipynb` (matched by the glob) and `finish_notebook`'s
    temporaries.
    """
    for path in [*out_dir.glob("*.ipynb"), *atomic.temporaries(out_dir, "*.ipynb")]:
        if path.stem not in slugs and not path.name.endswith(".failed.ipynb"):
            path.unlink()
    for slug in slugs:
        (out_dir / f"{slug}.failed.ipynb").unlink(missing_ok=True)
        kernel_log(out_dir / f"{slug}.ipynb").unlink(missing_ok=True)
