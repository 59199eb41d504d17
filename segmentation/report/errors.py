"""Errors of the report build; each is a SegmentationError, so the CLI shows one line and exits 2."""

from __future__ import annotations

from segmentation.core.errors import SegmentationError


class ReportBuildError(SegmentationError):
    """Raised when the report cannot be built; the previously published report is left as it was."""


class ChapterFailedError(ReportBuildError):
    """Raised when a chapter notebook raises; the message names the notebook, the failing cell and the error."""


class SiteBuildError(ReportBuildError):
    """Raised when Sphinx or WeasyPrint reports a problem (a warning counts: the site must build clean)."""
