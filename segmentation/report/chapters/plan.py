"""Which chapters a report has: one per template in the params' chapters folder, the per-segment template once per
segment, and the migration chapter only when the mart holds a current segment migration."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segmentation.config.params import Params
from segmentation.report.errors import ChapterFailedError
from segmentation.report.figures import segment_slug

SEGMENT_TEMPLATE = "05_segment.ipynb"  # executed once per segment; every other template once per report
MIGRATION_TEMPLATE = "08_migration.ipynb"  # only when the mart holds a current segment migration


@dataclass(frozen=True)
class Chapter:
    """One executed notebook of the report: its output name, template, extra parameters and page title."""

    slug: str
    template: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    title: str | None = None  # replaces the template's H1 (the segment chapter's H1 is the segment name)
    inputs: tuple[Path, ...] = ()  # files beyond the mart's own that the chapter reads (part of its cache key)

    @property
    def is_segment(self) -> bool:
        """True for a chapter executed from the per-segment template."""
        return "segment_id" in self.parameters

    def describe(self) -> str:
        """The template path and, for a segment chapter, which segment (for messages)."""
        where = display_path(self.template)
        return f"{where} (segment '{self.parameters['segment_id']}')" if self.is_segment else where


def plan_chapters(params: Params) -> list[Chapter]:
    """The chapters of a report, in reading order: the segment template expands to one chapter per segment.

    The templates are the notebooks in the params' `chapters` folder (default `chapters/`, relative to the folder
    the command runs in).
    """
    templates_dir = params.chapters_dir
    if not templates_dir.is_dir():
        raise ChapterFailedError(f"{templates_dir}: no chapters folder; set `chapters:` in {params.path} to the "
                                 "folder of chapter notebooks (default: chapters/ in the folder you run from)")
    templates = sorted(templates_dir.glob("*.ipynb"))
    if not any(t.name == SEGMENT_TEMPLATE for t in templates):
        raise ChapterFailedError(f"{templates_dir}: no {SEGMENT_TEMPLATE} template (the per-segment chapter)")
    chapters = []
    for template in templates:
        if template.name == MIGRATION_TEMPLATE:
            chapters += _migration_chapter(params, template)
            continue
        if template.name != SEGMENT_TEMPLATE:
            chapters.append(Chapter(slug=template.stem, template=template))
            continue
        for i, seg in enumerate(params.all_segments, start=1):
            slug = f"{template.stem}_{i:02d}_{segment_slug(seg.id)}"  # index keeps slugs unique and in precedence order
            chapters.append(Chapter(slug=slug, template=template, parameters={"segment_id": seg.id}, title=seg.name))
    return chapters


def _migration_chapter(params: Params, template: Path) -> list[Chapter]:
    """The 'What changed since …' chapter when the mart holds a migration computed for it as it is now."""
    from segmentation.migration import MIGRATION, MIGRATION_JSON, read_migration
    from segmentation.report.migration import title

    migration = read_migration(params.mart_dir)
    if migration is None or not migration.current:
        return []
    return [Chapter(slug=template.stem, template=template, title=title(migration),
                    parameters={"before_mart_dir": migration.info["before"]["mart_dir"]},
                    inputs=(params.mart_dir / MIGRATION, params.mart_dir / MIGRATION_JSON))]


def display_path(path: Path) -> str:
    """A path relative to the current folder when it is inside it (shorter messages)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
