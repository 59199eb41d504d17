"""The PDF: the same rendered chapters as the site (Sphinx `singlehtml`), laid out for print by WeasyPrint.

The single page is rebuilt as a print document: a title page, a table of contents whose page numbers come from
CSS `target-counter`, then one chapter per page break. Page numbers, running heads and table layout are in
`report/print.css` (CSS paged media).
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup, Tag

from segmentation.report.errors import SiteBuildError


@dataclass(frozen=True)
class PdfMeta:
    """What the title page says."""

    title: str
    params_name: str
    params_file: str
    reference_date: str
    customers: str
    revenue: str


@dataclass(frozen=True)
class PdfChapter:
    """One chapter in the PDF: its heading text and anchor, and whether it is a segment profile."""

    anchor: str
    title: str
    is_segment: bool


def build_pdf(single_index: Path, target: Path, meta: PdfMeta, css: Path, segment_docs: frozenset[str]) -> None:
    """Write the PDF of the single-page HTML at `single_index` to `target`."""
    # WeasyPrint logs progress (even on import) and every CSS property it ignores; the print CSS is ours.
    for name in ("weasyprint", "weasyprint.progress", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from weasyprint import CSS, HTML

    document = print_document(single_index.read_text(encoding="utf-8"), meta, segment_docs)
    try:
        HTML(string=document, base_url=str(single_index.parent)).write_pdf(target, stylesheets=[CSS(filename=str(css))])
    except Exception as exc:  # noqa: BLE001 - one line for the user, whatever WeasyPrint raised
        raise SiteBuildError(f"{single_index}: PDF rendering failed: {type(exc).__name__}: {exc}") from exc


def print_document(single_html: str, meta: PdfMeta, segment_docs: frozenset[str]) -> str:
    """The print document: title page, contents with page numbers, then every chapter starting on a new page."""
    soup = BeautifulSoup(single_html, "html.parser")
    article = soup.find("article", class_="bd-article") or soup.body
    if article is None:
        raise SiteBuildError("single-page HTML has no article body; did the Sphinx singlehtml build run?")
    for junk in article.select("a.headerlink, script, button, .cell_input, .toctree-wrapper > p.caption"):
        junk.decompose()
    chapters, bodies = [], []
    for i, marker in enumerate(article.select('span[id^="document-"]'), start=1):
        section = marker.find_next_sibling("section")
        if section is None:
            continue
        anchor = f"chapter-{i:02d}"
        section["id"] = anchor
        section["class"] = ["chapter"]
        _promote_headings(section)
        heading = section.find("h1")
        title = heading.get_text(" ", strip=True) if heading else anchor
        is_segment = marker["id"].removeprefix("document-") in segment_docs
        chapters.append(PdfChapter(anchor, title, is_segment))
        bodies.append(str(section))
    if not chapters:
        raise SiteBuildError("single-page HTML holds no chapters")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(meta.title)}</title></head><body>"
        f"{title_page(meta)}{contents(chapters)}{''.join(bodies)}</body></html>"
    )


def _promote_headings(section: Tag) -> None:
    """Make the chapter heading an h1 again (singlehtml nests chapters one level below the index title)."""
    top = section.find(["h1", "h2", "h3"])
    if top is None:
        return
    shift = int(top.name[1]) - 1
    if shift <= 0:
        return
    for level in range(2, 7):
        for heading in section.find_all(f"h{level}"):
            heading.name = f"h{max(1, level - shift)}"


def title_page(meta: PdfMeta) -> str:
    """Report title, the date it describes, the params it was built with."""
    e = html.escape
    return (
        '<section class="title-page">'
        '<p class="kicker">Customer segmentation report</p>'
        f"<h1 class=\"report-title\">{e(meta.title)}</h1>"
        f'<p class="report-date">Data as of {e(meta.reference_date)}</p>'
        '<table class="title-facts">'
        f"<tr><th>Params</th><td>{e(meta.params_name)} ({e(meta.params_file)})</td></tr>"
        f"<tr><th>Reference date</th><td>{e(meta.reference_date)}</td></tr>"
        f"<tr><th>Customers</th><td>{e(meta.customers)}</td></tr>"
        f"<tr><th>Lifetime revenue</th><td>{e(meta.revenue)}</td></tr>"
        "</table></section>"
    )


def contents(chapters: list[PdfChapter]) -> str:
    """The table of contents; page numbers are filled in by the print CSS (target-counter)."""
    items = []
    segment_header_done = False
    for chapter in chapters:
        if chapter.is_segment and not segment_header_done:
            items.append('<li class="toc-part">Segment profiles</li>')
            segment_header_done = True
        css = "toc-segment" if chapter.is_segment else "toc-chapter"
        items.append(f'<li class="{css}"><a href="#{chapter.anchor}">{html.escape(chapter.title)}</a></li>')
    return f'<nav class="toc"><h1 class="toc-title">Contents</h1><ul>{"".join(items)}</ul></nav>'
