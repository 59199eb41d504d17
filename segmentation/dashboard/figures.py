"""Plotly figures of the dashboard, each drawn from an already aggregated table (a few dozen numbers, never rows)."""

from __future__ import annotations

import copy
import functools
import html
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

if TYPE_CHECKING:
    from segmentation.dashboard.data import MigrationGrid
    from segmentation.words.formatting import Money

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
INK, MUTED, GRID = "#1f2933", "#616e7c", "#e4e7eb"
NOT_PREMIUM = "#d9dde3"
SEQUENTIAL = [[0, "#eef4fb"], [0.5, "#6aa3d5"], [1, "#0b4f8a"]]

# A small template of our own: plotly's default one would add ~6 kB to every figure sent to the browser.
TEMPLATE = go.layout.Template(
    layout={
        "font": {"family": FONT, "size": 12, "color": INK},
        "title": {"font": {"size": 14}, "x": 0, "xanchor": "left", "y": 0.98, "yanchor": "top"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "margin": {"l": 8, "r": 8, "t": 36, "b": 8},
        "xaxis": {"gridcolor": GRID, "zerolinecolor": GRID, "automargin": True},
        "yaxis": {"gridcolor": GRID, "zerolinecolor": GRID, "automargin": True},
        "hoverlabel": {"font": {"family": FONT}},
        "separators": ".,",
    }
)
# Plot config for every graph: no plotly.com links, and map shapes from this app instead of plotly's CDN.
GRAPH_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


def _figure(title: str, **layout: object) -> go.Figure:
    """An empty figure with our template and a title."""
    return go.Figure(layout={"template": TEMPLATE, "title": {"text": title}, **layout})


def _no_data(fig: go.Figure) -> go.Figure:
    """Say so on the figure when the filters leave nobody."""
    fig.add_annotation(text="No customers match these filters", showarrow=False, xref="paper", yref="paper",
                       x=0.5, y=0.5, font={"color": MUTED, "size": 13})
    return fig


def as_text(values: Iterable[Any]) -> list[str]:
    """Labels from the data or the params, made plain text for plotly, which renders a subset of HTML in labels
    and hover text (`<b>`, `<a href>`); it turns the escaped entities back into the characters on screen."""
    return [html.escape(str(v), quote=False) for v in values]


def segment_customers_figure(table: pd.DataFrame) -> go.Figure:
    """Bars: selected customers per segment, in the report's segment colours."""
    fig = _figure("Customers by segment", showlegend=False, yaxis={"tickformat": ",d"})
    fig.add_bar(
        x=as_text(table["segment_name"]), y=table["customers"], marker_color=table["color"],
        text=table["customers"], texttemplate="%{text:,d}", textposition="outside", cliponaxis=False,
        hovertemplate="%{x}<br>%{y:,d} customers<extra></extra>",
    )
    return fig if table["customers"].sum() else _no_data(fig)


def segment_revenue_figure(table: pd.DataFrame, money: Money) -> go.Figure:
    """Bars: revenue of the selected customers per segment, in `money`."""
    fig = _figure("Revenue by segment", showlegend=False,
                  yaxis={"tickprefix": money.prefix, "ticksuffix": money.suffix, "tickformat": "~s"})
    fig.add_bar(
        x=as_text(table["segment_name"]), y=table["revenue"], marker_color=table["color"],
        text=table["revenue"], texttemplate=money.around("%{text:.3~s}"), textposition="outside", cliponaxis=False,
        hovertemplate=f"%{{x}}<br>{money.around('%{y:,.0f}')}<extra></extra>",
    )
    return fig if table["customers"].sum() else _no_data(fig)


def rf_grid_figure(count: np.ndarray, avg_monetary: np.ndarray, money: Money) -> go.Figure:
    """Two R×F heatmaps side by side: customers per cell, and their mean monetary value in `money`."""
    scores = list(range(1, count.shape[0] + 1))
    fig = _two_panels("R × F score grid", "Customers", money.label("Avg monetary"), spacing=0.12)
    fig.add_heatmap(
        z=count, x=scores, y=scores, colorscale=SEQUENTIAL, showscale=False, xgap=2, ygap=2,
        texttemplate="%{z:.3~s}", hovertemplate="R %{y} · F %{x}<br>%{z:,d} customers<extra></extra>",
    )
    fig.add_heatmap(
        z=np.round(avg_monetary, 0), x=scores, y=scores, colorscale=SEQUENTIAL, showscale=False, xgap=2, ygap=2,
        texttemplate="%{z:,.0f}",
        hovertemplate=f"R %{{y}} · F %{{x}}<br>{money.around('%{z:,.0f}')} per customer<extra></extra>",
        xaxis="x2", yaxis="y2",
    )
    fig.update_xaxes(title_text="F score (frequency)", tickvals=scores, showgrid=False)
    fig.update_yaxes(tickvals=scores, showgrid=False)
    fig.update_layout(yaxis_title_text="R score (recency)")
    return fig if count.sum() else _no_data(fig)


TICKETS_PANELS = {"support_tickets": ("avg_support_tickets", "Avg support tickets", ".2f"),
                  "loyalty_points": ("avg_loyalty_points", "Avg loyalty points", ",.0f")}


def tickets_loyalty_figure(table: pd.DataFrame,
                           shown: Iterable[str] = ("support_tickets", "loyalty_points")) -> go.Figure:
    """Bar panels per segment: mean support tickets and mean loyalty points of the selected customers (`shown`: the
    attributes the data has; one of them alone takes the whole figure)."""
    shown = [field for field in TICKETS_PANELS if field in tuple(shown)]
    if len(shown) == 1:
        column, title, fmt = TICKETS_PANELS[shown[0]]
        fig = _figure(title)
        fig.add_bar(
            y=as_text(table["segment_name"]), x=table[column].round(2), orientation="h", marker_color=table["color"],
            texttemplate=f"%{{x:{fmt}}}", textposition="auto", hovertemplate=f"%{{y}}<br>%{{x:{fmt}}}<extra></extra>",
        )
        fig.update_yaxes(autorange="reversed", showgrid=False)
        fig.update_layout(showlegend=False)
        return fig if table["customers"].sum() else _no_data(fig)
    fig = _two_panels("Support tickets and loyalty points", "Avg support tickets", "Avg loyalty points", spacing=0.16)
    panels = (("avg_support_tickets", ".2f", "x", "y"), ("avg_loyalty_points", ",.0f", "x2", "y2"))
    for column, fmt, xaxis, yaxis in panels:
        fig.add_bar(
            y=as_text(table["segment_name"]), x=table[column].round(2), orientation="h", marker_color=table["color"],
            texttemplate=f"%{{x:{fmt}}}", textposition="auto",
            hovertemplate=f"%{{y}}<br>%{{x:{fmt}}}<extra></extra>", xaxis=xaxis, yaxis=yaxis,
        )
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_layout(showlegend=False, yaxis2_showticklabels=False)
    return fig if table["customers"].sum() else _no_data(fig)


def left_out_figure() -> go.Figure:
    """The figure of a chart the page leaves out (its attributes are not in the data): empty, never drawn."""
    return _figure("")


def _two_panels(title: str, left: str, right: str, *, spacing: float) -> go.Figure:
    """An empty figure with two side-by-side panels (traces go to axes x/y and x2/y2)."""
    return go.Figure(layout=copy.deepcopy(_two_panel_layout(title, left, right, spacing)))


@functools.cache
def _two_panel_layout(title: str, left: str, right: str, spacing: float) -> dict:
    """The layout of a two-panel figure; make_subplots is slow (~20 ms), so each one is built once."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(left, right), horizontal_spacing=spacing)
    fig.update_layout(template=TEMPLATE, title={"text": title}, margin={"t": 56})
    fig.update_annotations(font={"size": 12, "color": MUTED})
    return fig.layout.to_plotly_json()


def country_map_figure(countries: pd.DataFrame, money: Money) -> go.Figure:
    """World map shaded by selected customers per country (one value per ISO-3 code); revenue in `money` on hover."""
    fig = _figure(
        "Customers by country", margin={"l": 0, "r": 0, "t": 36, "b": 0},
        geo={"projection": {"type": "natural earth"}, "showframe": False, "showcoastlines": False,
             "showcountries": True, "countrycolor": "#ffffff", "showland": True, "landcolor": "#eef0f3",
             "showocean": False, "lataxis": {"range": [-58, 85]}, "bgcolor": "white"},
    )
    fig.add_choropleth(
        locations=countries["iso3"], z=countries["customers"], locationmode="ISO-3", text=as_text(countries["country"]),
        customdata=countries["revenue"].round(0), colorscale=SEQUENTIAL, marker_line_color="white",
        marker_line_width=0.5, colorbar={"title": {"text": "Customers"}, "thickness": 12, "len": 0.8},
        hovertemplate=f"%{{text}}<br>%{{z:,d}} customers<br>{money.around('%{customdata:,.0f}')} revenue"
                      "<extra></extra>",
    )
    return fig if len(countries) else _no_data(fig)


def category_heatmap_figure(counts: pd.DataFrame, segment_names: tuple[str, ...]) -> go.Figure:
    """Heatmap of favourite category × segment: each column shows how the segment's customers split by category."""
    totals = counts.sum(axis=0).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.round(counts.to_numpy() / totals, 4)
    # the colours span 0 to the largest share: left to itself, plotly stretches one repeated share (a single
    # category) around that value, to a colour bar past 100%
    top = float(np.nanmax(share)) if np.isfinite(share).any() else 0.0
    fig = _figure("Favourite category × segment (share of segment)", margin={"t": 36, "b": 8})
    fig.add_heatmap(
        z=share, x=as_text(segment_names), y=as_text(counts.index), customdata=counts.to_numpy(), colorscale=SEQUENTIAL,
        zmin=0, zmax=top or 1.0, xgap=2, ygap=2, texttemplate="%{z:.0%}",
        colorbar={"tickformat": ".0%", "thickness": 12},
        hovertemplate="%{y} · %{x}<br>%{customdata:,d} customers (%{z:.1%} of segment)<extra></extra>",
    )
    fig.update_xaxes(showgrid=False, side="bottom")
    fig.update_yaxes(showgrid=False, autorange="reversed")
    return fig if totals.sum() else _no_data(fig)


def premium_split_figure(table: pd.DataFrame) -> go.Figure:
    """Stacked bars per segment: share of the selected customers with and without a premium subscription."""
    with np.errstate(invalid="ignore", divide="ignore"):
        premium_share = (table["premium"] / table["customers"]).fillna(0).round(4)
    others = table["customers"] - table["premium"]
    fig = _figure("Premium split per segment", barmode="stack",
                  xaxis={"tickformat": ".0%", "range": [0, 1.02], "tickvals": [0, 0.25, 0.5, 0.75, 1]},
                  legend={"orientation": "h", "y": -0.15, "traceorder": "normal"})
    fig.add_bar(
        y=as_text(table["segment_name"]), x=premium_share, orientation="h", name="Premium", marker_color=table["color"],
        customdata=table["premium"], texttemplate="%{x:.0%}", textposition="inside",
        hovertemplate="%{y}<br>%{customdata:,d} premium (%{x:.1%})<extra></extra>",
    )
    fig.add_bar(
        y=as_text(table["segment_name"]), x=(1 - premium_share).where(table["customers"] > 0, 0), orientation="h",
        name="Not premium", marker_color=NOT_PREMIUM, customdata=others,
        hovertemplate="%{y}<br>%{customdata:,d} not premium (%{x:.1%})<extra></extra>",
    )
    fig.update_yaxes(autorange="reversed", showgrid=False)
    return fig if table["customers"].sum() else _no_data(fig)


def migration_heatmap_figure(grid: MigrationGrid, money: Money) -> go.Figure:
    """Heatmap of segment migration: rows are segments before (then new customers), columns segments after (then
    lapsed), coloured by the share of the row, each cell labelled with its customers; labels in segment colours,
    revenue in `money` on hover."""
    rows, cols = len(grid.from_ids), len(grid.to_ids)
    fig = _figure("", margin={"t": 8, "l": 8, "r": 8, "b": 8})
    counts = np.nan_to_num(grid.customers, nan=0).astype(int)
    # heatmap text templates see only x, y, z and text: the count goes in `text`, the rest in customdata for hover
    text = [["" if np.isnan(grid.customers[i, j]) else f"{counts[i, j]:,}" for j in range(cols)] for i in range(rows)]
    names_from, names_to = as_text(grid.from_names), as_text(grid.to_names)
    customdata = [[[f"{names_from[i]} → {names_to[j]}", float(np.nan_to_num(grid.revenue_before[i, j])),
                    float(np.nan_to_num(grid.revenue_after[i, j]))] for j in range(cols)] for i in range(rows)]
    fig.add_heatmap(
        z=np.round(grid.shares, 4), x=list(range(cols)), y=list(range(rows)), text=text, customdata=customdata,
        colorscale=SEQUENTIAL, zmin=0, zmax=1, xgap=2, ygap=2, texttemplate="%{text}<br>%{z:.0%}",
        colorbar={"title": {"text": "Share of row"}, "tickformat": ".0%", "thickness": 12},
        hovertemplate="%{customdata[0]}<br>%{text} customers (%{z:.1%} of the row)"
                      f"<br>revenue {money.around('%{customdata[1]:,.0f}')} before, "
                      f"{money.around('%{customdata[2]:,.0f}')} after<extra></extra>",
    )
    fig.update_xaxes(tickvals=list(range(cols)), ticktext=_colored(grid.to_names, grid.to_ids, grid.colors),
                     side="top", showgrid=False)
    fig.update_yaxes(tickvals=list(range(rows)), ticktext=_colored(grid.from_names, grid.from_ids, grid.colors),
                     autorange="reversed", showgrid=False)
    return fig


def _colored(names: tuple[str, ...], ids: tuple[str, ...], colors: dict[str, str]) -> list[str]:
    """Axis labels in their segment's colour (plotly renders this small subset of HTML in tick text)."""
    return [f'<span style="color:{colors.get(i, INK)}"><b>{html.escape(n)}</b></span>' for n, i in zip(names, ids)]
