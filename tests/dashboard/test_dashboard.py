"""Dashboard without a browser: filters and aggregates against plain pandas, the URL, the export, the 'no mart' page."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pyarrow as pa
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from segmentation.config.params import Params, load_params
from segmentation.dashboard import bench
from segmentation.dashboard import data as d
from segmentation.dashboard.aggregates import (
    by_country,
    by_segment,
    category_by_segment,
    kpis,
    rf_grid,
)
from segmentation.dashboard.app import create_app
from segmentation.dashboard.callbacks import (
    RESET_ID,
    URL_ID,
    export_download,
    figure_outputs,
    summary_outputs,
    sync_filters_and_url,
)
from segmentation.dashboard.export import (
    FORMULA_PREFIXES,
    export_columns,
    neutralise_formulas,
)
from segmentation.dashboard.filters import (
    ALL,
    FLAG_CHOICES,
    NO,
    NO_COUNTRY,
    YES,
    Filters,
    filters_from_query,
    filters_to_query,
)
from segmentation.dashboard.layout import (
    EXPORT_ALL,
    EXPORT_MARKETING,
    FILTER_IDS,
)
from segmentation.mart.pipeline import run
from segmentation.mart.store import CONTACTS, CUSTOMERS, MANIFEST, publishing
from segmentation.words import traits as words  # the report's wording too
from segmentation.words.formatting import Money
from tests.conftest import ROOT

# (filters, the same selection as a pandas boolean mask) built from the mart's own values
Case = Callable[[pd.DataFrame], tuple[Filters, pd.Series]]


def _first(customers: pd.DataFrame, column: str, n: int = 1) -> tuple[str, ...]:
    """The n most common values of a column (values that surely exist in the mart)."""
    return tuple(customers[column].value_counts().index[:n])


CASES: dict[str, Case] = {
    "nothing": lambda c: (Filters(), c["customer_id"].notna()),
    "premium": lambda c: (Filters(premium=YES), c["subscription"]),
    "not premium, opted in": lambda c: (
        Filters(premium=NO, opt_in=YES), ~c["subscription"] & c["marketing_opt_in"]),
    "two segments": lambda c: (
        Filters(segment=_first(c, "segment_id", 2)), c["segment_id"].isin(_first(c, "segment_id", 2))),
    "gender, category, device": lambda c: (
        Filters(gender=_first(c, "gender"), category=_first(c, "favorite_category", 3),
                  device=_first(c, "device_type")),
        c["gender"].isin(_first(c, "gender")) & c["favorite_category"].isin(_first(c, "favorite_category", 3))
        & c["device_type"].isin(_first(c, "device_type"))),
    "countries, not opted in": lambda c: (
        Filters(country=_first(c, "country_iso3", 4), opt_in=NO),
        c["country_iso3"].isin(_first(c, "country_iso3", 4)) & ~c["marketing_opt_in"]),
    "nobody": lambda c: (
        Filters(segment=_first(c, "segment_id"), premium=YES, opt_in=YES, country=("ZZZ",)),
        c["customer_id"].isna()),
}


@pytest.fixture(scope="module")
def customers(small_mart: Params) -> pd.DataFrame:
    """The mart's customer file, read straight from parquet (the independent reference)."""
    return pd.read_parquet(small_mart.mart_dir / CUSTOMERS)


@pytest.fixture(scope="module")
def data(small_mart: Params) -> d.DashboardData:
    """The mart as the dashboard prepares it."""
    return d.load_dashboard_data(small_mart.mart_dir)


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_filters_give_pandas_counts_and_revenue(case: str, data: d.DashboardData, customers: pd.DataFrame) -> None:
    filters, expected = CASES[case](customers)
    selected = customers[expected]

    k = kpis(data, data.mask(filters))

    assert k.customers == len(selected)
    assert k.revenue == pytest.approx(selected["monetary"].sum())
    assert k.base_customers == len(customers)
    assert k.revenue_share == pytest.approx(selected["monetary"].sum() / customers["monetary"].sum())


@pytest.mark.parametrize("case", ["premium", "gender, category, device", "countries, not opted in"])
def test_breakdowns_match_pandas(case: str, data: d.DashboardData, customers: pd.DataFrame) -> None:
    filters, expected = CASES[case](customers)
    selected = customers[expected]
    mask = data.mask(filters)

    segments = by_segment(data, mask).set_index("segment_id")
    grouped = selected.groupby("segment_id")
    assert segments["customers"].to_dict() == grouped.size().reindex(segments.index, fill_value=0).to_dict()
    np.testing.assert_allclose(segments["revenue"], grouped["monetary"].sum().reindex(segments.index, fill_value=0))
    np.testing.assert_allclose(segments["premium"], grouped["subscription"].sum().reindex(segments.index, fill_value=0))
    present = segments["customers"] > 0
    np.testing.assert_allclose(segments.loc[present, "avg_loyalty_points"],
                               grouped["loyalty_points"].mean().reindex(segments.index[present]))

    count, avg_monetary = rf_grid(data, mask)
    cells = selected.groupby(["r_score", "f_score"])["monetary"].agg(["size", "mean"])
    for (r, f), row in cells.iterrows():
        assert count[r - 1, f - 1] == row["size"]
        assert avg_monetary[r - 1, f - 1] == pytest.approx(row["mean"])
    assert count.sum() == len(selected)

    countries = by_country(data, mask).set_index("iso3")["customers"]
    assert countries.to_dict() == selected["country_iso3"].dropna().value_counts().to_dict()

    heat = category_by_segment(data, mask)
    heat_cells = heat.stack()
    expected = selected.groupby(["favorite_category", "segment_id"]).size()
    assert heat_cells[heat_cells > 0].to_dict() == expected.to_dict()


def test_segments_keep_report_order_and_colours(data: d.DashboardData, small_mart: Params) -> None:
    summary = pd.read_parquet(small_mart.mart_dir / "segment_summary.parquet")
    assert data.segments.ids == tuple(summary["segment_id"])
    assert data.segments.colors == tuple(summary["color"])
    bars = figure_outputs(data, Filters())["customers"].data[0]
    assert list(bars.marker.color) == list(summary["color"])


@pytest.mark.parametrize("filters", [
    Filters(),
    Filters(premium=YES),
    Filters(segment=("top", "at_risk"), gender=("Female",), opt_in=NO),
    Filters(category=("Home & Garden",), country=("KOR", NO_COUNTRY), device=("Mobile", "Tablet")),
])
def test_query_round_trip(filters: Filters) -> None:
    query = filters_to_query(filters)
    assert filters_from_query(query) == filters
    assert (query == "") == (filters == Filters())


@given(
    st.lists(st.text(min_size=1, max_size=12), max_size=4, unique=True),
    st.sampled_from(FLAG_CHOICES),
    st.sampled_from(FLAG_CHOICES),
)
def test_any_text_survives_the_url(values: list[str], premium: str, opt_in: str) -> None:
    filters = Filters(category=tuple(values), country=tuple(reversed(values)), premium=premium, opt_in=opt_in)
    assert filters_from_query(filters_to_query(filters)) == filters


def test_query_ignores_unknown_keys_and_bad_flags(data: d.DashboardData) -> None:
    filters = filters_from_query("?premium=maybe&colour=red&opt_in=yes&segment=nonexistent&segment=top")
    assert filters.premium == ALL and filters.opt_in == YES
    assert data.clean(filters).segment == ("top",)


def test_sync_callback_moves_state_both_ways(data: d.DashboardData) -> None:
    widgets = Filters(premium=YES, segment=("top",)).as_values()

    restored, url = sync_filters_and_url(URL_ID, "?segment=top&premium=yes&gender=nobody", {}, data)
    assert (restored, url) == (widgets, None)
    first_load, _ = sync_filters_and_url(None, "?segment=top&premium=yes", {}, data)
    assert first_load == widgets

    unchanged, shared = sync_filters_and_url(FILTER_IDS["premium"], "", widgets, data)
    assert unchanged is None and shared == "?segment=top&premium=yes"

    cleared, url = sync_filters_and_url(RESET_ID, "?segment=top", widgets, data)
    assert cleared == Filters().as_values() and url == ""


def _csv_bytes(payload: dict) -> bytes:
    """The file inside a dcc.Download payload."""
    return base64.b64decode(payload["content"]) if payload["base64"] else payload["content"].encode()


def _download(data: d.DashboardData, filters: Filters, scope: str) -> pd.DataFrame:
    """The CSV the export button would download, parsed."""
    payload = export_download(data, filters, scope)
    assert payload["filename"].endswith(".csv")
    return pd.read_csv(io.BytesIO(_csv_bytes(payload)), dtype={"rfm_code": str})


def test_export_has_the_campaign_columns_and_rows(data: d.DashboardData, customers: pd.DataFrame) -> None:
    filters, expected = CASES["gender, category, device"](customers)
    exported = _download(data, filters, EXPORT_ALL)

    assert list(exported.columns) == export_columns(Money.of("USD"))
    assert "monetary_usd" in exported.columns  # amounts are plain numbers: the header names their currency
    assert exported["customer_id"].tolist() == customers.loc[expected, "customer_id"].tolist()
    assert exported["rfm_code"].tolist() == customers.loc[expected, "rfm_code"].tolist()
    np.testing.assert_allclose(exported["monetary_usd"], customers.loc[expected, "monetary"])


def test_marketing_export_keeps_only_opted_in(data: d.DashboardData, customers: pd.DataFrame) -> None:
    filters, expected = CASES["two segments"](customers)
    exported = _download(data, filters, EXPORT_MARKETING)

    assert exported["marketing_opt_in"].all()
    assert set(exported["customer_id"]) == set(customers.loc[expected & customers["marketing_opt_in"], "customer_id"])


def _mart_with_contacts(small_mart: Params, folder: Path) -> Path:
    """A copy of the small mart plus a customer_contacts.parquet."""
    mart = folder / "mart"
    shutil.copytree(small_mart.mart_dir, mart)
    ids = pd.read_parquet(mart / CUSTOMERS, columns=["customer_id"])["customer_id"]
    with publishing(mart, amend=True) as staging:  # listed in the manifest, as a build with contacts does
        pd.DataFrame({"customer_id": ids, "name": "Ann Example", "email": ids.str.lower() + "@example.com"}).to_parquet(
            staging / CONTACTS, index=False
        )
    return mart


def test_no_names_or_emails_unless_params_allow(small_mart: Params, tmp_path: Path) -> None:
    mart = _mart_with_contacts(small_mart, tmp_path)
    assert small_mart.export_contacts is False

    by_default = d.load_dashboard_data(mart, export_contacts=small_mart.export_contacts)
    default = _download(by_default, Filters(), EXPORT_ALL)
    allowed = _download(d.load_dashboard_data(mart, export_contacts=True), Filters(), EXPORT_ALL)
    allowed_without_file = d.load_dashboard_data(small_mart.mart_dir, export_contacts=True)

    assert not {"name", "email"} & set(default.columns)
    assert list(allowed.columns) == [*export_columns(Money.of("USD")), "name", "email"]
    assert allowed["email"].iloc[0] == allowed["customer_id"].iloc[0].lower() + "@example.com"
    assert not {"name", "email"} & set(allowed_without_file.export.column_names)


def test_app_exports_contacts_only_with_params_switch(small_mart: Params, tmp_path: Path) -> None:
    mart = _mart_with_contacts(small_mart, tmp_path)
    for allowed in (False, True):
        params = dataclasses.replace(small_mart, export_contacts=allowed)
        app = create_app(mart, params=params)
        client = app.server.test_client()
        body = bench.callback_bodies(app, Filters(premium=YES))["export (marketing)"]
        response = client.post("/_dash-update-component", json=body)
        header = _csv_bytes(response.get_json()["response"]["export-download"]["data"]).split(b"\n", 1)[0]
        assert (b"email" in header) is allowed


FORMULAS = ['=HYPERLINK("http://example.com","x")', "+1+2", "-2+3", "@SUM(A1:A9)", "\tTAB"]
FORMULA_IDS = ["=1+2", "+CMD", "-2+3", "@SUM(A1)"]


def test_export_neutralises_formulas_from_data_and_params(small_csv: Path, tmp_path: Path) -> None:
    raw = pd.read_csv(small_csv, dtype=str, keep_default_na=False)
    raw.loc[: len(FORMULAS) - 1, "name"] = FORMULAS
    raw.loc[: len(FORMULAS) - 1, "email"] = [f"{p}@example.com" for p in FORMULAS]
    raw.loc[: len(FORMULA_IDS) - 1, "customer_id"] = FORMULA_IDS  # the store's own ids are exported too
    hostile_csv = tmp_path / "customers.csv"
    raw.to_csv(hostile_csv, index=False)
    params_yaml = yaml.safe_load((ROOT / "params" / "default.yaml").read_text(encoding="utf-8"))
    params_yaml["segments"][0]["name"] = "=1+2"
    params_yaml["privacy"]["export_contacts"] = True
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump({**params_yaml, "input": str(hostile_csv), "mart_dir": str(tmp_path / "mart")}))
    params = load_params(path)
    run(params)

    data = d.load_dashboard_data(params.mart_dir, export_contacts=True)
    payload = export_download(data, Filters(), EXPORT_ALL)
    exported = pd.read_csv(io.BytesIO(_csv_bytes(payload)), dtype=str, keep_default_na=False)

    assert set(exported.loc[exported["segment_id"] == "top", "segment_name"]) == {"'=1+2"}
    names = set(exported["name"])
    assert {"'" + p for p in FORMULAS} <= names and not set(FORMULAS) & names
    assert {f"'{p}@example.com" for p in FORMULAS} <= set(exported["email"])
    assert {"'" + p for p in FORMULA_IDS} <= set(exported["source_customer_id"])
    assert not any(cell[:1] in FORMULA_PREFIXES for column in exported for cell in exported[column]
                   if column not in ("recency_days", "frequency", "monetary_usd"))


def test_numbers_are_not_neutralised() -> None:
    table = pa.table({"label": ["-5", "ok", None, "\rCR"], "value": [-5.0, 1.0, 2.0, 3.0]})
    out = neutralise_formulas(table)
    assert out.column("label").to_pylist() == ["'-5", "ok", None, "'\rCR"]
    assert out.column("value").to_pylist() == [-5.0, 1.0, 2.0, 3.0]


def test_callbacks_answer_over_http(small_mart: Params, customers: pd.DataFrame) -> None:
    app = create_app(small_mart.mart_dir, params=small_mart)
    client = app.server.test_client()
    bodies = bench.callback_bodies(app, Filters(premium=YES))

    kpi = client.post("/_dash-update-component", json=bodies["KPI cards"]).get_json()["response"]
    charts = client.post("/_dash-update-component", json=bodies["7 charts"])
    url = client.post("/_dash-update-component", json=bodies["filters → URL"]).get_json()["response"]

    assert f"{customers['subscription'].sum():,}" in json.dumps(kpi["kpi-cards"])
    assert charts.status_code == 200 and len(charts.data) < 60_000  # aggregates only, never rows
    assert url["url"]["search"] == "?premium=yes"


def test_empty_selection_draws_without_errors(data: d.DashboardData, customers: pd.DataFrame) -> None:
    filters, _ = CASES["nobody"](customers)
    cards, note = summary_outputs(data, filters)
    drawn = figure_outputs(data, filters)

    assert note.startswith("0 customers")
    for fig in drawn.values():
        go.Figure(fig)  # validates every property
        assert "No customers match" in fig.to_json()


def _texts(component) -> str:
    """All text inside a Dash component tree."""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(_texts(c) for c in component)
    children = getattr(component, "children", None)
    return "" if children is None else _texts(children)


def _page_says_how_to_build(app) -> None:
    """The layout function and the served layout both name the build commands, and the page itself loads."""
    text = _texts(app.layout())
    assert "make mart" in text and "python -m segmentation run --params" in text
    client = app.server.test_client()
    assert client.get("/").status_code == 200
    served = client.get("/_dash-layout")
    assert served.status_code == 200 and b"make mart" in served.data and b"Traceback" not in served.data


def test_missing_mart_page_names_the_build_command(tmp_path: Path, small_mart: Params) -> None:
    app = create_app(tmp_path / "no-mart-here", params=small_mart)
    _page_says_how_to_build(app)
    assert str(small_mart.path) in _texts(app.layout())


def test_older_schema_mart_page_names_the_build_command(tmp_path: Path, small_mart: Params) -> None:
    mart = tmp_path / "old"
    shutil.copytree(small_mart.mart_dir, mart)
    manifest = json.loads((mart / MANIFEST).read_text())
    (mart / MANIFEST).write_text(json.dumps(manifest | {"schema_version": 0}))

    app = create_app(mart)
    _page_says_how_to_build(app)
    assert "schema version 0" in _texts(app.layout())


def test_mart_built_after_start_shows_without_restart(tmp_path: Path, small_mart: Params) -> None:
    mart = tmp_path / "later"
    app = create_app(mart)
    assert "make mart" in _texts(app.layout())

    shutil.copytree(small_mart.mart_dir, mart)

    assert "Customers by segment" not in _texts(app.layout())  # figures come from callbacks …
    assert "Segments (whole base)" in _texts(app.layout())  # … but the dashboard page is back


def test_segment_table_words_the_key_traits_from_the_summary_numbers(small_mart: Params) -> None:
    summary = pd.read_parquet(small_mart.mart_dir / "segment_summary.parquet")
    page = _texts(create_app(small_mart.mart_dir).layout())
    for row in summary.to_dict("records"):
        texts = words.trait_texts(row, Money.of("USD"))
        assert len(texts) == len(row["trait_features"]) == 5
        assert all(text in page for text in texts), row["segment_id"]
    assert words.trait_texts({"trait_features": None}, Money.of("USD")) == []  # a segment with no traits: an empty cell


def test_page_loads_nothing_from_other_hosts(small_mart: Params) -> None:
    app = create_app(small_mart.mart_dir)
    index = app.server.test_client().get("/").get_data(as_text=True)
    css = (Path(d.__file__).parent / "assets" / "dashboard.css").read_text()

    assert app.config.serve_locally
    assert not app.config.external_stylesheets and not app.config.external_scripts
    assert "https://" not in index and "http://" not in index
    assert "url(" not in css and "@import" not in css
    topojson = app.server.test_client().get("/assets/topojson/world_110m.json")
    assert topojson.status_code == 200 and b'"countries"' in topojson.data


def _card_values(cards: list) -> dict[str, str]:
    """The KPI cards' value and comparison lines by element id (kpi-revenue-value, kpi-revenue-base, …)."""
    return {line.id: line.children for card in cards for line in card.children if getattr(line, "id", None)}


def test_cards_show_the_marts_currency_in_the_report_number_style(data: d.DashboardData) -> None:
    cards = _card_values(summary_outputs(data, Filters())[0])
    assert data.money == Money.of("USD")
    assert cards["kpi-revenue-value"] == Money.of("USD")(data.revenue) and cards["kpi-revenue-value"][0] == "$"


def test_cards_figures_page_and_export_use_the_params_currency(small_mart_gbp: Params) -> None:
    app = create_app(small_mart_gbp.mart_dir, params=small_mart_gbp)
    data = d.load_dashboard_data(small_mart_gbp.mart_dir)
    gbp = Money.of("GBP")
    assert data.money == gbp and data.manifest["currency"] == "GBP"

    cards = _card_values(summary_outputs(data, Filters(premium=YES))[0])
    assert cards["kpi-revenue-value"].startswith("£") and cards["kpi-avg-revenue-value"].startswith("£")
    assert cards["kpi-revenue-base"] == f"of {gbp(data.revenue)} total revenue"
    drawn = figure_outputs(data, Filters())
    revenue = drawn["revenue"]
    assert revenue.layout.yaxis.tickprefix == "£" and revenue.layout.yaxis.ticksuffix == ""
    assert "£%{y:,.0f}" in revenue.data[0].hovertemplate and revenue.data[0].texttemplate.startswith("£")
    assert "Avg monetary (£)" in [a.text for a in drawn["rf_grid"].layout.annotations]
    assert "£%{customdata:,.0f} revenue" in drawn["map"].data[0].hovertemplate
    shown = " ".join(fig.to_json() for fig in drawn.values()) + _texts(app.layout())
    assert "£" in shown and "$" not in shown

    exported = _download(data, Filters(), EXPORT_ALL)
    assert "monetary_gbp" in exported.columns and "monetary" not in exported.columns
    np.testing.assert_allclose(exported["monetary_gbp"].sum(), data.revenue)  # plain numbers, no symbol


def test_the_header_names_the_params_file_the_mart_records(small_mart: Params, tmp_path: Path) -> None:
    # served without params, or from a copy of the mart folder: the label still comes from the mart's manifest
    copy = tmp_path / "copy-of-the-mart"
    shutil.copytree(small_mart.mart_dir, copy)
    for app in (create_app(small_mart.mart_dir, params=small_mart), create_app(copy)):
        text = _texts(app.layout())
        assert f"params {small_mart.name}" in text and "mart copy-of-the-mart" not in text


def test_a_mart_of_another_params_file_is_refused_not_shown_under_its_name(small_mart: Params) -> None:
    mine = small_mart.path.with_name("mine.yaml")
    mine.write_bytes(small_mart.path.read_bytes())  # the same mart_dir: the mart there is default.yaml's
    try:
        text = _texts(create_app(small_mart.mart_dir, params=load_params(mine)).layout())
    finally:
        mine.unlink()
    assert f"holds the mart of {small_mart.path}, not of {mine}" in text
    assert f"python -m segmentation run --params {mine} --force" in text and "params mine" not in text
