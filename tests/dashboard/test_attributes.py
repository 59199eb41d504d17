"""The dashboard of a mart built from orders alone: no filter, chart or export of an attribute the data lacks, a line
saying which ones, and the store's own customer id in every export."""

from __future__ import annotations

import io

import pandas as pd
import plotly.graph_objects as go
import pytest
from dash.exceptions import PreventUpdate

from segmentation.config.params import Params
from segmentation.dashboard import data as d
from segmentation.dashboard.app import create_app
from segmentation.dashboard.callbacks import (
    URL_ID,
    export_download,
    figure_outputs,
    summary_outputs,
    sync_filters_and_url,
)
from segmentation.dashboard.export import EXPORT_COLUMNS
from segmentation.dashboard.filters import ALL, YES, Filters
from segmentation.dashboard.layout import EXPORT_ALL, EXPORT_MARKETING, FILTER_IDS, GRAPH_IDS

HIDDEN_FILTERS = ("gender", "category", "device", "country", "premium", "opt_in")
HIDDEN_GRAPHS = ("premium", "map", "category", "tickets")


@pytest.fixture(scope="module")
def data(orders_only_mart: Params) -> d.DashboardData:
    return d.load_dashboard_data(orders_only_mart.mart_dir)


@pytest.fixture(scope="module")
def page(orders_only_mart: Params):
    app = create_app(orders_only_mart.mart_dir, params=orders_only_mart)
    return app.layout()


def by_id(layout, component_id: str):
    """The component with this id in a Dash layout."""
    return next(c for c in layout._traverse() if getattr(c, "id", None) == component_id)


def parent_of(layout, component_id: str):
    """The component directly holding the one with this id (a filter's or a chart's card)."""
    for component in layout._traverse():
        children = getattr(component, "children", None)
        children = children if isinstance(children, list) else [children]
        if any(getattr(child, "id", None) == component_id for child in children):
            return component
    raise LookupError(component_id)


def csv(payload: dict) -> pd.DataFrame:
    """The CSV of a dcc.Download payload, as text cells."""
    return pd.read_csv(io.StringIO(payload["content"]), dtype=str, keep_default_na=False)


def test_the_page_says_which_attributes_the_data_lacks(page):
    note = by_id(page, "unknown-attributes").children
    assert note.startswith("This data has no age, gender, income, country,")
    assert note.endswith("marketing consent or support tickets: those views are left out.")


def test_filters_and_charts_of_unknown_attributes_are_left_out(page):
    for key in FILTER_IDS:
        assert bool(getattr(parent_of(page, FILTER_IDS[key]), "hidden", False)) is (key in HIDDEN_FILTERS), key
    for key, graph_id in GRAPH_IDS.items():
        assert bool(getattr(parent_of(page, graph_id), "hidden", False)) is (key in HIDDEN_GRAPHS), key


def test_there_is_no_marketing_export_without_marketing_consent(page, data):
    assert [option["value"] for option in by_id(page, "export-scope").options] == [EXPORT_ALL]
    _cards, note = summary_outputs(data, Filters())
    assert note == (f"{data.customers:,} customers match the filters. This data has no marketing consent: there is "
                    "no export for marketing.")
    with pytest.raises(PreventUpdate):
        export_download(data, Filters(), EXPORT_MARKETING)


def test_the_export_carries_the_stores_id_and_no_empty_column(orders_only_mart, data):
    exported = csv(export_download(data, Filters(), EXPORT_ALL))
    expected = [{"monetary": "monetary_usd"}.get(c, c) for c in EXPORT_COLUMNS if c != "marketing_opt_in"]
    assert list(exported.columns) == expected
    customers = pd.read_parquet(orders_only_mart.mart_dir / "customer_segments.parquet")
    assert exported["source_customer_id"].tolist() == customers["source_customer_id"].tolist()
    assert exported["customer_id"].tolist() == customers["customer_id"].tolist()
    assert exported["source_customer_id"].str.fullmatch(r"\d{5}").all()  # CDNOW's ids, leading zeros kept


def test_charts_left_out_are_not_drawn_and_the_others_are(data):
    drawn = figure_outputs(data, Filters())
    for key, figure in drawn.items():
        go.Figure(figure)  # valid
        assert (len(figure.data) == 0) is (key in HIDDEN_GRAPHS), key


def test_a_shared_link_cannot_filter_on_an_attribute_the_page_does_not_show(data):
    widgets, _ = sync_filters_and_url(URL_ID, "?premium=yes&opt_in=no&gender=Unknown&segment=top", {}, data)
    assert widgets["premium"] == ALL and widgets["opt_in"] == ALL and widgets["gender"] == []
    assert widgets["segment"] == ["top"]
    assert data.mask(Filters.from_values(widgets)).sum() == (data.dimensions["segment"].codes == 0).sum()


def test_segment_traits_show_no_attribute_the_data_lacks(page):
    table = next(c for c in page._traverse() if getattr(c, "className", None) == "segment-table")
    text = " ".join(c.children for c in table._traverse() if isinstance(getattr(c, "children", None), str))
    assert "Avg order value" in text
    for words in ("Age", "Premium", "Gender", "Marketing opt-in", "0.00 vs 0.00"):
        assert words not in text


def test_a_customer_file_mart_shows_everything_and_exports_both_ids(small_mart: Params):
    data = d.load_dashboard_data(small_mart.mart_dir)
    page = create_app(small_mart.mart_dir, params=small_mart).layout()
    assert not [c for c in page._traverse() if getattr(c, "id", None) == "unknown-attributes"]
    assert not [c for c in page._traverse() if getattr(c, "hidden", False)]
    exported = csv(export_download(data, Filters(premium=YES), EXPORT_MARKETING))
    assert list(exported.columns) == [{"monetary": "monetary_usd"}.get(c, c) for c in EXPORT_COLUMNS]
    customers = pd.read_parquet(small_mart.mart_dir / "customer_segments.parquet").set_index("customer_id")
    assert (customers.loc[exported["customer_id"], "source_customer_id"].tolist()
            == exported["source_customer_id"].tolist())


def test_one_category_keeps_the_colour_bar_within_its_shares():
    from segmentation.dashboard.figures import category_heatmap_figure

    one = pd.DataFrame([[5, 7]], index=["Books"], columns=["top", "new"])
    heatmap = category_heatmap_figure(one, ("Top", "New")).data[0]
    assert (heatmap.zmin, heatmap.zmax) == (0, 1.0)  # not stretched around 100% to a bar past it
