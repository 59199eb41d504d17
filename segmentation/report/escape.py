"""Values as text, never markup: every value from the customer file or the params reaches a page through here.

The report writes Markdown (MyST in the chapter cells and the index page, CommonMark in cell outputs) and HTML
(tables, the PDF's title page). A value is only ever interpolated as text:

- `md_text(value)`: inert MyST/CommonMark inline text. Every ASCII punctuation character is backslash-escaped
  (CommonMark allows that for all of them, and every Markdown and MyST construct starts with one: HTML `<`,
  links `[`, images `!`, roles `{`, fences and code spans `` ` ``, emphasis, entities `&`, line-start markers),
  and every run of whitespace, line breaks included, becomes one space, so a value never starts a block.
- `Md`: Markdown source we wrote. `Md(template).format(...)`, `Md + value` and `Md.join(values)` escape every
  value that is not itself `Md` (as markupsafe's `Markup.format` does for HTML), so a sentence built from a
  template cannot forget it. `display.Markdown` shows an `Md` as Markdown and anything else as escaped text.
- `md_code(value)` / `md_code_block(text, info)`: a value shown literally as inline code or a fenced block.
- `html_text(value)`: escaped HTML text on one line (a line break in raw HTML inside a MyST page would end the
  HTML block and let the rest be parsed as MyST); `css_color(value)`: a `#rrggbb` colour or None.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Iterable
from typing import Any

_MD_ESCAPES = str.maketrans({c: "\\" + c for c in string.punctuation})
_HEX_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
_BACKTICKS = re.compile(r"`+")


def one_line(value: Any) -> str:
    """The value as text with every run of whitespace (line breaks, tabs) as one space, trimmed."""
    return " ".join(str(value).split())


def md_text(value: Any) -> str:
    """Any value as inert MyST/CommonMark inline text: ASCII punctuation backslash-escaped, one line."""
    return one_line(value).translate(_MD_ESCAPES)


class Md(str):
    """Markdown source written by the report's code; whatever is combined with it is escaped unless it is `Md`."""

    __slots__ = ()

    def format(self, *args: Any, **kwargs: Any) -> Md:
        """Fill the template's fields, each escaped to text (format specs apply first: `{:.1f}`)."""
        return Md(_FORMATTER.vformat(self, args, kwargs))

    def format_map(self, mapping: Any) -> Md:
        """`format` with a mapping."""
        return Md(_FORMATTER.vformat(self, (), mapping))

    def __add__(self, other: Any) -> Md:
        """This Markdown followed by `other` (escaped unless Md)."""
        if not isinstance(other, str):
            return NotImplemented
        return Md(str.__add__(self, as_md(other)))

    def __radd__(self, other: Any) -> Md:
        """`other` (escaped unless Md) followed by this Markdown."""
        if not isinstance(other, str):
            return NotImplemented
        return Md(str.__add__(as_md(other), self))

    def join(self, items: Iterable[Any]) -> Md:
        """The items (each escaped unless Md) with this Markdown between them."""
        return Md(str.join(self, (as_md(item) for item in items)))

    def __repr__(self) -> str:
        """Md('…')."""
        return f"Md({str.__repr__(self)})"


def as_md(value: Any) -> Md:
    """`value` itself when it is Markdown we wrote (`Md`), otherwise the value as escaped text."""
    return value if isinstance(value, Md) else Md(md_text(value))


class _MdFormatter(string.Formatter):
    """str.format, with every field escaped unless it is Md."""

    def format_field(self, value: Any, format_spec: str) -> str:
        """The formatted field: Md as is (when it has no format spec), anything else as escaped text."""
        if isinstance(value, Md) and not format_spec:
            return value
        return md_text(format(value, format_spec))


_FORMATTER = _MdFormatter()


def md_code(value: Any) -> Md:
    """The value as an inline code span: shown literally, whatever backticks or markup it holds (on one line)."""
    text = one_line(value)
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    return Md(f"{fence} {text} {fence}")  # CommonMark drops one space on each side: they keep ` off the fence


def md_code_block(text: str, info: str = "") -> Md:
    """A fenced code block holding `text` literally; its fence is longer than any run of backticks in the text."""
    if not re.fullmatch(r"[A-Za-z0-9_+-]*", info):
        raise ValueError(f"code block language must be a plain word, got {info!r}")
    fence = "`" * max(3, max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    body = text if text.endswith("\n") else text + "\n"
    return Md(f"{fence}{info}\n{body}{fence}")


def html_text(value: Any) -> str:
    """The value as escaped HTML text on one line (quotes escaped too, so it also fits an attribute)."""
    return html.escape(one_line(value), quote=True)


def css_color(value: Any) -> str | None:
    """The value when it is a `#rrggbb` colour, otherwise None (it goes into a style attribute)."""
    return value if isinstance(value, str) and _HEX_COLOR.fullmatch(value) else None
