"""The score cube: which segment rule wins each (R, F, M) cell, and how much of the cube each rule takes."""

from __future__ import annotations

import itertools

import pandas as pd

from segmentation.config.params import Params, Segment, winner


def score_cube(params: Params) -> pd.DataFrame:
    """One row per cell of the bins×bins×bins cube: r, f, m and the winning segment's id and name."""
    scores = range(1, params.bins + 1)
    rows = []
    for r, f, m in itertools.product(scores, scores, scores):
        seg = winner(params.all_segments, r, f, m)
        rows.append((r, f, m, seg.id, seg.name))
    return pd.DataFrame(rows, columns=["r", "f", "m", "segment_id", "segment_name"])


def coverage(params: Params) -> pd.DataFrame:
    """Per segment, in precedence order: cells claimed by its ranges, cells it actually wins, share of the cube."""
    cube = score_cube(params)
    won = cube["segment_id"].value_counts()
    total = len(cube)
    rows = []
    for seg in params.all_segments:
        claimed = total if seg.is_fallback else _cells(seg)
        cells = int(won.get(seg.id, 0))
        rows.append((seg.id, seg.name, claimed, cells, cells / total))
    return pd.DataFrame(rows, columns=["segment_id", "segment_name", "cells_claimed", "cells_won", "cube_share"])


def describe(params: Params) -> str:
    """A text report of the rules: coverage per segment and, per R×F slice of M, the winning rule of each cell."""
    table = coverage(params)
    lines = [f"Rules in {params.path} ({params.bins}×{params.bins}×{params.bins} = {params.bins ** 3} cells)", ""]
    lines.append(f"{'#':>2}  {'id':<18} {'name':<22} {'R':<6} {'F':<6} {'M':<6} {'cells won':>9}  share")
    for i, (seg, row) in enumerate(zip(params.all_segments, table.itertuples()), start=1):
        r, f, m = (_span(x) for x in (seg.r, seg.f, seg.m))
        lines.append(
            f"{i:>2}  {seg.id:<18} {seg.name[:22]:<22} {r:<6} {f:<6} {m:<6} {row.cells_won:>9}  {row.cube_share:6.1%}"
        )
    cube = score_cube(params)
    keys = {seg.id: _key(i) for i, seg in enumerate(params.all_segments)}
    lines += ["", "Winning rule per cell (rows R high→low, columns F low→high), one grid per M score:"]
    lines.append("  key: " + ", ".join(f"{keys[s.id]}={s.id}" for s in params.all_segments))
    scores = range(1, params.bins + 1)
    for m in scores:
        lines.append(f"  M={m}")
        for r in reversed(scores):
            cells = cube[(cube.m == m) & (cube.r == r)].sort_values("f")["segment_id"]
            lines.append(f"    R={r}  " + " ".join(keys[c] for c in cells))
    return "\n".join(lines)


def _cells(seg: Segment) -> int:
    """How many cube cells a segment's ranges cover, before precedence."""
    return (seg.r[1] - seg.r[0] + 1) * (seg.f[1] - seg.f[0] + 1) * (seg.m[1] - seg.m[0] + 1)


def _span(rng: tuple[int, int] | None) -> str:
    """A range as '4-5', or 'any' for the fallback."""
    return "any" if rng is None else f"{rng[0]}-{rng[1]}"


def _key(index: int) -> str:
    """A one-character key for the i-th rule in the cell grid."""
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[index] if index < 26 else "?"
