"""Report blocks that show themselves in a notebook: an HTML table and a Markdown paragraph.

Tables are real HTML tables (in the site and the PDF), rendered the same way every time (no random ids), and
keep their data in `.frame` so tests can check the values. Every cell, header and caption is escaped text on one
line; a Markdown block is Markdown only when it is `Md` (built from a template that escapes its values).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from segmentation.report.escape import Md, css_color, html_text, md_text
from segmentation.words.attributes import left_out

Formatter = Callable[[Any], str]


@dataclass(frozen=True)
class Table:
    """A table of values with per-column formats, an optional colour swatch per row, and a caption."""

    frame: pd.DataFrame
    caption: str = ""
    formats: Mapping[str, Formatter] = field(default_factory=dict)
    row_colors: Sequence[str | None] | None = None
    css_class: str = ""
    numeric: Sequence[str] = ()  # right-aligned columns besides the numeric dtypes (e.g. pre-formatted numbers)
    row_links: Sequence[str | None] | None = None  # the first column links to these (relative) pages

    def cell_text(self, column: str, value: Any) -> str:
        """One cell as plain text (lists joined by semicolons)."""
        if isinstance(value, (list, tuple)):
            return "; ".join(str(v) for v in value)
        if column in self.formats:
            return self.formats[column](value)
        return "" if value is None else str(value)

    def _cell_html(self, column: str, value: Any) -> str:
        """One cell as HTML: lists become bullet lists, everything else escaped text."""
        if isinstance(value, (list, tuple)):
            if not value:
                return ""
            return "<ul>" + "".join(f"<li>{html_text(v)}</li>" for v in value) + "</ul>"
        return html_text(self.cell_text(column, value))

    def _repr_html_(self) -> str:
        """The table as HTML on one line; the first column carries the row's colour swatch when colours are given."""
        numeric = {c for c in self.frame.columns if pd.api.types.is_numeric_dtype(self.frame[c].dtype)}
        numeric |= set(self.numeric)
        classes = " ".join(filter(None, ["report-table", self.css_class]))
        parts = [f'<table class="{classes}">']
        if self.caption:
            parts.append(f"<caption>{html_text(self.caption)}</caption>")
        parts.append("<thead><tr>")
        for col in self.frame.columns:
            align = ' class="num"' if col in numeric else ""
            parts.append(f"<th{align}>{html_text(col)}</th>")
        parts.append("</tr></thead><tbody>")
        for i, row in enumerate(self.frame.itertuples(index=False)):
            parts.append("<tr>")
            for j, (col, value) in enumerate(zip(self.frame.columns, row)):
                text = self._cell_html(col, value)
                if j == 0 and self.row_links is not None and self.row_links[i]:
                    text = f'<a href="{html_text(self.row_links[i])}">{text}</a>'
                color = css_color(self.row_colors[i]) if j == 0 and self.row_colors is not None else None
                if color:
                    text = f'<span class="swatch" style="background-color: {color}"></span>{text}'
                align = ' class="num"' if col in numeric else ""
                parts.append(f"<td{align}>{text}</td>")
            parts.append("</tr>")
        parts.append("</tbody></table>")
        return "".join(parts)

    def __repr__(self) -> str:
        """The table as plain text (the notebook's text/plain fallback)."""
        shown = pd.DataFrame({c: [self.cell_text(c, v) for v in self.frame[c]] for c in self.frame.columns})
        return shown.to_string(index=False)


@dataclass(frozen=True)
class Markdown:
    """A block of Markdown (no headings: those belong to the chapter template).

    Only `Md` is Markdown; any other text is shown as text (escaped), so a value can never become markup.
    """

    text: str

    def __post_init__(self) -> None:
        """Escape text that is not Md."""
        if not isinstance(self.text, Md):
            object.__setattr__(self, "text", Md(md_text(self.text)))

    def _repr_markdown_(self) -> str:
        """The Markdown, for notebook display."""
        return self.text

    def __repr__(self) -> str:
        """The Markdown source as plain text."""
        return self.text


def left_out_note(fields: Sequence[str], what: str = "this view is left out") -> Markdown:
    """The note shown instead of a view whose attributes this data has none of (in italics)."""
    return Markdown(Md("*{}*").format(left_out(fields, what)))


def needs_attributes(*fields: str, note: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a figure or table of these customer attributes: when the mart knows none of them (orders without a
    customer file), a note naming them is shown instead (nothing with `note=False`: a view next to another of the
    same attributes, which says it); otherwise the view draws, leaving out the unknown ones."""
    def decorate(build: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(build)
        def guarded(ctx: Any, *args: Any, **kwargs: Any) -> Any:
            if not ctx.attributes.only_known(fields):
                return left_out_note(fields) if note else None
            return build(ctx, *args, **kwargs)
        return guarded
    return decorate
