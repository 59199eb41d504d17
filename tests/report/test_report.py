"""The stakeholder report: figure and table functions, chapter cache, the built site and PDF, and a real browser.

One report is built per test session from the small mart (2,000 customers) and shared by the build tests.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import matplotlib
import nbformat
import pytest
from matplotlib.figure import Figure

from segmentation.config.params import Params, load_params
from segmentation.config.schema import FIELD_LABELS
from segmentation.mart.store import read_mart
from segmentation.report import (
    ChapterFailedError,
    figures,
    load_context,
    narrative,
    tables,
)
from segmentation.report import insights as insight_words
from segmentation.report.build import ReportLayout, ReportPaths, build_report
from segmentation.report.chapters import (
    MIGRATION_TEMPLATE,
    Chapter,
    chapter_key,
    execute_chapters,
    execute_notebook,
    inputs_digest,
    plan_chapters,
)
from segmentation.report.escape import md_text
from segmentation.report.recommend import (
    median_orders,
    recommendations,
    target_segments,
)
from segmentation.report.site import external_assets
from segmentation.words.formatting import Money
from segmentation.words.traits import trait_text, trait_texts
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, require_chromium, served_folder, site_pages

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES_DIR = ROOT / "chapters"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
USD, GBP = Money.of("USD"), Money.of("GBP")

# sphinx-book-theme 1.4 touches an attribute Sphinx 9 deprecates; harmless, and not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*HandleFootnoteTransform.app' is deprecated")


# --- figures and tables (no kernels) -------------------------------------------------------------------------


def test_figures_are_png_and_svg_and_identical_on_rerun(small_mart: Params) -> None:
    ctx = load_context(small_mart.path, small_mart.mart_dir)
    first, second = figures.kpi_deltas(ctx, "top"), figures.kpi_deltas(ctx, "top")
    assert first.png.startswith(b"\x89PNG") and first.svg.lstrip().startswith("<?xml")
    assert first.png == second.png and first.svg == second.svg
    assert "<dc:date>" not in first.svg


def test_every_figure_function_draws_on_the_small_mart(small_mart: Params, tmp_path: Path) -> None:
    ctx = load_context(small_mart.path, small_mart.mart_dir)
    report_figures = [
        figures.segment_shares(ctx), figures.rfm_distributions(ctx), figures.attribute_distributions(ctx),
        figures.attribute_mix(ctx), figures.lorenz_curve(ctx), figures.score_cube_map(ctx), figures.kpi_heatmap(ctx),
        figures.spend_by_segment(ctx), figures.score_profiles(ctx), figures.recommendation_audiences(ctx),
    ]
    for seg in (small_mart.all_segments[0], small_mart.fallback):  # the build draws every segment's figures
        report_figures += [figures.kpi_deltas(ctx, seg.id), figures.score_mix(ctx, seg.id),
                           figures.premium_split(ctx, seg.id), figures.demographics(ctx, seg.id),
                           figures.preferences(ctx, seg.id)]
    names = [f.name for f in report_figures]
    assert len(names) == len(set(names)), "figure names must be unique: they are file names"
    written = report_figures[0].save(tmp_path)
    assert sorted(p.suffix for p in written) == [".png", ".svg"]


@functools.cache
def glyph_ref(char: str) -> str:
    """How a report figure's SVG refers to a character (text is drawn as glyph paths), found by drawing it alone."""
    with matplotlib.rc_context(figures.STYLE):
        fig = Figure()
        fig.text(0, 0, char)
        svg = io.StringIO()
        fig.savefig(svg, format="svg")
    (glyph,) = re.findall(r'<path id="(DejaVuSans-\w+)"', svg.getvalue())
    return f'xlink:href="#{glyph}"'


def test_figures_show_amounts_in_the_params_currency(small_mart: Params, small_mart_gbp: Params) -> None:
    pound, dollar = glyph_ref("£"), glyph_ref("$")
    for params, shown, absent in ((small_mart_gbp, pound, dollar), (small_mart, dollar, pound)):
        ctx = load_context(params.path, params.mart_dir)
        # money on a log axis and its label, KPI labels, bar labels, income ticks and label
        for figure in (figures.rfm_distributions(ctx), figures.spend_by_segment(ctx), figures.kpi_deltas(ctx, "top"),
                       figures.recommendation_audiences(ctx), figures.demographics(ctx, "top"),
                       figures.attribute_distributions(ctx), figures.premium_split(ctx, "top")):
            assert shown in figure.svg and absent not in figure.svg, (params.currency, figure.name)


def test_tables_and_sentences_show_amounts_in_the_params_currency(small_mart_gbp: Params) -> None:
    ctx = load_context(small_mart_gbp.path, small_mart_gbp.mart_dir)
    assert ctx.money == Money.of("GBP")
    shown = [t._repr_html_() for t in (tables.customer_base_numbers(ctx), tables.score_cutoffs(ctx),
                                       tables.kpi_comparison(ctx), tables.premium_split(ctx, "top"),
                                       tables.recommendation_targets(ctx), tables.segment_traits(ctx, "top"))]
    shown += [m.text for m in (narrative.headline(ctx), narrative.key_insights(ctx), narrative.segment_size(ctx, "top"),
                               narrative.segment_actions(ctx, "top"), narrative.recommendation_details(ctx))]
    assert all("£" in text for text in shown[:5] + shown[6:])  # the traits table shows money only for income & AOV
    assert not [text for text in shown if "$" in text]
    assert md_text(ctx.money(ctx.mart.insights["revenue"])) in narrative.headline(ctx).text


def test_segment_colour_is_the_params_colour_in_figures(small_mart: Params) -> None:
    ctx = load_context(small_mart.path, small_mart.mart_dir)
    seg = small_mart.segment("top")
    assert ctx.colors["top"] == seg.color
    assert seg.color.lower() in figures.kpi_deltas(ctx, "top").svg.lower()


def test_segment_overview_has_every_segment_and_column(small_mart: Params) -> None:
    ctx = load_context(small_mart.path, small_mart.mart_dir)
    overview = tables.segment_overview(ctx)
    assert list(overview.frame["ID"]) == [s.id for s in small_mart.all_segments]
    assert {"Segment", "Customers", "% of customers", "% of revenue", "Key traits", "KPI vs overall",
            "Recommended actions", "Risks"} <= set(overview.frame.columns)
    html = overview._repr_html_()
    assert html.count("<tr>") == len(small_mart.all_segments) + 1
    assert small_mart.segment("top").color in html


def test_cutoff_table_covers_every_score(small_mart: Params) -> None:
    ctx = load_context(small_mart.path, small_mart.mart_dir)
    cutoffs = tables.score_cutoffs(ctx).frame
    assert list(cutoffs["Score"]) == list(range(1, small_mart.bins + 1))
    assert cutoffs.iloc[0]["Recency (days since last order)"].startswith("≥")
    assert cutoffs.iloc[-1]["Recency (days since last order)"].startswith("<")


def test_insight_numbers_read_as_text() -> None:
    numbers = {"top_20pct_share": 0.4, "revenue": 2_100_000.0, "customers": 1234, "definition": "R score >= 4"}
    assert narrative.insight_numbers(numbers, USD) == (
        "top 20pct share 40.0%; revenue $2.1M; customers 1,234; definition: R score >= 4")
    assert "revenue £2.1M;" in narrative.insight_numbers(numbers, GBP)


def _insight(insight_id: str, **numbers) -> dict:
    """An insights.json record."""
    return {"id": insight_id, "numbers": numbers}


UPLIFT = dict(confidence=0.95, customers_with_known_status=900, matched_cells=40, premium_customers=300,
              frequency={"ratio": 1.1, "ci_low": 1.0, "ci_high": 1.2, "meaningful": True})


@pytest.mark.parametrize("item, expected", [
    (_insight("revenue_concentration", customers=100, top_1pct_share=0.052, top_20pct_share=0.61, gini=0.5549),
     "Revenue is highly concentrated: the top 20% of customers bring in 61% of revenue and the top 1% bring in 5.2% "
     "(Gini 0.55)."),
    (_insight("revenue_concentration", customers=100, top_1pct_share=0.03, top_20pct_share=0.4, gini=0.3),
     "Revenue is moderately concentrated: the top 20% of customers bring in 40% of revenue and the top 1% bring in "
     "3.0% (Gini 0.30)."),
    (_insight("revenue_concentration", customers=100, top_1pct_share=0.01, top_20pct_share=0.25, gini=0.1),
     "Revenue is spread broadly across customers: the top 20% of customers bring in 25% of revenue and the top 1% "
     "bring in 1.0% (Gini 0.10)."),
    (_insight("recency_split", recent_customers=1993, r_score_min=4, frequent_f_score_min=4,
              low_frequency_f_score_max=2, frequent_share=0.2, low_frequency_share=0.6, frequent_revenue=1.0,
              low_frequency_revenue=2.0),
     "Of the 1,993 recently active customers (R ≥ 4), 20% buy frequently (F ≥ 4) and 60% have bought only a few "
     "times (F ≤ 2): recent activity is carried mostly by new, low-frequency buyers: a pipeline to convert."),
    (_insight("at_risk_value", r_score_max=2, f_score_min=3, m_score_min=3, customers=511, revenue=326_855.37,
              revenue_share=0.1002, median_recency_days=601.0, others_median_recency_days=220.0),
     "511 lapsed high-value customers (R ≤ 2, F ≥ 3, M ≥ 3) hold a large 10% of revenue ($326.9K); their last "
     "purchase was a median of 601 days ago, against 220 days for everyone else."),
    (_insight("at_risk_value", r_score_max=2, f_score_min=3, m_score_min=3, customers=0, revenue=0.0,
              revenue_share=0.0, median_recency_days=None, others_median_recency_days=220.0),
     "No customers are both lapsed (R ≤ 2) and of high frequency and value."),
    (_insight("premium_uplift", **UPLIFT, monetary={"ratio": 1.1567, "ci_low": 1.0278, "ci_high": 1.294,
                                                    "meaningful": True}),
     "Within the same RFM cell, premium subscribers spend 15.7% more than non-subscribers (95% interval "
     "1.028–1.294) and order 1.10× as often, across 40 matched cells."),
    (_insight("premium_uplift", **UPLIFT, monetary={"ratio": 0.98, "ci_low": 0.9, "ci_high": 1.06,
                                                    "meaningful": False}),
     "Within the same RFM cell, premium subscribers spend 0.98× what non-subscribers spend (95% interval "
     "0.90–1.06): no meaningful uplift, so premium is best treated as a service modifier, not a value driver."),
    (_insight("premium_uplift", **{**UPLIFT, "customers_with_known_status": 0, "matched_cells": None,
                                   "premium_customers": None},
              monetary={"ratio": None, "ci_low": None, "ci_high": None, "meaningful": False}),
     "This data has no premium subscription status: the premium uplift is not measured."),
])
def test_insight_sentences_are_chosen_by_the_numbers(item: dict, expected: str) -> None:
    assert insight_words.sentence(item, USD) == expected


def test_insight_sentences_show_amounts_in_the_given_currency() -> None:
    item = _insight("at_risk_value", r_score_max=2, f_score_min=3, m_score_min=3, customers=511, revenue=326_855.37,
                    revenue_share=0.1002, median_recency_days=601.0, others_median_recency_days=220.0)
    assert "of revenue (£326.9K);" in insight_words.sentence(item, GBP)


def test_key_insights_word_each_insight_of_the_mart_with_its_numbers(small_mart: Params) -> None:
    ctx = load_context(small_mart.path, small_mart.mart_dir)
    text = narrative.key_insights(ctx).text
    for i, item in enumerate(ctx.mart.insights["insights"], start=1):
        sentence = insight_words.sentence(item, USD)
        assert f"{i}. **{md_text(insight_words.TITLES[item['id']])}.** {md_text(sentence)}" in text
    # score bounds are said once, as a definition, not listed among the numbers
    assert md_text("definition: R ≥ 4; frequent: F ≥ 4; low-frequency: F ≤ 2") in text
    assert md_text("definition: R ≤ 2, F ≥ 3, M ≥ 3") in text
    assert "score min" not in text and "score max" not in text


@pytest.mark.parametrize("trait, expected", [
    (("age", 0.85, 52.34, 41.0), "Age: 52.3 vs 41.0 for the rest (much higher, d = +0.85)"),
    (("income", -0.5, 61_234.5, 70_000.0), "Income: $61.2K vs $70.0K for the rest (clearly lower, d = -0.50)"),
    (("avg_order_value", 0.3, 85.2, 61.0), "Avg order value: $85 vs $61 for the rest (slightly higher, d = +0.30)"),
    (("churn_risk", 0.2, 0.5, 0.4), "Churn risk: 0.50 vs 0.40 for the rest (slightly higher, d = +0.20)"),
    (("subscription", 0.19, 0.4, 0.33), "Premium: 40% vs 33% for the rest (barely higher, h = +0.19)"),
    (("favorite_category=Home & Garden", -0.8, 0.06, 0.29),
     "Favourite category Home & Garden: 6% vs 29% for the rest (much lower, h = -0.80)"),
])
def test_traits_are_worded_from_their_numbers(trait: tuple, expected: str) -> None:
    assert trait_text(*trait, USD) == expected
    assert trait_text(*trait, GBP) == expected.replace("$", "£")


def test_trait_tables_word_the_summary_numbers(small_mart: Params) -> None:
    ctx = load_context(small_mart.path, small_mart.mart_dir)
    row = ctx.summary_row("top")
    texts = trait_texts(row, USD)
    assert len(texts) == 5 and texts[0].startswith(FIELD_LABELS[row["trait_features"][0].partition("=")[0]])
    assert list(tables.segment_traits(ctx, "top").frame["Trait"]) == texts
    assert tables.segment_overview(ctx).frame.set_index("ID").loc["top", "Key traits"] == texts[:3]


@pytest.mark.parametrize("check, expected", [
    ({"count": 0, "policy": "drop"}, "none needed"),
    ({"count": 12, "policy": "drop"}, "dropped 12 rows"),
    ({"count": 1, "policy": "flag"}, "kept and flagged 1 row"),
    ({"count": 1_234, "policy": "flag"}, "kept and flagged 1,234 rows"),
])
def test_quality_check_actions_are_worded_from_policy_and_count(check: dict, expected: str) -> None:
    assert tables.check_action(check) == expected


@pytest.mark.parametrize("fixture, expected", [
    ("small_mart", {"protect": "top", "activate": "new", "reengage": "at_risk"}),
    ("small_mart_rfm11", {"protect": "champions", "activate": "new", "reengage": "cant_lose"}),
])
def test_recommendation_targets_come_from_the_segment_numbers(request, fixture: str, expected: dict) -> None:
    params = request.getfixturevalue(fixture)
    ctx = load_context(params.path, params.mart_dir)
    assert target_segments(ctx.summary, median_orders(ctx)) == expected
    recs = recommendations(ctx)
    assert [r.key for r in recs] == ["protect", "activate", "reengage", "premium"]
    assert all(r.customers > 0 and r.revenue > 0 for r in recs)


def test_protect_targets_the_highest_spend_whatever_the_ids(small_mart: Params) -> None:
    ctx = load_context(small_mart.path, small_mart.mart_dir)
    summary = ctx.summary.copy()
    summary.loc[summary["segment_id"] == "dormant", "avg_monetary"] = 1e9
    assert target_segments(summary, median_orders(ctx))["protect"] == "dormant"


def test_plan_has_one_chapter_per_segment_in_precedence_order(small_mart: Params) -> None:
    chapters = plan_chapters(small_mart)
    segment_ids = [c.parameters["segment_id"] for c in chapters if c.is_segment]
    assert segment_ids == [s.id for s in small_mart.all_segments]
    assert len({c.slug for c in chapters}) == len(chapters)
    assert [c.title for c in chapters if c.is_segment] == [s.name for s in small_mart.all_segments]


def test_cache_key_covers_params_mart_template_and_segment(small_mart: Params, tmp_path: Path) -> None:
    inputs = inputs_digest(small_mart, small_mart.mart_dir)
    template = TEMPLATES_DIR / "05_segment.ipynb"
    top, new = Chapter("a", template, {"segment_id": "top"}), Chapter("a", template, {"segment_id": "new"})
    assert chapter_key(top, inputs) != chapter_key(new, inputs)
    edited = _params_variant(small_mart, tmp_path, title="Another title")
    assert inputs_digest(edited, edited.mart_dir) != inputs
    mart_copy = shutil.copytree(small_mart.mart_dir, tmp_path / "mart")
    (mart_copy / "insights.json").write_text((mart_copy / "insights.json").read_text() + "\n")
    assert inputs_digest(small_mart, mart_copy) != inputs


def test_chapter_cache_key_covers_every_module_a_chapter_imports() -> None:
    import subprocess
    import sys

    from segmentation.core.fingerprint import source_files
    from segmentation.report.chapters import template_imports

    imports = template_imports(sorted(TEMPLATES_DIR.glob("*.ipynb")))
    assert {"segmentation.report.figures", "segmentation.report.migration"} <= imports
    probe = ("import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]; "
             "print('\\n'.join(m.__file__ for n, m in sys.modules.items() if n.startswith('segmentation')))")
    loaded = subprocess.run([sys.executable, "-c", probe, *sorted(imports)], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    covered = set(source_files(imports))
    missing = {Path(f).resolve() for f in loaded.stdout.split()} - covered
    assert not missing, f"modules a chapter loads but its cache key leaves out: {sorted(map(str, missing))}"
    assert not any(p.name in {"build.py", "pdf.py", "site.py"} for p in covered)  # layout changes re-execute nothing


def _params_variant(params: Params, folder: Path, **changes) -> Params:
    """A copy of the params file with top-level keys changed; data paths stay absolute."""
    import yaml

    raw = yaml.safe_load(params.path.read_text(encoding="utf-8"))
    raw.update(changes, input=str(params.input_path), mart_dir=str(params.mart_dir))
    path = folder / params.path.name
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return load_params(path)


# --- chapter execution and cache (one tiny notebook: fast) ---------------------------------------------------


def _tiny_template(folder: Path, body: str = "print(params_path, mart_dir)") -> Path:
    """A one-cell chapter template with the report's parameters cell."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('params_path = ""\nmart_dir = ""', metadata={"tags": ["parameters"]})
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny"), params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_rerun_is_cached_and_a_params_or_mart_change_reexecutes(small_mart: Params, tmp_path: Path) -> None:
    chapters = [Chapter("tiny", _tiny_template(tmp_path))]
    out = tmp_path / "chapters"

    def run(params: Params, mart_dir: Path) -> list[str]:
        """Execute the tiny chapter; return the progress lines."""
        lines: list[str] = []
        execute_chapters(chapters, params=params, mart_dir=mart_dir, out_dir=out, progress=lines.append)
        return lines

    assert run(small_mart, small_mart.mart_dir)[0].startswith("chapter tiny: executed")
    assert run(small_mart, small_mart.mart_dir) == ["chapter tiny: cached"]
    edited = _params_variant(small_mart, tmp_path, title="Another title")
    assert run(edited, edited.mart_dir)[0].startswith("chapter tiny: executed")
    mart_copy = shutil.copytree(small_mart.mart_dir, tmp_path / "mart")
    (mart_copy / "manifest.json").write_text((mart_copy / "manifest.json").read_text() + "\n")
    assert run(edited, mart_copy)[0].startswith("chapter tiny: executed")


# --- the whole report, built once ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltReport:
    """A report built from the small mart, with its progress lines."""

    params: Params
    paths: ReportPaths
    root: Path
    lines: list[str]

    @property
    def site(self) -> Path:
        """The published site folder."""
        return self.paths.site_index.parent

    def pages(self) -> list[Path]:
        """The site's pages (not the theme's Jinja macro files that Sphinx copies into _static)."""
        return site_pages(self.site)


@pytest.fixture(scope="module")
def built(small_mart: Params, tmp_path_factory: pytest.TempPathFactory) -> BuiltReport:
    """The report of the small mart, built cold into a temporary root."""
    root = tmp_path_factory.mktemp("report")
    lines: list[str] = []
    paths = build_report(small_mart, progress=lines.append, root=root)
    return BuiltReport(small_mart, paths, root, lines)


@pytest.mark.slow
def test_build_executes_every_template_without_errors(built: BuiltReport) -> None:
    planned = plan_chapters(built.params)
    # the small mart has no segment migration, so the migration chapter is left out
    assert {c.template.name for c in planned} == {p.name for p in TEMPLATES_DIR.glob("*.ipynb")} - {MIGRATION_TEMPLATE}
    executed = sorted(ReportLayout(built.root, built.params.name).chapters_dir.glob("*.ipynb"))
    assert [p.stem for p in executed] == sorted(c.slug for c in planned)
    for path in executed:
        nb = nbformat.read(path, as_version=4)
        outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
        assert not [o for o in outputs if o.output_type == "error"], path.name
        assert not [o for o in outputs if o.get("name") == "stderr"], f"{path.name} wrote to stderr"
        ids = [cell.id for cell in nb.cells]
        assert len(set(ids)) == len(ids) and all(i.startswith(path.stem[:20]) for i in ids)
    chapter_lines = [line for line in built.lines if line.startswith("chapter ")]
    assert len(chapter_lines) == len(planned)
    assert all(re.fullmatch(r"chapter \S+: executed in [\d.]+ s", line) for line in chapter_lines)


@pytest.mark.slow
def test_every_segment_has_a_page_titled_with_its_name(built: BuiltReport) -> None:
    titles = {}
    for page in (built.site / "chapters").glob("*.html"):
        html = page.read_text(encoding="utf-8")
        match = re.search(r'<article class="bd-article">.*?<h1>(.*?)<a class="headerlink"', html, re.S)
        titles[page.name] = match.group(1).strip() if match else None
    for seg in built.params.all_segments:
        assert seg.name in titles.values(), f"no page for segment {seg.id}"
    assert "Segment" not in titles.values(), "the template's own H1 leaked into a page"


class _Links(HTMLParser):
    """Every link target, image source and element id of one HTML page."""

    def __init__(self) -> None:
        """Start with no links and no ids."""
        super().__init__()
        self.targets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record the tag's id and its link or source."""
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        for key in ("href", "src"):
            if values.get(key) and tag in ("a", "img", "link", "script"):
                self.targets.append(values[key])


def _parse(page: Path) -> _Links:
    """The links and ids of one page."""
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


@pytest.mark.slow
def test_every_internal_link_and_image_resolves(built: BuiltReport) -> None:
    parsed = {page: _parse(page) for page in built.pages()}
    broken = []
    for page, links in parsed.items():
        for target in links.targets:
            parts = urlsplit(target)
            if parts.scheme or target.startswith(("mailto:", "javascript:")):
                continue
            resolved = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not resolved.exists():
                broken.append(f"{page.relative_to(built.site)} → {target}")
            elif parts.fragment and resolved.suffix == ".html":
                ids = parsed[resolved].ids if resolved in parsed else _parse(resolved).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(built.site)} → {target} (no such anchor)")
    assert not broken, broken[:10]
    images = [t for links in parsed.values() for t in links.targets if t.endswith((".svg", ".png"))]
    assert len(images) >= 5 * len(built.params.all_segments)


@pytest.mark.slow
def test_site_loads_nothing_from_the_network_and_shows_no_email(built: BuiltReport) -> None:
    assert external_assets(built.site) == []
    for page in built.pages():
        text = page.read_text(encoding="utf-8")
        assert not EMAIL.search(text), f"{page.name}: {EMAIL.search(text).group(0)}"
    assert not {"name", "email"} & set(read_mart(built.params.mart_dir).customers.columns)


@pytest.mark.slow
def test_pdf_has_a_contents_page_every_segment_and_page_numbers(built: BuiltReport) -> None:
    from pypdf import PdfReader

    reader = PdfReader(built.paths.pdf)
    pages = [page.extract_text() for page in reader.pages]
    assert "Contents" in pages[1]
    assert built.params.title.split("—")[0].strip() in pages[0]
    for seg in built.params.all_segments:
        assert seg.name in pages[1], f"{seg.name} missing from the contents"
        assert sum(seg.name in text for text in pages[2:]) >= 2
    assert all(re.search(rf"(^|\n)\s*{i}\s*($|\n)", text) for i, text in enumerate(pages, start=1))
    assert not any(EMAIL.search(text) for text in pages)
    assert len(reader.pages) > 8 + len(built.params.all_segments)


@pytest.mark.slow
def test_every_figure_is_written_as_png_and_svg(built: BuiltReport) -> None:
    pngs = {p.stem for p in built.paths.figures_dir.glob("*.png")}
    svgs = {p.stem for p in built.paths.figures_dir.glob("*.svg")}
    assert pngs == svgs
    for seg in built.params.all_segments:
        assert f"segment-{figures.segment_slug(seg.id)}-kpi-deltas" in pngs
    assert {"score-cube", "revenue-concentration", "segment-shares"} <= pngs


def file_states(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under `root`: its mtime (ns) and bytes, by relative path."""
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes()) for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_unchanged_rerun_executes_nothing_and_touches_no_file(built: BuiltReport) -> None:
    before = file_states(built.root)
    lines: list[str] = []
    build_report(built.params, progress=lines.append, root=built.root)
    chapter_lines = [line for line in lines if line.startswith("chapter ")]
    assert chapter_lines and all(line.endswith(": cached") for line in chapter_lines)
    assert "site and pdf: unchanged" in lines
    after = file_states(built.root)
    assert after.keys() == before.keys()
    assert [name for name in before if after[name] != before[name]] == []


@pytest.mark.slow
def test_failing_chapter_names_notebook_and_cell_and_keeps_the_site(
    built: BuiltReport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    templates = shutil.copytree(TEMPLATES_DIR, tmp_path / "chapters")
    broken = templates / "09_appendix.ipynb"
    nb = nbformat.read(broken, as_version=4)
    nb.cells[-1].source = "raise ValueError('appendix exploded')"
    nbformat.write(nb, broken)
    params = dataclasses.replace(built.params, chapters_dir=templates)  # the params' `chapters` setting
    index = built.paths.site_index
    before = (index.read_bytes(), sorted(p.name for p in index.parent.iterdir()), built.paths.pdf.read_bytes())

    with pytest.raises(ChapterFailedError) as failure:
        build_report(params, progress=lambda _line: None, root=built.root)

    message = str(failure.value)
    assert "09_appendix.ipynb" in message and f"cell {len(nb.cells)}" in message
    assert "ValueError: appendix exploded" in message and "\n" not in message
    after = (index.read_bytes(), sorted(p.name for p in index.parent.iterdir()), built.paths.pdf.read_bytes())
    assert after == before


class _VisibleText(HTMLParser):
    """The text a reader sees on a page: everything outside <script> and <style>."""

    def __init__(self) -> None:
        """Start with no text."""
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, _attrs: list[tuple[str, str | None]]) -> None:
        """Entering a script or style hides its content."""
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        """Leaving a script or style shows text again."""
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        """Keep text outside scripts and styles."""
        if not self._hidden:
            self.parts.append(data)


def visible_text(page: Path) -> str:
    """The visible text of one HTML page."""
    parser = _VisibleText()
    parser.feed(page.read_text(encoding="utf-8"))
    return " ".join(parser.parts)


@pytest.mark.slow
def test_a_gbp_report_shows_pounds_and_no_dollar_on_any_page_or_in_the_pdf(
    small_mart_gbp: Params, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from pypdf import PdfReader

    root = tmp_path_factory.mktemp("report_gbp")
    paths = build_report(small_mart_gbp, progress=lambda _line: None, root=root)
    pages = {page.name: visible_text(page) for page in site_pages(paths.site_index.parent)}
    assert "£" in pages["index.html"]
    assert sum("£" in text for text in pages.values()) >= 5  # summary, customer base, method, segments, …
    assert not [name for name, text in pages.items() if "$" in text]
    pdf = "\n".join(page.extract_text() for page in PdfReader(paths.pdf).pages)
    assert pdf.count("£") >= 20 and "$" not in pdf
    figures_svg = [p.read_text(encoding="utf-8") for p in paths.figures_dir.glob("*.svg")]
    assert any(glyph_ref("£") in svg for svg in figures_svg) and not any(glyph_ref("$") in svg for svg in figures_svg)


# --- a real browser --------------------------------------------------------------------------------------------



@pytest.fixture(scope="module")
def site_url(built: BuiltReport) -> Iterator[str]:
    """The built site served from 127.0.0.1 on a free port (a background thread, stopped afterwards)."""
    with served_folder(built.site, "report-site-server") as url:
        yield url


@pytest.mark.slow
@pytest.mark.browser
def test_site_in_a_real_browser_has_no_console_errors(built: BuiltReport, site_url: str, screenshot_dir: Path) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    remote: list[str] = []
    segment_page = f"chapters/{next(p.name for p in sorted((built.site / 'chapters').glob('05_segment_*.html')))}"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = chromium.new_page(viewport={"width": 1360, "height": 900})
            page.on("console", lambda msg: errors.append(f"{msg.text} {msg.location}") if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda req: remote.append(req.url) if not req.url.startswith(site_url) else None)
            page.goto(site_url + "index.html", wait_until="load")
            assert built.params.title in page.title()
            screenshot = screenshot_dir / "report-site.png"
            page.screenshot(path=str(screenshot))
            assert screenshot.read_bytes().startswith(b"\x89PNG")
            page.goto(site_url + segment_page, wait_until="load")
            assert page.locator("h1").first.inner_text().strip() == built.params.all_segments[0].name
            assert page.locator("img").count() >= 4
            assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        finally:
            chromium.close()
    assert not errors, errors
    assert not [u for u in remote if not u.startswith(("data:", "blob:"))], remote


def test_braces_in_paths_are_not_papermill_parameters(tmp_path: Path) -> None:
    """A params file named like `q{mart_dir}.yaml` names the output folder; papermill must not fill it in."""
    folder = tmp_path / "q{mart_dir}{0}"
    folder.mkdir()
    template = folder / "t{x}.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(x * 2)"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(notebook, template)
    output = folder / "out{x}.ipynb"
    _seconds, failure = execute_notebook(str(template), str(output), {"x": 21, "mart_dir": "elsewhere"}, str(ROOT))
    assert failure is None
    executed = nbformat.read(output, as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "42\n"
