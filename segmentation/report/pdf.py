"""The PDF: the same rendered chapters as the site (Sphinx `singlehtml`), laid out for print by WeasyPrint.

The single page is rebuilt as a print document: a title page, a table of contents whose page numbers come from
CSS `target-counter`, then one chapter per page break. Page numbers, running heads and table layout are in
`segmentation/report/sphinx/print.css` (CSS paged media).

WeasyPrint reads nothing but files inside the single page's own folder and `data:` URLs (`build_folder_fetcher`),
and the print document keeps no link that leaves it (so no `rel="attachment"` can embed a file either).
"""

from __future__ import annotations

import functools
import html
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

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
    _quiet_weasyprint()
    from weasyprint import CSS, HTML

    document = print_document(single_index.read_text(encoding="utf-8"), meta, segment_docs)
    fetcher = build_folder_fetcher(single_index.parent)
    try:
        HTML(string=document, base_url=str(single_index.parent), url_fetcher=fetcher).write_pdf(
            target, stylesheets=[CSS(filename=str(css), url_fetcher=fetcher)], attachments=[])
    except Exception as exc:  # noqa: BLE001 - one line for the user, whatever WeasyPrint raised
        raise SiteBuildError(f"{single_index}: PDF rendering failed: {type(exc).__name__}: {exc}") from exc


def _quiet_weasyprint() -> None:
    """WeasyPrint logs progress (even on import) and every CSS property it ignores; the print CSS is ours."""
    for name in ("weasyprint", "weasyprint.progress", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)


def check_fetch(url: str, folder: Path) -> None:
    """Raise ValueError unless `url` is a data: URL or a file: URL of a file inside `folder` (symlinks and `..`
    resolved first): the PDF reads nothing from the network and no file outside the report's build folder."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "data":
        return
    if scheme == "file" and parts.netloc in ("", "localhost"):
        path = os.path.realpath(url2pathname(parts.path))
        root = os.path.realpath(folder)
        if os.path.commonpath([path, root]) == root:
            return
    raise ValueError(f"refused: the PDF reads only files inside {folder} and data: URLs, not {url[:120]}")


@functools.cache
def _fetcher_class() -> type:
    """The fetcher's class: WeasyPrint's own fetcher with `check_fetch` first (WeasyPrint imported on first use)."""
    _quiet_weasyprint()
    from weasyprint.urls import URLFetcher

    class _BuildFolderFetcher(URLFetcher):
        """WeasyPrint's default fetcher, for file: URLs inside one folder and data: URLs only."""

        def __init__(self, folder: Path) -> None:
            """Fetch inside `folder`; no redirects, no other protocol."""
            super().__init__(allowed_protocols=("file", "data"), allow_redirects=False)
            self.folder = Path(folder)

        def fetch(self, url: str, headers: Any = None) -> Any:
            """Refuse what `check_fetch` refuses, then fetch as WeasyPrint does."""
            check_fetch(url, self.folder)
            return super().fetch(url, headers)

    return _BuildFolderFetcher


def build_folder_fetcher(folder: Path) -> Any:
    """A WeasyPrint URL fetcher that reads only files inside `folder` and data: URLs, and refuses everything else."""
    return _fetcher_class()(folder)


def print_document(single_html: str, meta: PdfMeta, segment_docs: frozenset[str]) -> str:
    """The print document: title page, contents with page numbers, then every chapter starting on a new page."""
    soup = BeautifulSoup(single_html, "html.parser")
    article = soup.find("article", class_="bd-article") or soup.body
    if article is None:
        raise SiteBuildError("single-page HTML has no article body; did the Sphinx singlehtml build run?")
    for junk in article.select("a.headerlink, script, button, .cell_input, .toctree-wrapper > p.caption"):
        junk.decompose()
    _keep_links_inside(article)
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


def _keep_links_inside(article: Tag) -> None:
    """No element may point out of the document: links to other places lose their href (their text stays), and
    nothing keeps a `rel` (WeasyPrint embeds the target of `rel="attachment"` in the PDF)."""
    for element in article.find_all(True):
        if element.name == "link":
            element.decompose()
            continue
        if element.has_attr("rel"):
            del element["rel"]
        if element.has_attr("href") and not str(element["href"]).startswith("#"):
            del element["href"]


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
