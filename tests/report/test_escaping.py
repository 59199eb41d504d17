"""Every value from the customer file or the params is text, never markup, in the site and the PDF.

A hostile reviewer's payloads (raw HTML with script handlers, a `rel="attachment"` link to /etc/passwd, Markdown
links and images to `javascript:` and `file:`, MyST roles and `{include}` / `{raw}` / `{literalinclude}` directives
after a newline) go in through the customer file and through the params; one report is built from them, and the
site and the PDF must show them as plain text: no dialog in a real browser, no attachment in the PDF, and nothing
of /etc/passwd anywhere. Fast tests cover the escaping helpers, the PDF's URL fetcher and the print document.
"""

from __future__ import annotations

import html
import re
import string
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.config.params import Params, load_params
from segmentation.mart.pipeline import run
from segmentation.report.build import ReportLayout, ReportPaths, build_report
from segmentation.report.display import Markdown, Table
from segmentation.report.escape import Md, md_code, md_code_block, md_text
from segmentation.report.pdf import PdfMeta, build_folder_fetcher, print_document
from segmentation.words.formatting import Money
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, require_chromium, served_folder, site_pages

pytestmark = pytest.mark.filterwarnings("ignore:.*HandleFootnoteTransform.app' is deprecated")

PASSWD = "root:x:0:0"  # the first line of /etc/passwd on any Linux machine
UP = "../" * 24  # from any source folder up to /

ATTACH = '<a rel="attachment" href="file:///etc/passwd"><img src="x" onerror="alert(1)"></a>'
IMG = "<img src=x onerror=alert(1)>"
JS_LINK = "[click](javascript:alert(1))"
FILE_IMAGE = "![pw](file:///etc/passwd)"
RAW_ROLE = "{raw}`html`<script>alert(1)</script>`"
MATH = "$\\frac{"
INCLUDE = f"\n\n```{{include}} {UP}etc/passwd\n```\n"
RAW_BLOCK = "\n\n```{raw} html\n<script>alert(1)</script>\n```\n"
LITERALINCLUDE = "\n\n```{literalinclude} /etc/passwd\n```\n"
SCRIPT_TITLE = "<script>alert(1)</script>"
PAYLOADS = (ATTACH, IMG, JS_LINK, FILE_IMAGE, RAW_ROLE, MATH, INCLUDE, RAW_BLOCK, LITERALINCLUDE)


def flat(text: str) -> str:
    """A value as the report shows it: whitespace runs (newlines included) as one space."""
    return " ".join(text.split())


SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})


def shown(text: str) -> str:
    """Page text to compare values with: Sphinx's smart quotes made straight again, whitespace runs as one space."""
    return flat(text.translate(SMART_QUOTES))


# --- the escaping helpers ------------------------------------------------------------------------------------


def _parsers():
    """The two Markdown parsers report text meets: MyST (chapter cells, index page) and CommonMark (cell outputs)."""
    from markdown_it import MarkdownIt
    from myst_parser.config.main import MdParserConfig
    from myst_parser.mdit_to_docutils.base import DocutilsRenderer
    from myst_parser.parsers.mdit import create_md_parser

    return MarkdownIt("commonmark"), create_md_parser(MdParserConfig(), DocutilsRenderer)


def _inline_text(parser, source: str) -> str:
    """Parse `source`; it must be one paragraph of plain text tokens: return that text."""
    tokens = parser.parse(source)
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"], source
    children = tokens[1].children
    assert all(child.type == "text" for child in children), [(c.type, c.content) for c in children]
    return "".join(child.content for child in children)


@pytest.mark.parametrize("value", [*PAYLOADS, "Home & Garden", "&amp; &#60;b&#62;", "1. first", "- item", "# h",
                                   "> quote", "===", "    code", "\\*not em\\*", "a  \nb", "(target)=", "% comment",
                                   "+++", "<https://example.org>", "www.example.org", "{{ sub }}", "|a|b|"])
def test_md_text_is_one_paragraph_of_the_value_as_text(value: str) -> None:
    for parser in _parsers():
        assert _inline_text(parser, md_text(value)) == flat(value)
        assert _inline_text(parser, f"Before {md_text(value)} after.") == f"Before {flat(value)} after."


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(string.printable + "é—€ "), min_size=1).filter(lambda s: s.split()))
def test_md_text_holds_any_text_as_text(value: str) -> None:
    for parser in _parsers():
        assert _inline_text(parser, md_text(value)) == flat(value)


def test_md_text_escapes_every_ascii_punctuation_and_only_that() -> None:
    assert md_text(string.punctuation) == "".join("\\" + c for c in string.punctuation)
    assert md_text("Top Customers 2026 é—ü") == "Top Customers 2026 é—ü"
    assert md_text("a\nb\r\n\tc") == "a b c"
    assert md_text(12.5) == "12\\.5"


def test_md_templates_escape_what_they_interpolate_and_keep_their_own_markup() -> None:
    block = Md("**{name}** bought {share} of `{file}`").format(name=IMG, share="40%", file="x")
    assert block == "**\\<img src\\=x onerror\\=alert\\(1\\)\\>** bought 40\\% of `x`"
    assert isinstance(block, Md)
    assert Md("- ") + IMG == "- " + md_text(IMG) and isinstance(Md("a") + "b", Md)
    assert "<x> " + Md(" *y*") == "\\<x\\> *y*" and isinstance("x" + Md("y"), Md)  # a value is trimmed
    assert Md("\n").join(["<b>", Md("**b**")]) == "\\<b\\>\n**b**"
    assert Md("{:.1f} orders").format(2.25) == "2\\.2 orders"  # the format spec applies before escaping
    assert Md("{0}{0}").format(Md("*")) == "**"
    nested = Md("{a}").format(a=Md("*{b}*").format(b="_"))
    assert nested == "*\\_*"


def test_markdown_blocks_take_markup_only_from_md() -> None:
    assert Markdown(Md("**bold** {x}").format(x="<i>")).text == "**bold** \\<i\\>"
    assert Markdown("**not bold** <i>").text == md_text("**not bold** <i>")  # a plain str is text, whole


@pytest.mark.parametrize("value", ["a`b", "``", "`x`", IMG, "x\ny", " lead", "trail ", "`"])
def test_md_code_is_a_code_span_of_the_value(value: str) -> None:
    for parser in _parsers():
        tokens = parser.parse(md_code(value))
        children = tokens[1].children
        assert [c.type for c in children] == ["code_inline"], children
        assert children[0].content == flat(value) or children[0].content.strip() == flat(value).strip()


def test_md_code_block_holds_any_text() -> None:
    text = "a: 1\n```\n````{include} /etc/passwd\n````\n~~~\nb: <img src=x>"
    for parser in _parsers():
        tokens = parser.parse(md_code_block(text, "yaml") + Md("\n\nafter"))
        assert tokens[0].type == "fence" and tokens[0].content == text + "\n" and tokens[0].info == "yaml"
        assert [t.type for t in tokens[1:]] == ["paragraph_open", "inline", "paragraph_close"]


def test_table_html_is_one_line_of_escaped_text_and_colours_are_checked() -> None:
    frame = pd.DataFrame({"Segment": [f"a{INCLUDE}", "b"], "Items": [[IMG, "x\ny"], []]})
    table = Table(frame, caption=f"cap\n\n{IMG}", row_colors=['#1"><b>', "#00aaFF"], row_links=["p.html", None])
    html = table._repr_html_()
    assert "\n" not in html and "\r" not in html
    assert "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'style="background-color: #00aaFF"' in html and html.count("swatch") == 1


def _markup_tokens(source: str) -> list[str]:
    """Every token of a Markdown text (CommonMark) that is more than text, emphasis, lists, breaks or code."""
    from markdown_it import MarkdownIt

    plain = {"text", "softbreak", "hardbreak", "code_inline", "paragraph_open", "paragraph_close", "inline",
             "strong_open", "strong_close", "em_open", "em_close", "bullet_list_open", "bullet_list_close",
             "ordered_list_open", "ordered_list_close", "list_item_open", "list_item_close"}
    found = []
    for token in MarkdownIt("commonmark").parse(source):
        for t in [token, *(token.children or [])]:
            if t.type not in plain:
                found.append(f"{t.type} {t.info or t.content!r}"[:120])
    return found


def test_migration_sentences_hold_segment_names_and_folders_as_text(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    from types import SimpleNamespace

    from segmentation.report import migration as report_migration

    totals = dict(customers_before=10, customers_after=12, matched=9, stayed=5, moved=4, new=3, lapsed=1)
    info = {"totals": totals, "match": "id", "before": {"reference_date": "2026-01-01", "customers": 10,
                                                        "mart_dir": f"/x/{IMG}/mart `x`", "params": {"name": ATTACH}},
            "after": {"reference_date": "2026-02-01"},
            "top_movements": [{"from_segment_id": "a", "from_segment_name": RAW_ROLE, "to_segment_id": "b",
                               "to_segment_name": f"{IMG}{INCLUDE}", "customers": 4, "revenue_before": 100.0,
                               "revenue_after": 100.0, "share_of_from": 0.4}]}
    fake = SimpleNamespace(info=info, before_date="2026-01-01", after_date="2026-02-01", current=False)
    monkeypatch.setattr(report_migration, "load", lambda ctx: fake)
    ctx = SimpleNamespace(mart=SimpleNamespace(path=tmp_path / f"mart {IMG}"), money=Money.of("USD"))
    for block in (report_migration.headline(ctx), report_migration.method(ctx)):
        assert not _markup_tokens(block.text), _markup_tokens(block.text)
    text = report_migration.headline(ctx).text
    assert _inline_text(_parsers()[0], text.split("\n\n")[1]) == flat(
        f"The largest movement by revenue: 4 customers (40% of {RAW_ROLE}) moved to {IMG}{INCLUDE}; they had spent "
        "$100 in their lifetime, and they have not bought since.")


# --- the PDF: what WeasyPrint may fetch, and the print document -----------------------------------------------


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """A build folder with an image and a symlink out of it, and a secret outside it."""
    build, outside = tmp_path / "build", tmp_path / "outside"
    (build / "_images").mkdir(parents=True)
    outside.mkdir()
    (build / "_images" / "chart.png").write_bytes(b"\x89PNG fake")
    (outside / "secret.txt").write_text(PASSWD, encoding="utf-8")
    (build / "_images" / "link.txt").symlink_to(outside / "secret.txt")
    (build / "escape").symlink_to(outside, target_is_directory=True)
    return build, outside


def _fetch(fetcher, url: str) -> bytes:
    """Fetch a URL and read it whole."""
    response = fetcher.fetch(url)
    try:
        return response.read()
    finally:
        response.close()


def test_pdf_fetcher_reads_files_inside_the_build_folder_and_data_urls(folders: tuple[Path, Path]) -> None:
    build, _ = folders
    fetcher = build_folder_fetcher(build)
    assert _fetch(fetcher, (build / "_images" / "chart.png").as_uri()) == b"\x89PNG fake"
    assert _fetch(fetcher, f"file://{build}/_images/../_images/chart.png") == b"\x89PNG fake"
    assert _fetch(fetcher, "data:text/plain;base64,aGk=") == b"hi"


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "file://localhost/etc/passwd",
    "file://otherhost{build}/_images/chart.png",
    "file://{build}/../outside/secret.txt",
    "file://{build}/_images/%2E%2E/%2E%2E/outside/secret.txt",
    "file://{build}/_images/link.txt",
    "file://{build}/escape/secret.txt",
    "http://127.0.0.1:9/x.png",
    "https://example.org/x.css",
    "ftp://example.org/x",
    "javascript:alert(1)",
    "FILE:///etc/passwd",
])
def test_pdf_fetcher_refuses_everything_else(folders: tuple[Path, Path], url: str) -> None:
    build, _ = folders
    with pytest.raises(ValueError, match="refused"):
        build_folder_fetcher(build).fetch(url.format(build=build))


def test_print_document_keeps_only_same_document_links() -> None:
    single = (
        '<html><body><article class="bd-article"><span id="document-index"></span><section><h1>Report</h1></section>'
        '<span id="document-chapters/a"></span><section><h2>A</h2>'
        f'<p>{ATTACH}<a href="#document-index">back</a><a href="https://example.org">out</a>'
        '<a href="file:///etc/passwd" rel="attachment">pw</a><link rel="attachment" href="x.txt"></p>'
        "</section></article></body></html>"
    )
    meta = PdfMeta(title=IMG, params_name="p", params_file="p.yaml", reference_date="2026-01-01", customers="1",
                   revenue="$1")
    doc = print_document(single, meta, frozenset())
    assert "attachment" not in doc and "file:" not in doc and "https:" not in doc
    assert 'href="#document-index"' in doc and "<a>out</a>" in doc and "<a>pw</a>" in doc
    assert "&lt;img src=x onerror=alert(1)&gt;" in doc


def test_site_conf_escapes_the_theme_text_once() -> None:
    import runpy

    from jinja2 import Environment
    from markupsafe import Markup

    conf = runpy.run_path(str(ROOT / "segmentation" / "report" / "sphinx" / "conf.py"))
    context = {"docstitle": f"{SCRIPT_TITLE} & x", "pagetitle": IMG, "root_title": Markup("<b>ours</b>"), "other": IMG}
    conf["_escape_theme_text"](None, "index", "page.html", context, None)
    assert context["docstitle"] == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; x"
    assert isinstance(context["docstitle"], Markup)
    assert context["pagetitle"] == "&lt;img src=x onerror=alert(1)&gt;"
    assert context["root_title"] == "<b>ours</b>" and context["other"] == IMG  # Markup is left alone, others too
    # as the theme prints it: raw (navbar), inside an attribute (logo alt) and through |e (<title>)
    page = Environment().from_string('<p>{{ docstitle }}</p><img alt="{{ "%s - Home" % docstitle }}">'
                                     "<title>{{ docstitle|e }}</title>").render(context)
    assert page.count("&lt;script&gt;") == 3 and "<script>" not in page and "&amp;lt;" not in page


# --- one report built from hostile data and params --------------------------------------------------------------


def _hostile_csv(source: Path, folder: Path) -> Path:
    """The small customer file with payloads in the text fields the report shows, named with a payload."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    recency = pd.to_datetime(frame["last_purchase_date"]).rank(method="first", ascending=False)
    third = len(frame) / 3
    # recent buyers (Top, New), the middle and the lapsed (At Risk, Dormant) get different top categories
    frame["favorite_category"] = [
        ATTACH if r <= third else (FILE_IMAGE + RAW_BLOCK if r <= 2 * third else f"{IMG} {JS_LINK}")
        for r in recency]
    for step, payload in ((7, MATH), (11, RAW_ROLE + LITERALINCLUDE), (13, "Home & Garden")):
        frame.loc[frame.index % step == 0, "favorite_category"] = payload
    frame.loc[frame.index % 5 == 0, "device_type"] = IMG
    frame.loc[frame.index % 9 == 0, "gender"] = JS_LINK + INCLUDE
    frame.loc[frame.index % 17 == 0, "country"] = FILE_IMAGE
    frame.loc[frame.index % 3 == 0, "city"] = ATTACH + INCLUDE
    frame.loc[[4, 8], "age"] = "150"  # out of range: flagged and kept, so the rows are quality examples
    path = folder / "customers ` {raw}`html`<img src=x onerror=alert(1)>` `.csv"
    frame.to_csv(path, index=False)
    return path


def _hostile_params(folder: Path, csv: Path) -> Path:
    """params/default.yaml with payloads in the title and in every segment text."""
    raw = yaml.safe_load((ROOT / "params" / "default.yaml").read_text(encoding="utf-8"))
    raw.update(input=str(csv), mart_dir=str(folder / "mart"),
               title=f"Payload {SCRIPT_TITLE} & {RAW_ROLE} {JS_LINK} \\ *x*")
    top, at_risk, new, dormant = raw["segments"]
    top["name"] = f"Top {IMG}{INCLUDE}"
    top["risks"][0] = f"Risk {ATTACH}{LITERALINCLUDE}"
    at_risk["name"] = f"At Risk {JS_LINK} {FILE_IMAGE}"
    at_risk["description"] = f"Lapsed {RAW_BLOCK} {RAW_ROLE}"
    new["description"] = f"New {ATTACH}{LITERALINCLUDE}"
    new["actions"][0] = f"Recommend from the favourite category {IMG}{INCLUDE}"
    dormant["risks"] = [f"{IMG}{INCLUDE}", RAW_ROLE]
    raw["fallback"]["name"] = f"Steady {RAW_ROLE}"
    for seg in raw["segments"]:
        seg["actions"][-1] += " (by favourite category)"  # every page states its top category
    path = folder / "hostile ` <img src=x onerror=alert(1)> `.yaml"  # no braces: papermill formats paths
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@dataclass(frozen=True)
class HostileReport:
    """The report built from the hostile customer file and params."""

    params: Params
    paths: ReportPaths
    root: Path

    @property
    def site(self) -> Path:
        """The published site."""
        return self.paths.site_index.parent

    def pages(self) -> list[Path]:
        """The site's pages."""
        return site_pages(self.site)


@pytest.fixture(scope="module")
def hostile(small_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> HostileReport:
    """The report of the hostile inputs, built cold."""
    folder = tmp_path_factory.mktemp("hostile")
    params = load_params(_hostile_params(folder, _hostile_csv(small_csv, folder)))
    run(params)
    root = folder / "out"
    paths = build_report(params, progress=lambda _line: None, root=root)
    return HostileReport(params, paths, root)


class _Elements(HTMLParser):
    """Every start tag of a page with its attributes, and the page's text."""

    def __init__(self) -> None:
        """Nothing seen yet."""
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record the tag."""
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        """Record the text."""
        self.text.append(data)


def _elements(page: Path) -> _Elements:
    """The parsed page."""
    parser = _Elements()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def _article(page: Path) -> tuple[str, str]:
    """The text of a page's H1 and of its whole article, as a reader sees them."""
    body = re.search(r'<article class="bd-article">(.*?)</article>', page.read_text(encoding="utf-8"), re.S).group(1)
    title = re.search(r"<h1>(.*?)<a class=\"headerlink\"", body, re.S).group(1)
    parser = _Elements()
    parser.feed(body)
    return shown(html.unescape(title)), shown(" ".join(parser.text))


def _segment_page(report: HostileReport, segment_id: str) -> Path:
    """The page of one segment."""
    return next((report.site / "chapters").glob(f"05_segment_*_{segment_id}.html"))


@pytest.mark.slow
def test_no_payload_becomes_an_element_or_attribute_in_the_site(hostile: HostileReport) -> None:
    found = []
    for page in hostile.pages():
        for tag, attrs in _elements(page).tags:
            where = f"{page.relative_to(hostile.site)}: <{tag} {attrs}>"
            if any(name.startswith("on") for name in attrs):
                found.append(where)
            if attrs.get("src") == "x" or "attachment" in (attrs.get("rel") or ""):
                found.append(where)
            if (attrs.get("href") or attrs.get("src") or "").lower().startswith(("javascript:", "file:")):
                found.append(where)
        text = page.read_text(encoding="utf-8")
        assert "alert(1)</script>" not in text.replace("&lt;script&gt;alert(1)&lt;/script&gt;", "")
    assert not found, found[:5]


@pytest.mark.slow
def test_every_markdown_output_of_every_chapter_is_text(hostile: HostileReport) -> None:
    import nbformat

    chapters = sorted(ReportLayout(hostile.root, hostile.params.name).chapters_dir.glob("*.ipynb"))
    assert len(chapters) == 7 + len(hostile.params.all_segments)  # seven chapters and the segments (no migration)
    for path in chapters:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":  # MyST: only the template's headings and text, and the retitled H1
                assert not [t for t in _markup_tokens(cell.source) if not t.startswith("heading_")], path.name
            for output in cell.get("outputs", []):
                source = output.get("data", {}).get("text/markdown")
                if source:
                    found = [t for t in _markup_tokens(source) if not t.startswith("fence 'yaml'")]
                    assert not found, (path.name, found)


@pytest.mark.slow
def test_nothing_of_etc_passwd_is_in_the_site_or_the_pdf(hostile: HostileReport) -> None:
    for path in hostile.root.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".js", ".txt", ".md", ".ipynb", ".json", ".svg"):
            assert PASSWD not in path.read_text(encoding="utf-8", errors="replace"), path
    pdf_text = subprocess.run(["pdftotext", str(hostile.paths.pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
    assert PASSWD not in pdf_text


@pytest.mark.slow
def test_the_pdf_embeds_no_attachment_and_shows_the_payloads_as_text(hostile: HostileReport) -> None:
    listing = subprocess.run(["pdfdetach", "-list", str(hostile.paths.pdf)], capture_output=True, text=True,
                             check=True).stdout
    assert listing.strip() == "0 embedded files", listing
    pdf_text = subprocess.run(["pdftotext", str(hostile.paths.pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
    text = shown(pdf_text).replace(" ", "")  # compared without whitespace: lines wrap anywhere
    for value in (hostile.params.title, ATTACH, IMG, JS_LINK, FILE_IMAGE, RAW_ROLE, INCLUDE, RAW_BLOCK,
                  LITERALINCLUDE, f"Top {IMG}{INCLUDE}", f"top category {ATTACH}", f"top category {IMG} {JS_LINK}"):
        assert "".join(value.split()) in text, value
    before_appendix = text.split("Paramsused")[0]  # the appendix shows the params file's YAML as it is
    title = "".join(hostile.params.title.split())
    assert not re.search(r"\\[!-/:-@[-`{-~]", before_appendix.replace(title, "")), "stray escapes"


@pytest.mark.slow
def test_segment_pages_show_names_descriptions_and_top_categories_as_text(hostile: HostileReport) -> None:
    h1, top = _article(_segment_page(hostile, "top"))
    assert h1 == flat(f"Top {IMG}{INCLUDE}")  # the segment name, whole, as the page title
    assert f"top category {ATTACH}" in top
    h1, new = _article(_segment_page(hostile, "new"))
    assert h1 == "New Customers" and flat(f"New {ATTACH}{LITERALINCLUDE}") in new
    assert flat(f"favourite category {IMG}{INCLUDE}") in new
    h1, at_risk = _article(_segment_page(hostile, "at_risk"))
    assert h1 == flat(f"At Risk {JS_LINK} {FILE_IMAGE}") and flat(f"Lapsed {RAW_BLOCK} {RAW_ROLE}") in at_risk
    assert f"top category {IMG} {JS_LINK}" in at_risk
    h1, index = _article(hostile.paths.site_index)
    assert h1 == flat(hostile.params.title) and "hostile ` <img src=x onerror=alert(1)> `.yaml" in index
    assert not re.search(r"\\[!-/:-@[-`{-~]", index.replace(h1, "")), "stray escapes in the index's own words"


@pytest.fixture(scope="module")
def hostile_url(hostile: HostileReport) -> Iterator[str]:
    """The hostile site served from 127.0.0.1."""
    with served_folder(hostile.site, "hostile-site-server") as url:
        yield url


@pytest.mark.slow
@pytest.mark.browser
def test_no_page_runs_a_payload_in_a_real_browser(hostile: HostileReport, hostile_url: str) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    dialogs: list[str] = []
    requests: list[str] = []
    pages = [p.relative_to(hostile.site).as_posix() for p in hostile.pages()]
    title = flat(hostile.params.title)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = chromium.new_page(viewport={"width": 1360, "height": 900})
            page.on("dialog", lambda dialog: (dialogs.append(f"{page.url}: {dialog.message}"), dialog.dismiss()))
            page.on("request", lambda req: requests.append(req.url))
            for name in pages:
                page.goto(hostile_url + name, wait_until="load")
                time.sleep(0.05)
                assert title in page.title(), name
                assert page.locator(".navbar-brand .logo__title").first.inner_text().strip() == title
            page.goto(hostile_url + "search.html?q=payload", wait_until="load")
            page.wait_for_timeout(500)
        finally:
            chromium.close()
    assert not dialogs, dialogs
    assert not [u for u in requests if not u.startswith((hostile_url, "data:", "blob:"))], requests
    assert not [u for u in requests if u.endswith("/x") or "passwd" in u], requests
