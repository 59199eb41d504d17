"""Chapters: which notebooks a report has, executing them with papermill in parallel, and the execution cache.

- `plan`: the chapters of a report (one per template; the segment template once per segment).
- `keys`: cache keys; a chapter is re-executed only when its key changes.
- `execute`: `execute_chapters`, which runs the chapters whose key changed and reuses the rest.
- `pool`: the process pool the chapters run on, and stopping it at once on an error, Ctrl-C or SIGTERM.
- `worker`: what runs in a pool worker (its signals, one chapter's papermill execution).
- `notebooks`: an executed notebook made into a page; the files a failed or stale chapter leaves.
- `figure_export`: the report's figures written out as PNG and SVG.
"""

from segmentation.report.chapters.execute import ChapterRun, execute_chapters
from segmentation.report.chapters.figure_export import figure_outputs, publish_figures
from segmentation.report.chapters.keys import (
    chapter_code_digest,
    chapter_key,
    inputs_digest,
    template_imports,
)
from segmentation.report.chapters.notebooks import finish_notebook
from segmentation.report.chapters.plan import (
    MIGRATION_TEMPLATE,
    SEGMENT_TEMPLATE,
    Chapter,
    plan_chapters,
)
from segmentation.report.chapters.pool import (
    RUNTIME_PREFIX,
    default_jobs,
    remove_dead_runtime_dirs,
)
from segmentation.report.chapters.worker import execute_notebook

__all__ = [
    "MIGRATION_TEMPLATE", "RUNTIME_PREFIX", "SEGMENT_TEMPLATE", "Chapter", "ChapterRun", "chapter_code_digest",
    "chapter_key", "default_jobs", "execute_chapters", "execute_notebook", "figure_outputs", "finish_notebook",
    "inputs_digest", "plan_chapters", "publish_figures", "remove_dead_runtime_dirs", "template_imports",
]
