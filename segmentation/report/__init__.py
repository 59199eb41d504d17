"""The stakeholder report: notebook chapters executed from templates, rendered to an HTML site and a PDF.

Chapters import this package for every figure and table; `segmentation.report.build.build_report` runs it all.
Kept light on import (no papermill or Sphinx) because every chapter kernel imports it.
"""

from segmentation.report.context import ReportContext, load_context
from segmentation.report.errors import (
    ChapterFailedError,
    ReportBuildError,
    SiteBuildError,
)

__all__ = ["ChapterFailedError", "ReportBuildError", "ReportContext", "SiteBuildError", "load_context"]
