"""Every figure of the report: each function takes the report context and returns a finished `ReportFigure`.

Figures are drawn on plain matplotlib `Figure` objects (no pyplot state) with the Agg renderer, fixed sizes and
a fixed style, and written without timestamps, so the same mart always gives byte-identical PNG and SVG files.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # never interactive: chapters run headless and must not pop up or inline pyplot figures

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import ListedColormap, to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from segmentation.core.stats import SCALES, gini  # noqa: E402
from segmentation.report.context import ReportContext  # noqa: E402
from segmentation.report.display import needs_attributes  # noqa: E402
from segmentation.words import formatting as fmt  # noqa: E402

OVERALL_COLOR = "#B0B0B0"  # "all customers" reference bars: neutral grey, never a segment colour
INK = "#222222"
PNG_DPI = 150

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": PNG_DPI,
    "font.family": "DejaVu Sans",  # bundled with matplotlib: the same glyphs on every machine
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.edgecolor": "#888888",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#E5E5E5",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "svg.hashsalt": "segmentation-report",  # fixed ids inside the SVG: reruns give identical files
    "svg.fonttype": "path",
    "path.simplify": True,
    "text.parse_math": False,  # labels hold amounts such as "$1,803 vs $835", not TeX
}

# Written into no file: a PNG's "Software" and an SVG's "Date" would differ between runs or machines.
PNG_METADATA = {"Software": None}
SVG_METADATA = {"Date": None, "Creator": None}


@dataclass(frozen=True)
class ReportFigure:
    """A finished figure: file stem, alt text, and its PNG and SVG renderings; a notebook shows it as an image."""

    name: str
    alt: str
    png: bytes
    svg: str

    def save(self, folder: Path) -> list[Path]:
        """Write `<name>.png` and `<name>.svg` into `folder`; return both paths."""
        folder.mkdir(parents=True, exist_ok=True)
        png, svg = folder / f"{self.name}.png", folder / f"{self.name}.svg"
        png.write_bytes(self.png)
        svg.write_text(self.svg, encoding="utf-8")
        return [png, svg]

    def _repr_mimebundle_(self, include=None, exclude=None):  # noqa: ANN001, ANN202, ARG002 - IPython display protocol
        """Both renderings (SVG for the site and PDF, PNG as fallback) and the figure's name for extraction."""
        data = {
            "image/svg+xml": self.svg,
            "image/png": base64.b64encode(self.png).decode("ascii"),
            "text/plain": self.alt,
        }
        return data, {"segmentation": {"figure": self.name}}

    def __repr__(self) -> str:
        """Name and alt text."""
        return f"<ReportFigure {self.name}: {self.alt}>"


def render(fig: Figure, name: str, alt: str) -> ReportFigure:
    """Turn a drawn matplotlib figure into PNG and SVG bytes, without timestamps."""
    fig.draw_without_rendering()
    fig.set_layout_engine("none")  # the layout is settled: do not solve it again for each of the two formats
    png, svg = io.BytesIO(), io.BytesIO()
    fig.savefig(png, format="png", metadata=PNG_METADATA)
    fig.savefig(svg, format="svg", metadata=SVG_METADATA)
    return ReportFigure(name=name, alt=alt, png=png.getvalue(), svg=svg.getvalue().decode("utf-8"))


def styled(func: Callable[..., ReportFigure]) -> Callable[..., ReportFigure]:
    """Draw inside the report style without touching the caller's global matplotlib settings."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs) -> ReportFigure:  # noqa: ANN002, ANN003
        """The figure function, run with the report style."""
        with matplotlib.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float, ncols: int = 1, nrows: int = 1) -> tuple[Figure, np.ndarray]:
    """A fixed-size figure with a grid of axes (always returned as a flat array)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes.ravel()


def segment_slug(segment_id: str) -> str:
    """A file-name-safe form of a segment id."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in segment_id.lower())


# --- overview -----------------------------------------------------------------------------------------------


@styled
def segment_shares(ctx: ReportContext) -> ReportFigure:
    """Each segment's share of customers next to its share of revenue, in segment colours."""
    summary = ctx.summary
    fig, (ax,) = new_figure(8, 0.45 * len(summary) + 1.2)
    y = np.arange(len(summary))
    colors = summary["color"].tolist()
    ax.barh(y - 0.2, summary["customer_share"], height=0.38, color=colors, alpha=0.45, label="Share of customers")
    ax.barh(y + 0.2, summary["revenue_share"], height=0.38, color=colors, label="Share of revenue")
    for i, row in enumerate(summary.itertuples()):
        ax.text(row.customer_share, i - 0.2, f" {fmt.share(row.customer_share, 0)}", va="center", fontsize=7, color=INK)
        ax.text(row.revenue_share, i + 0.2, f" {fmt.share(row.revenue_share, 0)}", va="center", fontsize=7, color=INK)
    ax.set_yticks(y, summary["segment_name"])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
    ax.set_xlim(0, max(summary["customer_share"].max(), summary["revenue_share"].max()) * 1.18 or 1)
    ax.set_title("Share of customers (light) and of revenue (solid) by segment", loc="left")
    legend = [Patch(facecolor="#666666", alpha=0.45, label="Share of customers"),
              Patch(facecolor="#666666", label="Share of revenue")]
    fig.legend(handles=legend, loc="outside lower center", ncols=2)
    return render(fig, "segment-shares", "Bar chart: each segment's share of customers and of revenue")


# --- customer base (EDA) ------------------------------------------------------------------------------------


@styled
def rfm_distributions(ctx: ReportContext) -> ReportFigure:
    """Histograms of recency (days), frequency (orders) and monetary value (spend, log scale) of all customers."""
    df = ctx.customers
    fig, axes = new_figure(9, 2.8, ncols=3)
    sns.histplot(x=df["recency_days"].to_numpy(), bins=40, color="#4C72B0", ax=axes[0])
    axes[0].set(title="Recency", xlabel="Days since last order", ylabel="Customers")
    top_f = int(np.percentile(df["frequency"], 99))
    freq = df["frequency"].clip(upper=top_f)
    sns.histplot(x=freq.to_numpy(), discrete=True, color="#4C72B0", ax=axes[1])
    axes[1].set(title="Frequency", xlabel=f"Orders (capped at {top_f}, the 99th percentile)", ylabel="")
    spend = df["monetary"].clip(lower=1)
    sns.histplot(x=spend.to_numpy(), bins=40, log_scale=True, color="#4C72B0", ax=axes[2])
    axes[2].set(title="Monetary", xlabel=ctx.money.label("Total spend", "log scale"), ylabel="")
    _money_ticks(axes[2].xaxis, ctx.money)
    return render(fig, "customer-base-rfm", "Histograms of recency, frequency and monetary value")


NUMERIC_ATTRIBUTES = {
    "age": "Age (years)",
    "income": "Income",  # in the mart's currency: labelled with its symbol
    "credit_score": "Credit score",
    "loyalty_points": "Loyalty points",
    "churn_risk": "Churn risk (0–1)",
    "support_tickets": "Support tickets",
}


def panel_grid(count: int, width: float, row_height: float, ncols: int = 3) -> tuple[Figure, np.ndarray]:
    """A figure of `count` panels, `ncols` to a row, each panel as wide as in a full row (fewer panels: narrower)."""
    cols = min(count, ncols)
    rows = -(-count // cols)
    return new_figure(width * cols / ncols, row_height * rows + 0.3, ncols=cols, nrows=rows)


@needs_attributes(*NUMERIC_ATTRIBUTES)
@styled
def attribute_distributions(ctx: ReportContext) -> ReportFigure:
    """Histograms of the numeric customer attributes the data has (values of the customers who have one)."""
    df = ctx.customers
    shown = ctx.attributes.only_known(NUMERIC_ATTRIBUTES)
    fig, axes = panel_grid(len(shown), 9, 2.15)
    for i, (ax, col) in enumerate(zip(axes, shown)):
        label = NUMERIC_ATTRIBUTES[col]
        values = df[col].dropna().to_numpy(dtype=float)
        if col == "income":  # a long tail would squeeze everyone into one bar: cap at the 99th percentile
            values = np.minimum(values, np.percentile(values, 99))
            label = ctx.money.label(label, "top 1% capped")
        discrete = col == "support_tickets"
        sns.histplot(x=values, bins="auto" if discrete else 30, discrete=discrete, color="#55A868", ax=ax)
        ax.set(title=label, xlabel="", ylabel="Customers" if i % 3 == 0 else "")
        if col == "income":
            _money_ticks(ax.xaxis, ctx.money)
    names = [NUMERIC_ATTRIBUTES[col].split(" (")[0].lower() for col in shown]
    return render(fig, "customer-base-attributes", f"Histograms of {_listed(names)}")


CATEGORICAL_ATTRIBUTES = {
    "gender": "Gender",
    "favorite_category": "Favourite category",
    "device_type": "Device",
    "country": "Country (top 8)",
    "subscription": "Premium subscriber",
    "marketing_opt_in": "Marketing opt-in",
}


def category_shares(values: pd.Series, top: int = 8) -> pd.Series:
    """Share of each value (booleans as Yes/No), largest first, the tail beyond `top` summed as 'Other'."""
    if values.dtype == bool:
        values = values.map({True: "Yes", False: "No"})
    shares = values.astype("object").fillna("Unknown").value_counts(normalize=True, sort=True)
    shares = shares.sort_values(ascending=False, kind="stable")
    if len(shares) > top:
        shares = pd.concat([shares.iloc[: top - 1], pd.Series({"Other": shares.iloc[top - 1:].sum()})])
    return shares


@needs_attributes(*CATEGORICAL_ATTRIBUTES)
@styled
def attribute_mix(ctx: ReportContext) -> ReportFigure:
    """Share of customers by gender, favourite category, device, country, premium and opt-in (those the data has)."""
    df = ctx.customers
    shown = ctx.attributes.only_known(CATEGORICAL_ATTRIBUTES)
    fig, axes = panel_grid(len(shown), 9, 2.55)
    for ax, col in zip(axes, shown):
        label = CATEGORICAL_ATTRIBUTES[col]
        shares = category_shares(df[col])
        ax.barh(np.arange(len(shares)), shares.to_numpy(), color="#8172B3")
        ax.set_yticks(np.arange(len(shares)), [_short(str(v)) for v in shares.index])
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
        ax.set_title(label, loc="left")
    names = [CATEGORICAL_ATTRIBUTES[col].split(" (")[0].lower() for col in shown]
    return render(fig, "customer-base-mix", f"Bar charts: share of customers by {_listed(names)}")


def lorenz_points(monetary: pd.Series, points: int = 201) -> tuple[np.ndarray, np.ndarray]:
    """The Lorenz curve of spend: cumulative share of customers (x, poorest first) and of revenue (y)."""
    spend = np.sort(monetary.to_numpy(dtype=float))
    cum = np.concatenate([[0.0], np.cumsum(spend)])
    x = np.linspace(0, 1, points)
    idx = np.round(x * len(spend)).astype(int)
    total = cum[-1] if cum[-1] > 0 else 1.0
    return x, cum[idx] / total


@styled
def lorenz_curve(ctx: ReportContext) -> ReportFigure:
    """Revenue concentration: the Lorenz curve of customer spend against the line of equal spend."""
    x, y = lorenz_points(ctx.customers["monetary"])
    fig, (ax,) = new_figure(5.5, 4.2)
    ax.plot([0, 1], [0, 1], color=OVERALL_COLOR, linestyle="--", linewidth=1, label="Equal spend")
    ax.plot(x, y, color="#C44E52", linewidth=2, label="Customers")
    ax.fill_between(x, y, x, color="#C44E52", alpha=0.08)
    top20 = 1 - float(np.interp(0.8, x, y))
    ax.annotate(f"Top 20% of customers:\n{fmt.share(top20, 0)} of revenue", xy=(0.8, 1 - top20),
                xytext=(0.35, 0.72), arrowprops={"arrowstyle": "->", "color": INK}, fontsize=8)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="Share of customers (lowest spend first)", ylabel="Share of revenue")
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
    concentration = gini(ctx.customers["monetary"], SCALES["monetary"])
    ax.set_title(f"Revenue concentration (Gini {concentration:.2f})", loc="left")
    ax.legend(loc="upper left")
    return render(fig, "revenue-concentration", "Lorenz curve of customer spend")


# --- method -------------------------------------------------------------------------------------------------


@styled
def score_cube_map(ctx: ReportContext) -> ReportFigure:
    """Which rule wins each R×F×M cell: one R×F grid per M score, each cell in the winning segment's colour."""
    from segmentation.config.rules import score_cube

    cube = score_cube(ctx.params)
    bins = ctx.params.bins
    segments = ctx.params.all_segments
    index = {seg.id: i for i, seg in enumerate(segments)}
    cmap = ListedColormap([ctx.colors.get(seg.id, seg.color) for seg in segments])
    ncols = min(bins, 5)
    nrows = -(-bins // ncols)
    fig, axes = new_figure(9, 2.3 * nrows + 0.9, ncols=ncols, nrows=nrows)
    for m, ax in zip(range(1, bins + 1), axes):
        grid = np.zeros((bins, bins))
        for row in cube[cube["m"] == m].itertuples():
            grid[bins - row.r, row.f - 1] = index[row.segment_id]  # R high at the top, F low on the left
        ax.imshow(grid, cmap=cmap, vmin=-0.5, vmax=len(segments) - 0.5, aspect="equal")
        ax.set_xticks(range(bins), [str(f) for f in range(1, bins + 1)])
        ax.set_yticks(range(bins), [str(r) for r in range(bins, 0, -1)])
        ax.set(title=f"M = {m}", xlabel="F score")
        ax.set_ylabel("R score" if m % ncols == 1 else "")
        ax.grid(False)
        ax.set_xticks(np.arange(-0.5, bins), minor=True)
        ax.set_yticks(np.arange(-0.5, bins), minor=True)
        ax.grid(which="minor", color="white", linewidth=1.2)
        ax.tick_params(which="minor", length=0)
    for ax in axes[bins:]:
        ax.set_visible(False)
    handles = [Patch(facecolor=ctx.colors.get(seg.id, seg.color), label=seg.name) for seg in segments]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6))
    return render(fig, "score-cube", "Grids of R score by F score, one per M score, coloured by the winning segment")


# --- one segment --------------------------------------------------------------------------------------------


def _no_customers(name: str, title: str) -> ReportFigure:
    """A small placeholder figure for a segment without customers in this run."""
    fig, (ax,) = new_figure(6, 1.2)
    ax.axis("off")
    ax.text(0.5, 0.5, f"{title}: no customers in this segment in this run", ha="center", va="center", color=INK)
    return render(fig, name, f"{title}: no customers")


@styled
def kpi_deltas(ctx: ReportContext, segment_id: str) -> ReportFigure:
    """The segment's KPIs relative to all customers (+25% = a quarter above the overall value)."""
    row = ctx.summary_row(segment_id)
    name = f"segment-{segment_slug(segment_id)}-kpi-deltas"
    if row["customers"] == 0:
        return _no_customers(name, "KPIs vs overall")
    kpis = [k for k in fmt.KPI_LABELS if ctx.attributes.kpi_known(k)]
    values = np.array([float(row[f"delta_{k}"]) for k in kpis])
    fig, (ax,) = new_figure(8, 0.325 * len(kpis) + 0.6)
    y = np.arange(len(kpis))
    ax.barh(y, values, color=ctx.colors[segment_id], height=0.6)
    ax.axvline(0, color=INK, linewidth=0.8)
    span = max(0.1, float(np.nanmax(np.abs(values))))
    for i, (kpi, value) in enumerate(zip(kpis, values)):
        label = (f"{fmt.delta(value)}  ({fmt.kpi_value(kpi, float(row[kpi]), ctx.money)} vs "
                 f"{fmt.kpi_value(kpi, ctx.overall[kpi], ctx.money)})")
        inside = value < 0
        ax.text(value + (-0.02 if inside else 0.02) * span, i, label, va="center",
                ha="right" if inside else "left", fontsize=7.5, color=INK)
    ax.set_xlim(min(0.0, float(np.nanmin(values))) - 0.9 * span, max(0.0, float(np.nanmax(values))) + 0.9 * span)
    ax.set_yticks(y, [fmt.KPI_LABELS[k] for k in kpis])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
    ax.set_title(f"{row['segment_name']}: KPIs relative to all customers", loc="left")
    ax.set_xlabel("Difference to all customers (segment ÷ overall − 1)")
    return render(fig, name, f"Bar chart: {row['segment_name']} KPIs relative to all customers")


def _compare_bars(ax, segment: pd.Series, overall: pd.Series, color: str, title: str, *, horizontal: bool) -> None:  # noqa: ANN001
    """Segment vs all-customer shares of each category, side by side (plain string hue: no seaborn dodge trap)."""
    frame = pd.concat([
        pd.DataFrame({"value": segment.index.astype(str), "share": segment.to_numpy(), "group": "Segment"}),
        pd.DataFrame({"value": overall.index.astype(str), "share": overall.to_numpy(), "group": "All customers"}),
    ], ignore_index=True)
    frame["value"] = frame["value"].map(_short).astype(object)
    frame["group"] = frame["group"].astype(object)
    order = [_short(str(v)) for v in segment.index]
    axis = {"y": "value", "x": "share"} if horizontal else {"x": "value", "y": "share"}
    sns.barplot(data=frame, **axis, hue="group", order=order, hue_order=["Segment", "All customers"],
                palette={"Segment": color, "All customers": OVERALL_COLOR}, errorbar=None, ax=ax,
                saturation=1)  # seaborn desaturates by default: keep the segment's exact colour
    fmt_axis = ax.xaxis if horizontal else ax.yaxis
    fmt_axis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
    ax.set(title=title, xlabel="", ylabel="")
    ax.title.set_horizontalalignment("left")
    ax.title.set_position((0, 1))
    legend = ax.get_legend()
    if legend is not None:
        legend.remove()


def _aligned_shares(members: pd.Series, everyone: pd.Series, top: int) -> tuple[pd.Series, pd.Series]:
    """Category shares of the segment and of everyone, on the segment's top categories (+ Other)."""
    seg = category_shares(members, top)
    everyone = everyone.map({True: "Yes", False: "No"}) if everyone.dtype == bool else everyone
    all_shares = everyone.astype("object").fillna("Unknown").value_counts(normalize=True)
    keep = [v for v in seg.index if v != "Other"]
    base = all_shares.reindex(keep).fillna(0.0)
    if "Other" in seg.index:
        base = pd.concat([base, pd.Series({"Other": 1 - base.sum()})])
    return seg, base


@styled
def score_mix(ctx: ReportContext, segment_id: str) -> ReportFigure:
    """Share of the segment's customers at each R, F and M score, next to all customers."""
    members = ctx.members(segment_id)
    name = f"segment-{segment_slug(segment_id)}-scores"
    if members.empty:
        return _no_customers(name, "R/F/M scores")
    fig, axes = new_figure(9, 2.6, ncols=3)
    scores = [str(s) for s in range(1, ctx.params.bins + 1)]
    for ax, (col, label) in zip(axes, (("r_score", "R score (recency)"), ("f_score", "F score (frequency)"),
                                        ("m_score", "M score (monetary)"))):
        seg = members[col].astype(str).value_counts(normalize=True).reindex(scores).fillna(0.0)
        everyone = ctx.customers[col].astype(str).value_counts(normalize=True).reindex(scores).fillna(0.0)
        _compare_bars(ax, seg, everyone, ctx.colors[segment_id], label, horizontal=False)
    _segment_legend(fig, ctx, segment_id)
    return render(fig, name, f"Bar charts: {ctx.names[segment_id]} R, F and M score distribution vs all customers")


def _segment_legend(fig: Figure, ctx: ReportContext, segment_id: str) -> None:
    """One legend for the figure: the segment's colour and the all-customers grey."""
    handles = [Patch(facecolor=ctx.colors[segment_id], label=ctx.names[segment_id]),
               Patch(facecolor=OVERALL_COLOR, label="All customers")]
    fig.legend(handles=handles, loc="outside lower center", ncols=2)


def premium_kpis(money: fmt.Money) -> dict[str, tuple[str, Callable[[float], str]]]:
    """The measures the premium split compares: column → (title, how a value reads)."""
    return {
        "monetary": ("Avg spend", money),
        "frequency": ("Avg orders", lambda v: f"{v:.1f}"),
        "recency_days": ("Avg days since last order", lambda v: f"{v:,.0f}"),
        "marketing_opt_in": ("Marketing opt-in", fmt.share),
    }


@needs_attributes("subscription", note=False)  # the premium table above it says what is missing
@styled
def premium_split(ctx: ReportContext, segment_id: str) -> ReportFigure:
    """Premium subscribers vs the rest inside the segment: spend, orders, recency and opt-in (when known)."""
    members = ctx.members(segment_id)
    name = f"segment-{segment_slug(segment_id)}-premium"
    if members.empty:
        return _no_customers(name, "Premium vs non-premium")
    color = ctx.colors[segment_id]
    kpis = premium_kpis(ctx.money)
    shown = ctx.attributes.only_known(kpis)
    fig, axes = new_figure(9 * len(shown) / len(kpis), 2.4, ncols=len(shown))
    groups = {"Premium": members[members["subscription"].eq(True)],
              "Not premium": members[members["subscription"].eq(False)]}
    for ax, col in zip(axes, shown):
        label, show = kpis[col]
        values = [float(g[col].astype(float).mean()) if len(g) else 0.0 for g in groups.values()]
        bars = ax.bar(list(groups), values, color=[color, _lighter(color)], width=0.6)
        for bar, value, group in zip(bars, values, groups.values()):
            text = show(value) if len(group) else "none"
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), text, ha="center", va="bottom", fontsize=7.5)
        ax.set_title(label, loc="left")
        ax.set_yticks([])
        ax.margins(y=0.18)
    return render(fig, name, f"Bar charts: premium vs non-premium customers in {ctx.names[segment_id]}")


DEMOGRAPHICS = {"age": "Age (years)", "income": "Income", "gender": "Gender"}  # income: labelled with the currency


@needs_attributes(*DEMOGRAPHICS)
@styled
def demographics(ctx: ReportContext, segment_id: str) -> ReportFigure:
    """Age and income distribution and gender mix of the segment (those the data has), against all customers."""
    members = ctx.members(segment_id)
    name = f"segment-{segment_slug(segment_id)}-demographics"
    if members.empty:
        return _no_customers(name, "Demographics")
    color = ctx.colors[segment_id]
    everyone = ctx.customers
    shown = ctx.attributes.only_known(DEMOGRAPHICS)
    fig, axes = new_figure(3 * len(shown), 2.6, ncols=len(shown))
    panels = dict(zip(shown, axes))
    for col in ("age", "income"):
        if col not in panels:
            continue
        ax = panels[col]
        label = ctx.money.label("Income", "top 1% capped") if col == "income" else DEMOGRAPHICS[col]
        values, own = everyone[col].dropna().astype(float), members[col].dropna().astype(float)
        cap = float(np.percentile(values, 99))  # a long income tail would squeeze everyone into one bar
        edges = np.histogram_bin_edges(values.clip(upper=cap).to_numpy(), bins=20)
        ax.hist(values.clip(upper=cap), bins=edges, density=True, color=OVERALL_COLOR, alpha=0.7)
        if len(own):
            ax.hist(own.clip(upper=cap), bins=edges, density=True, histtype="step", linewidth=2, color=color)
        ax.set(title=label, yticks=[])
        if col == "income":
            _money_ticks(ax.xaxis, ctx.money)
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
        ax.title.set_horizontalalignment("left")
        ax.title.set_position((0, 1))
    if "gender" in panels:
        seg, base = _aligned_shares(members["gender"], everyone["gender"], top=5)
        _compare_bars(panels["gender"], seg, base, color, "Gender", horizontal=True)
    _segment_legend(fig, ctx, segment_id)
    return render(fig, name, f"{_listed(shown).capitalize()} of {ctx.names[segment_id]} vs all customers")


PREFERENCES = {"favorite_category": ("Favourite category", 8), "device_type": ("Device", 5),
               "country": ("Country (top 6)", 6)}


@needs_attributes(*PREFERENCES)
@styled
def preferences(ctx: ReportContext, segment_id: str) -> ReportFigure:
    """Favourite categories, devices and countries of the segment (those the data has), against all customers."""
    members = ctx.members(segment_id)
    name = f"segment-{segment_slug(segment_id)}-preferences"
    if members.empty:
        return _no_customers(name, "Categories, devices and countries")
    shown = ctx.attributes.only_known(PREFERENCES)
    fig, axes = new_figure(3 * len(shown), 3.0, ncols=len(shown))
    for ax, col in zip(axes, shown):
        label, top = PREFERENCES[col]
        seg, base = _aligned_shares(members[col], ctx.customers[col], top)
        _compare_bars(ax, seg, base, ctx.colors[segment_id], label, horizontal=True)
    _segment_legend(fig, ctx, segment_id)
    names = [PREFERENCES[col][0].split(" (")[0].lower() for col in shown]
    return render(fig, name, f"{_listed(names).capitalize()} of {ctx.names[segment_id]} vs all customers")


# --- comparison and recommendations -------------------------------------------------------------------------


@styled
def kpi_heatmap(ctx: ReportContext) -> ReportFigure:
    """Every segment's KPIs relative to all customers, as a colour-coded grid (green = better, red = worse)."""
    summary = ctx.summary[ctx.summary["customers"] > 0]
    kpis = [k for k in fmt.KPI_LABELS if ctx.attributes.kpi_known(k)]
    values = np.array([[float(row[f"delta_{k}"]) for k in kpis] for _, row in summary.iterrows()])
    goodness = values * np.array([-1 if k in fmt.LOWER_IS_BETTER else 1 for k in kpis])
    fig, (ax,) = new_figure(9, 0.42 * len(summary) + 1.9)
    limit = max(0.25, float(np.nanmax(np.abs(goodness))) if goodness.size else 0.25)
    ax.imshow(np.clip(goodness, -limit, limit), cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            ax.text(j, i, fmt.delta(values[i, j]), ha="center", va="center", fontsize=7.5, color=INK)
    ax.set_xticks(range(len(kpis)), [fmt.KPI_LABELS[k].replace(" since", "\nsince") for k in kpis], fontsize=7.5)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(summary)), summary["segment_name"])
    for label, color in zip(ax.get_yticklabels(), summary["color"]):
        label.set_color(color)
        label.set_fontweight("bold")
    ax.grid(False)
    ax.spines[:].set_visible(False)
    ax.set_xlabel("Segment ÷ all customers − 1; green is better for the business, red is worse", fontsize=7.5)
    return render(fig, "comparison-kpi-deltas", "Grid of KPI differences to all customers, one row per segment")


@styled
def spend_by_segment(ctx: ReportContext) -> ReportFigure:
    """Distribution of customer spend in each segment (box: middle half; whiskers: 1.5 IQR; log scale)."""
    summary = ctx.summary[ctx.summary["customers"] > 0]
    groups = [ctx.members(sid)["monetary"].clip(lower=1).to_numpy() for sid in summary["segment_id"]]
    fig, (ax,) = new_figure(9, 0.42 * len(summary) + 1.3)
    boxes = ax.boxplot(groups, orientation="horizontal", showfliers=False, patch_artist=True, widths=0.6,
                       medianprops={"color": INK})
    for patch, color in zip(boxes["boxes"], summary["color"]):
        patch.set_facecolor(color)
    ax.set_yticks(range(1, len(summary) + 1), summary["segment_name"])
    ax.invert_yaxis()
    ax.set_xscale("log")
    _money_ticks(ax.xaxis, ctx.money)
    ax.set_xlabel(ctx.money.label("Total spend per customer", "log scale"))
    ax.set_title("Spend per customer by segment", loc="left")
    return render(fig, "comparison-spend", "Box plots of spend per customer, one per segment")


@styled
def score_profiles(ctx: ReportContext) -> ReportFigure:
    """Average R, F and M score of each segment."""
    summary = ctx.summary[ctx.summary["customers"] > 0]
    means = ctx.customers.groupby("segment_id", observed=True)[["r_score", "f_score", "m_score"]].mean()
    means = means.reindex(summary["segment_id"])
    fig, axes = new_figure(9, 0.32 * len(summary) + 1.4, ncols=3)
    y = np.arange(len(summary))
    scores = (("r_score", "Avg R score"), ("f_score", "Avg F score"), ("m_score", "Avg M score"))
    for ax, (col, label) in zip(axes, scores):
        ax.barh(y, means[col].to_numpy(), color=summary["color"].tolist(), height=0.65)
        ax.set_xlim(0, ctx.params.bins)
        ax.set_title(label, loc="left")
        ax.set_yticks(y, summary["segment_name"] if ax is axes[0] else [""] * len(y))
        ax.invert_yaxis()
    return render(fig, "comparison-scores", "Bar charts: average R, F and M score per segment")


@styled
def recommendation_audiences(ctx: ReportContext) -> ReportFigure:
    """Customers and revenue each recommendation targets, in the colour of its target segment."""
    from segmentation.report.recommend import recommendations

    recs = [rec for rec in recommendations(ctx) if rec.customers > 0]
    fig, axes = new_figure(9, 0.5 * max(len(recs), 1) + 1.3, ncols=2)
    y = np.arange(len(recs))
    colors = [ctx.colors[rec.segment_ids[0]] for rec in recs]
    for ax, values, label, show in ((axes[0], [r.customers for r in recs], "Customers targeted", fmt.count),
                                    (axes[1], [r.revenue for r in recs], "Their revenue to date", ctx.money)):
        ax.barh(y, values, color=colors, height=0.6)
        for i, value in enumerate(values):
            ax.text(value, i, f" {show(value)}", va="center", fontsize=7.5)
        ax.set_title(label, loc="left")
        ax.set_xticks([])
        ax.margins(x=0.25)
        ax.set_yticks(y, [r.title for r in recs] if ax is axes[0] else [""] * len(y))
        ax.invert_yaxis()
    return render(fig, "recommendation-audiences", "Bar charts: customers and revenue targeted by each recommendation")


def _money_ticks(axis: matplotlib.axis.Axis, money: fmt.Money) -> None:
    """Amounts as tick labels (£500, £12K, £1.2M) on linear or log axes, without TeX (math text is off)."""
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _pos: money.tick(v)))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _listed(names: list[str]) -> str:
    """'a, b and c' (figure alt text)."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _short(label: str, width: int = 22) -> str:
    """A category label cut to fit an axis."""
    return label if len(label) <= width else label[: width - 1] + "…"


def _lighter(color: str, amount: float = 0.55) -> tuple[float, float, float]:
    """A paler tint of a colour (for the second group next to the segment colour)."""
    r, g, b = to_rgb(color)
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount)
