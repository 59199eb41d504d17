"""Every value from the customer file or the params is text, never markup, in the site and the PDF.

A hostile reviewer's payloads (raw HTML with script handlers, a `rel="attachment"` link to /etc/passwd, Markdown
links and images to `javascript:` and `file:`, MyST roles and `{include}` / `{raw}` / `{literalinclude}` directives
after a newline) go in through the customer file and through the params; one report is built from them, and the
site and the PDF must show them as plain text: no dialog in a real browser, no attachment in the PDF, and nothing
of /etc/passwd anywhere. Fast tests cover the escaping helpers, the PDF's URL fetcher and the print document.
"""

from __future__ import annotations

import string
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.report.display import Markdown, Table
from segmentation.report.escape import Md, md_code, md_code_block, md_text
from segmentation.report.pdf import PdfMeta, build_folder_fetcher, print_document

from .conftest import ROOT

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
            "top_movements": [{"sentence": f"4 customers (40% of {RAW_ROLE}) moved to {IMG}{INCLUDE}."}]}
    fake = SimpleNamespace(info=info, before_date="2026-01-01", after_date="2026-02-01", current=False)
    monkeypatch.setattr(report_migration, "load", lambda ctx: fake)
    ctx = SimpleNamespace(mart=SimpleNamespace(path=tmp_path / f"mart {IMG}"))
    for block in (report_migration.headline(ctx), report_migration.method(ctx)):
        assert not _markup_tokens(block.text), _markup_tokens(block.text)
    text = report_migration.headline(ctx).text
    assert _inline_text(_parsers()[0], text.split("\n\n")[1]) == flat(f"The largest movement by revenue: "
                                                                      f"4 customers (40% of {RAW_ROLE}) moved to "
                                                                      f"{IMG}{INCLUDE}.")


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

    conf = runpy.run_path(str(ROOT / "report" / "conf.py"))
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
