"""The report of a mart built from orders alone shows no attribute the data does not have, and says which ones."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from segmentation.config.params import Params
from segmentation.report import figures, load_context, narrative, tables
from segmentation.report.context import ReportContext
from segmentation.report.display import Markdown, Table
from segmentation.report.escape import md_text
from segmentation.report.figures import ReportFigure
from segmentation.words.traits import trait_texts

ATTRIBUTE_KPIS = ("Premium share", "Marketing opt-in", "Avg churn risk", "Avg support tickets")
EVERY_UNKNOWN = ("This data has no age, gender, income, country, credit score, loyalty points, favourite category, "
                 "device, churn risk, premium subscription status, marketing consent or support tickets: those views "
                 "are left out.")


def texts(*blocks) -> str:
    """The text of report blocks (Markdown source, table cells and headers, figure alt text)."""
    out = []
    for block in blocks:
        if isinstance(block, Table):
            out.append(" ".join(map(str, block.frame.columns)) + " " + repr(block))
        else:
            out.append(block.alt if isinstance(block, ReportFigure) else str(block))
    return " ".join(out)


@pytest.fixture(scope="module")
def ctx(orders_only_mart: Params) -> ReportContext:
    return load_context(orders_only_mart.path, orders_only_mart.mart_dir)


@pytest.fixture(scope="module")
def with_country_and_category(ctx: ReportContext) -> ReportContext:
    """The same mart as if its orders had given each customer a country and a favourite category (some none)."""
    n = len(ctx.customers)
    countries = np.array(["United Kingdom", "France", None, "Germany"], dtype=object)[np.arange(n) % 4]
    customers = ctx.customers.assign(
        country=countries, country_iso3=[{"United Kingdom": "GBR", "France": "FRA", "Germany": "DEU"}.get(c)
                                         for c in countries],
        favorite_category=np.array(["Books", "Music", "Garden"], dtype=object)[np.arange(n) % 3])
    return ReportContext(params=ctx.params, mart=dataclasses.replace(ctx.mart, customers=customers))


def test_the_summary_and_the_data_quality_review_say_which_attributes_are_unknown(ctx):
    assert md_text(EVERY_UNKNOWN) in narrative.headline(ctx).text
    review = narrative.data_quality_overview(ctx).text
    assert md_text("no customer file, so only purchases are known") in review and md_text(EVERY_UNKNOWN) in review


def test_the_premium_insight_says_what_is_missing_and_shows_no_empty_numbers(ctx):
    text = narrative.key_insights(ctx).text
    assert md_text("This data has no premium subscription status: the premium uplift is not measured.") in text
    assert "known status" not in text and "None" not in text and "matched cells" not in text


def test_attribute_views_are_notes_naming_what_is_missing(ctx):
    segment = ctx.summary.loc[ctx.summary["customers"] > 0, "segment_id"].iloc[0]
    notes = {
        "attribute_distributions": (figures.attribute_distributions(ctx),
                                    "age, income, credit score, loyalty points, churn risk or support tickets"),
        "attribute_mix": (figures.attribute_mix(ctx), "gender, favourite category, device, country, premium "
                                                      "subscription status or marketing consent"),
        "premium table": (tables.premium_split(ctx, segment), "premium subscription status"),
        "demographics": (figures.demographics(ctx, segment), "age, income or gender"),
        "preferences": (figures.preferences(ctx, segment), "favourite category, device or country"),
    }
    assert figures.premium_split(ctx, segment) is None  # the table above it says so: one note per section
    for name, (block, missing) in notes.items():
        assert isinstance(block, Markdown), name
        assert block.text == f"*{md_text(f'This data has no {missing}: this view is left out.')}*", name


def test_numbers_and_traits_of_unknown_attributes_are_left_out(ctx):
    for segment in ctx.summary["segment_id"]:
        traits = tables.segment_traits(ctx, segment)
        if ctx.summary_row(segment)["customers"] < 2:  # nothing to compare: a note, not an empty table
            assert traits.text == md_text(tables.NO_TRAITS)
            continue
        assert set(traits.frame["Feature"]) == {"avg_order_value"}  # the one trait orders give
        assert not any("0.00 vs 0.00" in t or "0% vs 0%" in t for t in trait_texts(ctx.summary_row(segment), ctx.money))
    comparison = tables.kpi_comparison(ctx).frame
    assert not set(ATTRIBUTE_KPIS) & set(comparison.columns) and "Avg spend" in comparison.columns
    measures = set(tables.customer_base_numbers(ctx).frame["Measure"])
    assert measures == {"Days since last order", "Orders", "Total spend", "Average order value"}
    assert "Opted in to marketing" not in tables.recommendation_targets(ctx).frame.columns


def test_kpi_figures_draw_only_the_kpis_the_data_has(ctx):
    segment = ctx.summary.loc[ctx.summary["customers"] > 0, "segment_id"].iloc[0]
    for figure in (figures.kpi_deltas(ctx, segment), figures.kpi_heatmap(ctx)):
        assert isinstance(figure, ReportFigure)
        assert "Avg spend" in figure.svg  # matplotlib names each text in the SVG
        assert not [label for label in ATTRIBUTE_KPIS if label in figure.svg], figure.name
        assert "–" not in figure.svg  # no empty value drawn


def test_segment_words_mention_no_premium_or_consent(ctx):
    pages = []
    for segment in ctx.summary.loc[ctx.summary["customers"] > 0, "segment_id"]:
        pages += [narrative.segment_size(ctx, segment), narrative.segment_actions(ctx, segment),
                  narrative.segment_risks(ctx, segment)]
    text = texts(*pages, narrative.recommendation_details(ctx))
    for words in ("premium subscriber", "opted in", "opted-in customers", "have opened support tickets",
                  "top category", "nan"):
        assert not re.search(rf"\b{words}\b", text), words


def test_attributes_the_orders_give_are_shown_and_only_those(with_country_and_category):
    ctx = with_country_and_category
    segment = ctx.summary.loc[ctx.summary["customers"] > 0, "segment_id"].iloc[0]
    preferences = figures.preferences(ctx, segment)
    assert isinstance(preferences, ReportFigure) and preferences.alt.startswith("Favourite category and country of")
    mix = figures.attribute_mix(ctx)
    assert isinstance(mix, ReportFigure) and mix.alt.endswith("by favourite category and country")
    assert isinstance(figures.demographics(ctx, segment), Markdown)
    headline = narrative.headline(ctx).text
    assert md_text("This data has no age, gender, income, credit score, loyalty points, device, churn risk") in headline
    assert md_text("country") not in headline.split(md_text("This data has no"))[1]
    review = narrative.data_quality_overview(ctx).text
    assert md_text("the orders give the purchases and each customer's country and favourite category") in review
    top = narrative.action_sizing("Recommend from their first category", ctx.members(segment), ctx.money,
                                  ctx.attributes)
    assert "top category" in top and "opted-in" not in top


def test_a_customer_file_mart_leaves_nothing_out(small_mart: Params):
    ctx = load_context(small_mart.path, small_mart.mart_dir)
    segment = ctx.summary["segment_id"].iloc[0]
    assert ctx.attributes.unknown == () and "This data has no" not in narrative.headline(ctx).text
    for block in (figures.attribute_distributions(ctx), figures.attribute_mix(ctx), figures.premium_split(ctx, segment),
                  figures.demographics(ctx, segment), figures.preferences(ctx, segment)):
        assert isinstance(block, ReportFigure)
    assert set(ATTRIBUTE_KPIS) <= set(tables.kpi_comparison(ctx).frame.columns)
    assert "Opted in to marketing" in tables.recommendation_targets(ctx).frame.columns
