"""The page: header, filter panel, KPI cards, chart grid, segment table, export box, and the 'no mart yet' page."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from dash import dcc, html

from segmentation.dashboard.aggregates import Kpis
from segmentation.dashboard.data import DashboardData
from segmentation.dashboard.export import marketing_export
from segmentation.dashboard.figures import GRAPH_CONFIG, migration_heatmap_figure
from segmentation.dashboard.filters import ALL, NO, YES
from segmentation.migration import command_hint
from segmentation.words.attributes import left_out
from segmentation.words.formatting import Money
from segmentation.words.traits import trait_texts

FILTER_IDS = {
    "segment": "filter-segment",
    "gender": "filter-gender",
    "category": "filter-category",
    "device": "filter-device",
    "country": "filter-country",
    "premium": "filter-premium",
    "opt_in": "filter-opt-in",
}
GRAPH_IDS = {
    "customers": "graph-customers",
    "revenue": "graph-revenue",
    "rf_grid": "graph-rf-grid",
    "premium": "graph-premium",
    "map": "graph-map",
    "category": "graph-category",
    "tickets": "graph-tickets",
}
# The customer attributes a graph shows: a graph none of whose attributes the data has is left out of the page.
GRAPH_ATTRIBUTES = {"premium": ("subscription",), "map": ("country",), "category": ("favorite_category",),
                    "tickets": ("support_tickets", "loyalty_points")}
# Which graphs take the full row of the grid (the rest share a row two by two), and graph heights in pixels.
WIDE_GRAPHS = {"map"}
GRAPH_HEIGHT, WIDE_GRAPH_HEIGHT = 340, 440
FLAG_OPTIONS = [{"label": "All", "value": ALL}, {"label": "Yes", "value": YES}, {"label": "No", "value": NO}]
EXPORT_ALL, EXPORT_MARKETING = "all", "marketing"


def percent(share: float, digits: int = 1) -> str:
    """A 0–1 share as a percentage."""
    return f"{share:.{digits}%}"


def kpi_cards(k: Kpis, money: Money) -> list[html.Div]:
    """Four cards: customers, revenue, revenue per customer (in `money`) and share of revenue, each against the whole
    base."""
    uplift = k.avg_revenue / k.base_avg_revenue - 1 if k.base_avg_revenue and k.customers else 0.0
    return [
        _card("customers", "Customers", f"{k.customers:,}",
              f"{percent(k.customer_share)} of {k.base_customers:,} customers"),
        _card("revenue", "Revenue", money(k.revenue), f"of {money(k.base_revenue)} total revenue"),
        _card("avg-revenue", "Avg revenue per customer", money(k.avg_revenue),
              f"{uplift:+.1%} vs {money(k.base_avg_revenue)} for all customers" if k.customers else "no customers"),
        _card("revenue-share", "Share of total revenue", percent(k.revenue_share),
              f"from {percent(k.customer_share)} of the customers"),
    ]


def _card(key: str, title: str, value: str, comparison: str) -> html.Div:
    """One KPI card; ids let tests and the browser read the numbers."""
    return html.Div(
        [
            html.Div(title, className="kpi-title"),
            html.Div(value, id=f"kpi-{key}-value", className="kpi-value"),
            html.Div(comparison, id=f"kpi-{key}-base", className="kpi-base"),
        ],
        className="kpi-card",
    )


def export_note(selected: int, opted_in: int | None) -> str:
    """How many rows each export choice would give (`opted_in` None: the data has no marketing consent)."""
    if opted_in is None:
        return f"{selected:,} customers match the filters. {left_out(['marketing_opt_in'], NO_MARKETING_EXPORT)}"
    return f"{selected:,} customers match the filters; {opted_in:,} of them opted in to marketing."


NO_MARKETING_EXPORT = "there is no export for marketing"


def shows_graph(data: DashboardData, key: str) -> bool:
    """Whether a graph is on the page: it shows no attribute, or one the data has."""
    return not GRAPH_ATTRIBUTES.get(key) or bool(data.attributes.only_known(GRAPH_ATTRIBUTES[key]))


def page_layout(data: DashboardData, *, title: str, source: str, topojson_url: str) -> html.Div:
    """The full dashboard for a loaded mart (filters empty; the URL callback restores shared ones).

    `source` names where the segments come from (the params set) in the header.
    """
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            _header(data, title, source),
            html.Div(
                [
                    _filter_panel(data),
                    html.Main(
                        [
                            *_unknown_attributes(data),
                            html.Section(kpi_cards(_whole_base(data), data.money), id="kpi-cards",
                                         className="kpi-grid"),
                            html.Section(_graphs(data, topojson_url), className="chart-grid"),
                            _migration_section(data),
                            _segment_section(data.summary, data.money),
                        ],
                        className="content",
                    ),
                ],
                className="app-body",
            ),
        ],
        className="app",
    )


def _unknown_attributes(data: DashboardData) -> list[html.P]:
    """The line that says which attributes the data lacks and that their filters and charts are left out."""
    note = data.attributes.note()
    return [html.P(note, id="unknown-attributes", className="note")] if note else []


def _whole_base(data: DashboardData) -> Kpis:
    """KPIs of the unfiltered base (shown before the first callback answers)."""
    return Kpis(data.customers, data.revenue, data.customers, data.revenue)


def _header(data: DashboardData, title: str, source: str) -> html.Header:
    """Title and where the numbers come from (the full mart path on hover)."""
    facts = [source, f"{data.customers:,} customers"]
    if data.reference_date:
        facts.append(f"reference date {data.reference_date}")
    return html.Header(
        [html.H1(title), html.P(" · ".join(facts), className="subtitle", title=f"mart: {data.mart_dir}")],
        className="app-header",
    )


def _filter_panel(data: DashboardData) -> html.Aside:
    """Every filter, the reset link and the export box. A filter of an attribute the data lacks stays in the page,
    hidden and unset: the callbacks read every filter."""
    dims = data.dimensions
    return html.Aside(
        [
            html.H2("Filters"),
            _multi("segment", "Segment", dims["segment"].options, "All segments"),
            _multi("gender", "Gender", dims["gender"].options, "All genders", hidden=not data.shows("gender")),
            _multi("category", "Favourite category", dims["category"].options, "All categories",
                   hidden=not data.shows("category")),
            _multi("device", "Device", dims["device"].options, "All devices", hidden=not data.shows("device")),
            _flag("premium", "Premium subscriber", hidden=not data.shows("premium")),
            _flag("opt_in", "Marketing opt-in", hidden=not data.shows("opt_in")),
            _multi("country", "Country", dims["country"].options, "All countries", hidden=not data.shows("country")),
            html.Button("Reset filters", id="reset-filters", className="button-secondary", n_clicks=0),
            _export_box(data),
        ],
        className="filter-panel",
    )


def _multi(key: str, label: str, options: list[dict[str, str]], placeholder: str, *, hidden: bool = False) -> html.Div:
    """A labelled multi-select dropdown (nothing chosen = everyone)."""
    return html.Div(
        [
            html.Label(label, htmlFor=FILTER_IDS[key]),
            dcc.Dropdown(id=FILTER_IDS[key], options=options, value=[], multi=True, placeholder=placeholder),
        ],
        className="filter",
        hidden=hidden,
    )


def _flag(key: str, label: str, *, hidden: bool = False) -> html.Div:
    """A labelled all / yes / no switch."""
    return html.Div(
        [
            html.Label(label),
            dcc.RadioItems(id=FILTER_IDS[key], options=FLAG_OPTIONS, value=ALL, inline=True, className="segmented"),
        ],
        className="filter",
        hidden=hidden,
    )


def _export_box(data: DashboardData) -> html.Div:
    """Export choice, button and the download target; no marketing choice without marketing consent in the data."""
    scopes = [{"label": "All filtered customers", "value": EXPORT_ALL}]
    if marketing_export(data):
        scopes.append({"label": "For marketing (opted-in only)", "value": EXPORT_MARKETING})
    return html.Div(
        [
            html.H2("Export"),
            dcc.RadioItems(
                id="export-scope",
                options=scopes,
                value=EXPORT_ALL,
                className="stacked",
            ),
            html.Button("Download CSV", id="export-button", className="button-primary", n_clicks=0),
            html.P(id="export-note", className="note"),
            dcc.Download(id="export-download"),
        ],
        className="export-box",
    )


def _graphs(data: DashboardData, topojson_url: str) -> list[html.Div]:
    """One card per chart; figures arrive from the callbacks. A chart of attributes the data lacks stays in the page
    (the callback fills every graph) but hidden, out of the grid."""
    cards = []
    for key, graph_id in GRAPH_IDS.items():
        config = {**GRAPH_CONFIG, "topojsonURL": topojson_url} if key == "map" else GRAPH_CONFIG
        wide = key in WIDE_GRAPHS
        # the height goes inline: dcc.Graph sets its own inline height, which a stylesheet cannot override
        height = WIDE_GRAPH_HEIGHT if wide else GRAPH_HEIGHT
        graph = dcc.Graph(id=graph_id, config=config, style={"height": f"{height}px"})
        cards.append(html.Div(graph, className="chart-card chart-card-wide" if wide else "chart-card",
                              hidden=not shows_graph(data, key)))
    return cards


MIGRATION_ROW_HEIGHT = 44  # pixels per heatmap row, plus room for the title and the column labels


def _shown_path(path: str | Path) -> str:
    """A mart folder as a reader would type it: relative to the working folder, else a placeholder (full path on
    hover)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return "MART_DIR"


def _migration_section(data: DashboardData) -> html.Section:
    """The segment migration heatmap when the mart has a current one; otherwise how to create it."""
    if data.migration is None:
        note = html.P([data.migration_note, " ", html.Code(command_hint(_shown_path(data.mart_dir)),
                                                             title=str(data.mart_dir))], id="migration-note",
                      className="note")
        return html.Section([html.H2("Segment migration"), note], id="migration-section", className="segment-section")
    grid = data.migration
    height = 150 + MIGRATION_ROW_HEIGHT * len(grid.from_ids)
    graph = dcc.Graph(id="graph-migration", figure=migration_heatmap_figure(grid, data.money), config=GRAPH_CONFIG,
                      style={"height": f"{height}px"})
    note = (f"Rows: segment on {grid.before_date}; columns: segment on {grid.after_date}. Each cell: customers "
            "and their share of the row. The whole base: the filters do not apply.")
    return html.Section([html.H2(f"Segment migration since {grid.before_date}"), html.P(note, className="note"), graph],
                        id="migration-section", className="segment-section")


def _segment_section(summary: pd.DataFrame, money: Money) -> html.Section:
    """The segment table of the whole base, from segment_summary.parquet (amounts in its traits in `money`)."""
    head = ["Segment", "Customers", "Customer share", "Revenue share", "Key traits", "Recommended actions", "Risks"]
    rows = [_segment_row(row, money) for row in summary.to_dict("records")]
    return html.Section(
        [
            html.H2("Segments (whole base)"),
            html.Div(
                html.Table(
                    [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="segment-table"
                ),
                className="table-scroll",
            ),
        ],
        className="segment-section",
    )


def _segment_row(row: dict, money: Money) -> html.Tr:
    """One segment: colour chip, name and description, size, shares and its lists."""
    return html.Tr(
        [
            html.Td(
                [
                    html.Div(
                        [html.Span(className="chip", style={"backgroundColor": row["color"]}), row["segment_name"]],
                        className="segment-name",
                    ),
                    html.Div(row["description"], className="note"),
                ]
            ),
            html.Td(f"{int(row['customers']):,}", className="num"),
            html.Td(percent(row["customer_share"]), className="num"),
            html.Td(percent(row["revenue_share"]), className="num"),
            html.Td(_bullets(trait_texts(row, money))),
            html.Td(_bullets(row["actions"])),
            html.Td(_bullets(row["risks"])),
        ]
    )


def _bullets(items: Sequence[str] | np.ndarray | None) -> html.Ul:
    """A list cell (parquet lists arrive as arrays; empty segments may have none)."""
    return html.Ul([html.Li(str(item)) for item in ([] if items is None else list(items))])


def missing_mart_layout(reason: str, commands: Sequence[str]) -> html.Div:
    """The page shown instead of the dashboard when there is no usable mart: why, and which command builds it."""
    return html.Div(
        html.Div(
            [
                html.H1("No segmentation mart to show yet"),
                html.P(reason, className="reason"),
                html.P("Build the mart with one of these commands, then reload this page:"),
                html.Pre("\n".join(commands), className="commands"),
            ],
            className="missing-card",
        ),
        className="missing-page",
    )
