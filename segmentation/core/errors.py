"""One exception tree for everything a user can get wrong: the CLI turns it into one line and exit code 2."""

from __future__ import annotations


class SegmentationError(Exception):
    """Raised when input data, params or a build step cannot be used as given; the message says how to fix it."""


class ParamsError(SegmentationError):
    """Raised when a params file is missing, malformed or contradicts itself."""


class InputDataError(SegmentationError):
    """Raised when the customer file cannot be read or fails a data-quality check whose policy is `fail`."""


class MartMissingError(SegmentationError):
    """Raised when a downstream step needs a mart that has not been built (or was built by an older schema)."""


class MartFolderError(SegmentationError):
    """Raised when `mart_dir` is not a folder the project owns, or a mart cannot be published there (read-only
    folder, full disk); the previous mart is left as it was."""


def describe_rows(count: int, examples: list[int] | None = None) -> str:
    """Say how many rows are affected and, when known, which ones (1-based data-row numbers)."""
    noun = "row" if count == 1 else "rows"
    if not examples:
        return f"{count:,} {noun}"
    shown = ", ".join(str(i) for i in examples[:5])
    more = ", …" if count > len(examples[:5]) else ""
    return f"{count:,} {noun} (e.g. row {shown}{more})"
