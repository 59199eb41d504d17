"""The HTML site: Sphinx + MyST-NB render the executed chapters (no execution), offline and warning-free.

The Sphinx source folder is assembled from `report/` (conf.py, index template, static files) and the executed
notebooks; files are only rewritten when their content changes, so Sphinx re-reads only changed chapters.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import string
from dataclasses import dataclass
from pathlib import Path

from segmentation.report.chapters import ChapterRun
from segmentation.report.errors import SiteBuildError
from segmentation.report.escape import as_md, md_text

REPORT_DIR = Path(__file__).resolve().parent / "sphinx"  # conf.py, index.md, print.css, static files
SOURCE_FILES = ("conf.py",)
STATIC_DIR = "_static"


@dataclass(frozen=True)
class SiteText:
    """The words of the index page: title (text), lead paragraph (Md, or text) and the segments (an HTML table)."""

    title: str
    lead: str
    segments: str = ""


def write_sources(src: Path, runs: list[ChapterRun], text: SiteText, report_dir: Path = REPORT_DIR) -> None:
    """Assemble the Sphinx source folder: conf.py, static files, index.md and the executed chapters."""
    (src / "chapters").mkdir(parents=True, exist_ok=True)
    for name in SOURCE_FILES:
        _copy_if_changed(report_dir / name, src / name)
    static = report_dir / STATIC_DIR
    if static.is_dir():
        for path in static.rglob("*"):
            if path.is_file():
                _copy_if_changed(path, src / STATIC_DIR / path.relative_to(static))
    _write_if_changed(src / "index.md", index_page(runs, text, report_dir))
    keep = set()
    for run in runs:
        target = src / "chapters" / run.notebook.name
        _copy_if_changed(run.notebook, target)
        keep.add(target)
    for stale in (src / "chapters").glob("*.ipynb"):
        if stale not in keep:
            stale.unlink()


def index_page(runs: list[ChapterRun], text: SiteText, report_dir: Path = REPORT_DIR) -> str:
    """The index page: title, lead paragraph and one table of contents per part (overview, segments, findings).

    The page is MyST: the title is escaped to text, the lead is Markdown only when it is `Md`, and the segment
    table (raw HTML) is kept on one line, since a blank line would end the HTML block and the rest be MyST.
    """
    segments = [r for r in runs if r.chapter.is_segment]
    first = runs.index(segments[0]) if segments else len(runs)
    parts = {
        "overview": runs[:first],
        "segments": segments,
        "findings": [r for r in runs[first:] if not r.chapter.is_segment],
    }
    entries = {part: "\n".join(f"chapters/{r.notebook.stem}" for r in items) for part, items in parts.items()}
    template = string.Template((report_dir / "index.md").read_text(encoding="utf-8"))
    return template.substitute(title=md_text(text.title), lead=as_md(text.lead),
                               segments=" ".join(text.segments.splitlines()),
                               overview=entries["overview"], segment_pages=entries["segments"],
                               findings=entries["findings"])


def run_sphinx(src: Path, out: Path, doctrees: Path, builder: str, overrides: dict[str, str]) -> None:
    """Build `src` with one Sphinx builder into `out`, quietly; any warning fails the build (like `-W`)."""
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    warnings = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)  # a Sphinx extension configures the root logger: undo that after
    try:
        with patch_docutils(src), docutils_namespace():
            app = Sphinx(str(src), str(src), str(out), str(doctrees), builder, confoverrides=overrides,
                         status=None, warning=warnings, freshenv=False)
            app.build()
    except Exception as exc:  # noqa: BLE001 - Sphinx raises many types; the user needs one line
        raise SiteBuildError(f"{src}: Sphinx {builder} build failed: {type(exc).__name__}: {exc}") from exc
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    problems = [line for line in warnings.getvalue().splitlines() if line.strip()]
    if problems or app.statuscode:
        first = problems[0] if problems else f"exit status {app.statuscode}"
        raise SiteBuildError(f"Sphinx {builder} build of {src} is not clean ({len(problems)} warnings); first: {first}")


EXTERNAL_ASSET = re.compile(r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=[\"'](?:https?:)?//", re.I)


def external_assets(site: Path) -> list[str]:
    """Pages that load something from the network (scripts, styles, images, frames): must be none."""
    found = []
    for page in site.rglob("*.html"):
        for match in EXTERNAL_ASSET.finditer(page.read_text(encoding="utf-8")):
            found.append(f"{page.relative_to(site)}: {match.group(0)}")
    return found


def _copy_if_changed(source: Path, target: Path) -> None:
    """Copy a file (with its mtime) unless the target already has the same bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file() and target.read_bytes() == source.read_bytes():
        return
    shutil.copy2(source, target)


def _write_if_changed(target: Path, text: str) -> None:
    """Write text unless the file already holds exactly it (an unchanged mtime keeps Sphinx from re-reading)."""
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return
    target.write_text(text, encoding="utf-8")
