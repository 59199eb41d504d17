"""The 'What changed since <date>' chapter: segment migration between this mart and an earlier snapshot.

Reads `segment_migration.parquet` and `migration.json` from the mart (written by `python -m segmentation migrate`);
the chapter is in the report only when both exist and belong to the mart as it is now.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.patches import Rectangle

from segmentation.migration import LAPSED, NEW, Migration, command_hint, read_migration
from segmentation.report.context import ReportContext
from segmentation.report.display import Markdown, Table
from segmentation.report.escape import Md, md_code
from segmentation.report.figures import INK, ReportFigure, new_figure, render, styled
from segmentation.words import formatting as fmt

NEW_COLOR = LAPSED_COLOR = "#4D4D4D"  # the pseudo-segments: neutral dark grey, italic labels
SHARE_CMAP = LinearSegmentedColormap.from_list("share", ["#F4F7FB", "#9ECAE1", "#2171B5", "#08306B"])
MATCH_WORDS = {
    "id": ("by the mart's customer id (issued by first-purchase chronology, checked against the source id and "
           "first purchase date of both snapshots)"),
    "source": ("by the customer file's id together with the first purchase date (customers who share both are "
               "paired in customer-id order)"),
}


def load(ctx: ReportContext) -> Migration:
    """The migration stored in this report's mart (raises FileNotFoundError naming the command when absent)."""
    return _read(str(ctx.mart.path))


@lru_cache(maxsize=4)
def _read(mart_dir: str) -> Migration:
    """Read once per kernel."""
    found = read_migration(mart_dir)
    if found is None:
        raise FileNotFoundError(f"{mart_dir}: no segment migration; create it with `{command_hint(mart_dir)}`")
    return found


def title(mig: Migration) -> str:
    """The chapter title."""
    return f"What changed since {mig.before_date}"


def _colors(ctx: ReportContext) -> dict[str, str]:
    """Segment colours plus the two pseudo-segments."""
    return {**ctx.colors, NEW: NEW_COLOR, LAPSED: LAPSED_COLOR}


def matrix(mig: Migration) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers and share of the from segment as from × to grids (rows and columns in the file's order)."""
    flows = mig.flows
    rows = list(dict.fromkeys(flows["from_segment_id"]))
    cols = list(dict.fromkeys(flows["to_segment_id"]))
    counts = flows.pivot(index="from_segment_id", columns="to_segment_id", values="customers").reindex(rows)[cols]
    shares = flows.pivot(index="from_segment_id", columns="to_segment_id", values="share_of_from").reindex(rows)[cols]
    return counts, shares


def headline(ctx: ReportContext) -> Markdown:
    """The change in one paragraph: customers then and now, who stayed, moved, arrived and lapsed."""
    mig = load(ctx)
    t = mig.info["totals"]
    stay = t["stayed"] / t["matched"] if t["matched"] else float("nan")
    lines = [Md(
        "Between **{before}** and **{after}** the customer base went from **{customers_before}** to "
        "**{customers_after} customers**. Of the {matched} customers in both snapshots, **{stayed} ({stay})** are "
        "in the same segment and **{moved}** moved to another; **{new}** customers are new and **{lapsed}** are no "
        "longer in the file."
    ).format(before=mig.before_date, after=mig.after_date, customers_before=fmt.count(t["customers_before"]),
             customers_after=fmt.count(t["customers_after"]), matched=fmt.count(t["matched"]),
             stayed=fmt.count(t["stayed"]), stay=fmt.share(stay), moved=fmt.count(t["moved"]),
             new=fmt.count(t["new"]), lapsed=fmt.count(t["lapsed"]))]
    if mig.info.get("top_movements"):
        lines.append(Md("The largest movement by revenue: {}").format(
            movement_sentence(mig.info["top_movements"][0], ctx.money)))
    if not mig.current:
        lines.append(Md("*This comparison was computed for an earlier build of the mart; rerun {}.*")
                     .format(md_code(command_hint(ctx.mart.path))))
    return Markdown(Md("\n\n").join(lines))


def movement_sentence(move: dict[str, Any], money: fmt.Money) -> str:
    """One flow of `top_movements` in a sentence chosen by its numbers, amounts in `money`: new customers, lapsed
    ones, or a move (and whether they bought since). Plain text (it names segments from the params): escaped where
    it is shown."""
    n, before, after = int(move["customers"]), float(move["revenue_before"]), float(move["revenue_after"])
    people = f"{fmt.count(n)} customer{'s' if n != 1 else ''}"
    if move["from_segment_id"] == NEW:
        return f"{people} new to the file joined {move['to_segment_name']}, with {money(after)} of lifetime spend."
    share = _share_of(move["share_of_from"], move["from_segment_name"])
    if move["to_segment_id"] == LAPSED:
        return f"{people} ({share}) are no longer in the customer file; they had spent {money(before)}."
    gained = after - before
    if gained == 0:
        since = "they have not bought since"
    elif gained < 0:
        since = f"their lifetime spend has fallen by {money(-gained)} since (refunds or corrections)"
    else:
        since = f"together they have spent {money(gained)} since"
    return (f"{people} ({share}) moved to {move['to_segment_name']}; they had spent {money(before)} in their "
            f"lifetime, and {since}.")


def _share_of(share: float | None, segment: str) -> str:
    """'35% of Top Customers', '4.2% of At Risk', or 'of At Risk' when the share is not known."""
    if share is None or math.isnan(share):
        return f"of {segment}"
    return f"{fmt.share(share, 0 if share >= 0.1 else 1)} of {segment}"


@styled
def heatmap(ctx: ReportContext) -> ReportFigure:
    """Transition heatmap: rows are segments before, columns segments after, coloured by the share of the row."""
    mig = load(ctx)
    counts, shares = matrix(mig)
    names = dict(zip(mig.flows["from_segment_id"], mig.flows["from_segment_name"]))
    names |= dict(zip(mig.flows["to_segment_id"], mig.flows["to_segment_name"]))
    colors = _colors(ctx)
    n_rows, n_cols = counts.shape
    fig, (ax,) = new_figure(min(9.0, 3.2 + 0.62 * n_cols), 1.9 + 0.46 * n_rows)
    grid = shares.to_numpy(dtype=float)
    ax.imshow(np.ma.masked_invalid(grid), cmap=SHARE_CMAP, vmin=0, vmax=1, aspect="auto")
    for i, row in enumerate(counts.index):
        for j, col in enumerate(counts.columns):
            if row == NEW and col == LAPSED:
                ax.text(j, i, "–", ha="center", va="center", fontsize=7, color="#999999")
                continue
            n, share = int(counts.iat[i, j]), grid[i, j]
            dark = not np.isnan(share) and share >= 0.45
            text = f"{n:,}\n{fmt.share(share, 0)}" if n else "0"
            ax.text(j, i, text, ha="center", va="center", fontsize=6.8, linespacing=1.1,
                    color="white" if dark else (INK if n else "#AAAAAA"))
            if row == col:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor=INK, linewidth=1.2))
    ax.set_xticks(range(n_cols), [names[c] for c in counts.columns], rotation=30, ha="left", rotation_mode="anchor")
    ax.xaxis.tick_top()
    ax.set_yticks(range(n_rows), [names[r] for r in counts.index])
    for labels, ids in ((ax.get_xticklabels(), counts.columns), (ax.get_yticklabels(), counts.index)):
        for label, sid in zip(labels, ids):
            label.set_color(colors.get(sid, INK))
            label.set_fontweight("bold")
            label.set_fontstyle("italic" if sid in (NEW, LAPSED) else "normal")
    ax.tick_params(length=0)
    ax.grid(False)
    ax.spines[:].set_visible(False)
    ax.set_xticks(np.arange(-0.5, n_cols), minor=True)
    ax.set_yticks(np.arange(-0.5, n_rows), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    ax.set_title(f"Segment migration from {mig.before_date} to {mig.after_date}", loc="left")
    ax.set_ylabel(f"Segment on {mig.before_date}")
    ax.set_xlabel(f"Segment on {mig.after_date}  ·  each cell: customers and share of the row; framed: stayed",
                  fontsize=7.5)
    return render(fig, "segment-migration",
                  f"Heatmap of customers moving from each segment on {mig.before_date} (rows) "
                  f"to each segment on {mig.after_date} (columns)")


def movements(ctx: ReportContext) -> Table:
    """The movements that matter: the flows between different segments carrying the most revenue."""
    mig = load(ctx)
    colors = _colors(ctx)
    rows = [{
        "Movement": f"{m['from_segment_name']} → {m['to_segment_name']}",
        "Customers": int(m["customers"]),
        "Share of from segment": m["share_of_from"],
        "Revenue before": float(m["revenue_before"]),
        "Revenue after": float(m["revenue_after"]),
        "What it means": movement_sentence(m, ctx.money),
    } for m in mig.info.get("top_movements", [])]
    frame = pd.DataFrame(rows, columns=["Movement", "Customers", "Share of from segment", "Revenue before",
                                        "Revenue after", "What it means"])
    return Table(
        frame,
        caption="Movements between segments, new customers and lapsed ones, largest revenue first (revenue before "
                "the move; for new customers, revenue after). Revenue is lifetime spend in each snapshot.",
        formats={"Customers": fmt.count, "Share of from segment": lambda v: "–" if v is None else fmt.share(v),
                 "Revenue before": ctx.money, "Revenue after": ctx.money},
        row_colors=[colors.get(m["to_segment_id"]) for m in mig.info.get("top_movements", [])],
        numeric=("Share of from segment",),
    )


def segment_changes(ctx: ReportContext) -> Table:
    """Per segment: customers then and now, and where the difference came from."""
    mig = load(ctx)
    flows = mig.flows
    segments = [s for s in dict.fromkeys(flows["from_segment_id"]) if s != NEW]
    names = dict(zip(flows["from_segment_id"], flows["from_segment_name"]))
    rows = []
    for sid in segments:
        out_of = flows[flows["from_segment_id"] == sid]
        into = flows[flows["to_segment_id"] == sid]
        stayed = int(out_of.loc[out_of["to_segment_id"] == sid, "customers"].sum())
        rows.append({
            "Segment": names[sid],
            "Before": int(out_of["customers"].sum()),
            "After": int(into["customers"].sum()),
            "Stayed": stayed,
            "From other segments": int(into.loc[~into["from_segment_id"].isin([sid, NEW]), "customers"].sum()),
            "New": int(into.loc[into["from_segment_id"] == NEW, "customers"].sum()),
            "To other segments": int(out_of.loc[~out_of["to_segment_id"].isin([sid, LAPSED]), "customers"].sum()),
            "Lapsed": int(out_of.loc[out_of["to_segment_id"] == LAPSED, "customers"].sum()),
        })
    frame = pd.DataFrame(rows)
    frame.insert(3, "Change", frame["After"] - frame["Before"])
    return Table(
        frame,
        caption=f"Customers per segment on {mig.before_date} and {mig.after_date}: After = Stayed + From other "
                "segments + New; Before = Stayed + To other segments + Lapsed",
        formats={c: fmt.count for c in frame.columns if c not in ("Segment", "Change")}
        | {"Change": lambda v: f"{v:+,}".replace("-", "−")},
        row_colors=[ctx.colors.get(sid) for sid in segments],
    )


def method(ctx: ReportContext, before_mart_dir: str = "") -> Markdown:
    """How the two snapshots were compared: which marts, how customers were matched, what revenue means."""
    mig = load(ctx)
    before = mig.info["before"]
    path = Path(before_mart_dir or before["mart_dir"])
    folder = f"{path.parent.name}/{path.name}"  # marts are usually all called 'mart…': the parent tells them apart
    ambiguous = mig.info.get("ambiguous_customers") or {}
    shared = sum(ambiguous.values())
    lines = [
        Md("This mart (as of {after}) was compared with the snapshot in {folder} (as of {before}, {customers} "
           "customers, params {params}). Customers were matched {match}.").format(
            after=mig.after_date, folder=md_code(folder), before=mig.before_date,
            customers=fmt.count(before["customers"]), params=md_code((before.get("params") or {}).get("name")),
            match=MATCH_WORDS[mig.info["match"]]),
        Md("Both snapshots score recency against their own reference date and draw score cut-offs from their own "
           "customers, so a customer can change segment without changing behaviour when the rest of the base moves. "
           "Revenue is lifetime spend as recorded in each snapshot: for customers in both, revenue after minus "
           "revenue before is what they spent in between."),
    ]
    if shared:
        lines.append(Md("{} customers before and {} after share their match key with another customer.").format(
            fmt.count(ambiguous.get("before", 0)), fmt.count(ambiguous.get("after", 0))))
    return Markdown(Md("\n\n").join(lines))
