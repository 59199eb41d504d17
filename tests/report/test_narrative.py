"""The data-quality chapter's words about returns and attributes taken from the orders."""

from __future__ import annotations

import re

import pytest

from segmentation.mart.pipeline import run
from segmentation.report import load_context, narrative
from segmentation.words.formatting import Money
from tests.mart.test_orders import retail_params


def test_the_data_quality_chapter_says_what_the_returns_did(tmp_path):
    params = retail_params(tmp_path)
    run(params)
    text = unescaped(narrative.data_quality_overview(load_context(params.path, params.mart_dir)).text)
    assert "**Returns and cancellations:** 4 return rows (negative quantity or value, or an order id matching " \
           "` ^C `) from 4 customers" in text
    assert "were netted: subtracted from the same customers' purchases" in text
    assert "**2** customers have a net value of zero or less" in text
    assert "no customer file: country and favourite category from the orders" in text


def test_no_returns_no_words():
    assert narrative.returns_words(None, Money.of("USD")) == []
    assert narrative.returns_words({"policy": "net", "order_id_pattern": None, "rows": 0, "customers": 0,
                                    "value": 0.0, "customers_not_positive": 0}, Money.of("USD")) == []
    dropped = narrative.returns_words({"policy": "drop", "order_id_pattern": None, "rows": 3, "customers": 2,
                                       "value": 12.5, "customers_not_positive": 0}, Money.of("USD"))
    assert len(dropped) == 1 and "were dropped: left out" in unescaped(dropped[0])


def unescaped(markdown: str) -> str:
    """Markdown text without its backslash escapes (what a reader sees)."""
    return re.sub(r"\\(.)", r"\1", str(markdown))


@pytest.mark.slow
def test_the_report_of_a_mapped_export_states_the_returns_in_its_data_quality_chapter(tmp_path):
    from segmentation.report.build import build_report

    params = retail_params(tmp_path)
    run(params)
    paths = build_report(params, progress=lambda _line: None, root=tmp_path)
    pages = " ".join(p.read_text(encoding="utf-8") for p in paths.site_index.parent.rglob("*.html"))
    assert "Returns and cancellations:" in pages and "were netted" in pages
    assert "have a net value of zero or less" in pages and paths.pdf.stat().st_size > 0
