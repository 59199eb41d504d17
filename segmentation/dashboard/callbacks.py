"""What each callback computes, as plain functions of the data and the widget values, and their wiring into the app."""

from __future__ import annotations

from typing import Any

import dash
import numpy as np
from dash import Input, Output, State, ctx, dcc
from dash.exceptions import PreventUpdate

from segmentation.core.errors import MartMissingError
from segmentation.dashboard import data as d
from segmentation.dashboard import figures
from segmentation.dashboard.aggregates import (
    by_country,
    by_segment,
    category_by_segment,
    kpis,
    rf_grid,
)
from segmentation.dashboard.export import export_csv, marketing_export
from segmentation.dashboard.filters import (
    FILTER_KEYS,
    Filters,
    filters_from_query,
    filters_to_query,
)
from segmentation.dashboard.layout import (
    EXPORT_MARKETING,
    FILTER_IDS,
    GRAPH_IDS,
    export_note,
    kpi_cards,
    shows_graph,
)

URL_ID, RESET_ID = "url", "reset-filters"


def sync_filters_and_url(trigger: str | None, search: str | None, values: dict[str, Any],
                         data: d.DashboardData) -> tuple[dict[str, Any] | None, str | None]:
    """Keep widgets and URL in step: a new URL (page load, back button) sets the widgets, a widget change sets the URL.

    Returns (widget values or None to leave them, query string or None to leave the URL).
    """
    if trigger == RESET_ID:
        return Filters().as_values(), ""
    if trigger in (None, URL_ID):
        return data.clean(filters_from_query(search)).as_values(), None
    return None, filters_to_query(Filters.from_values(values))


def summary_outputs(data: d.DashboardData, filters: Filters) -> tuple[list, str]:
    """KPI cards and the export note for the selection."""
    mask = data.mask(filters)
    opted_in = int(np.count_nonzero(mask & data.flags["opt_in"])) if marketing_export(data) else None
    return kpi_cards(kpis(data, mask), data.money), export_note(int(np.count_nonzero(mask)), opted_in)


def figure_outputs(data: d.DashboardData, filters: Filters) -> dict[str, Any]:
    """Every chart for the selection, keyed like GRAPH_IDS; a chart the page leaves out (the data lacks its
    attributes) is an empty figure, never drawn from empty values."""
    mask = data.mask(filters)
    segments = by_segment(data, mask)
    count, avg_monetary = rf_grid(data, mask)
    drawers = {
        "customers": lambda: figures.segment_customers_figure(segments),
        "revenue": lambda: figures.segment_revenue_figure(segments, data.money),
        "rf_grid": lambda: figures.rf_grid_figure(count, avg_monetary, data.money),
        "premium": lambda: figures.premium_split_figure(segments),
        "map": lambda: figures.country_map_figure(by_country(data, mask), data.money),
        "category": lambda: figures.category_heatmap_figure(category_by_segment(data, mask), data.segments.names),
        "tickets": lambda: figures.tickets_loyalty_figure(
            segments, data.attributes.only_known(("support_tickets", "loyalty_points"))),
    }
    return {key: draw() if shows_graph(data, key) else figures.left_out_figure() for key, draw in drawers.items()}


def export_download(data: d.DashboardData, filters: Filters, scope: str | None) -> dict[str, Any]:
    """The dcc.Download payload: the selected customers (only opted-in ones for marketing) as a CSV file. Without
    marketing consent in the data there is no marketing export (the page does not offer one): nothing is sent."""
    marketing_only = scope == EXPORT_MARKETING
    if marketing_only and not marketing_export(data):
        raise PreventUpdate
    csv = export_csv(data, data.mask(filters), marketing_only=marketing_only)
    stamp = f"-{data.reference_date}" if data.reference_date else ""
    name = f"customers{'-marketing' if marketing_only else ''}{stamp}.csv"
    # sent as text: base64 (send_bytes) would cost a third more bytes and time at 100,000 rows
    return dcc.send_string(csv.decode("utf-8"), name, type="text/csv")


def register_callbacks(app: dash.Dash, source: d.MartSource) -> None:
    """Wire the functions above to the page's components."""
    filter_outputs = [Output(FILTER_IDS[key], "value") for key in FILTER_KEYS]
    filter_inputs = [Input(FILTER_IDS[key], "value") for key in FILTER_KEYS]
    filter_states = [State(FILTER_IDS[key], "value") for key in FILTER_KEYS]

    def current() -> d.DashboardData:
        """The loaded mart, or stop the callback quietly when there is none (the page already says so)."""
        try:
            return source.get()
        except MartMissingError:
            raise PreventUpdate from None

    @app.callback(*filter_outputs, Output(URL_ID, "search"), Input(URL_ID, "search"), Input(RESET_ID, "n_clicks"),
                  *filter_inputs)
    def _sync(search: str | None, _reset: int | None, *values: Any) -> tuple:
        widgets, query = sync_filters_and_url(ctx.triggered_id, search, dict(zip(FILTER_KEYS, values)), current())
        keep = dash.no_update
        widget_values = [keep] * len(FILTER_KEYS) if widgets is None else [widgets[k] for k in FILTER_KEYS]
        return *widget_values, keep if query is None else query

    @app.callback(Output("kpi-cards", "children"), Output("export-note", "children"), *filter_inputs)
    def _summary(*values: Any) -> tuple:
        return summary_outputs(current(), _filters(values))

    @app.callback(*[Output(graph_id, "figure") for graph_id in GRAPH_IDS.values()], *filter_inputs)
    def _figures(*values: Any) -> tuple:
        drawn = figure_outputs(current(), _filters(values))
        return tuple(drawn[key] for key in GRAPH_IDS)

    @app.callback(Output("export-download", "data"), Input("export-button", "n_clicks"), State("export-scope", "value"),
                  *filter_states, prevent_initial_call=True)
    def _export(_clicks: int | None, scope: str, *values: Any) -> dict:
        return export_download(current(), _filters(values), scope)


def _filters(values: tuple) -> Filters:
    """Filters from the widget values, in FILTER_KEYS order."""
    return Filters.from_values(dict(zip(FILTER_KEYS, values)))
