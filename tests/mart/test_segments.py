"""Segments stage on hand-built scores: the first matching rule in file order wins, the fallback takes the rest."""

from __future__ import annotations

import ibis
import pandas as pd

from segmentation.config.params import load_params
from segmentation.mart.segments import assign_segments
from tests.overlapping_rules import EXPECTED, write_params


def segments_of(params, cells: list[tuple[int, int, int]]) -> pd.DataFrame:
    """assign_segments on customers with these (r, f, m) scores, in that order."""
    scores = pd.DataFrame(cells, columns=["r_score", "f_score", "m_score"]).rename_axis("customer").reset_index()
    return assign_segments(ibis.memtable(scores), params).execute().sort_values("customer")


def test_each_customer_gets_the_first_matching_rule_or_the_fallback(tmp_path):
    params = load_params(write_params(tmp_path))
    got = segments_of(params, list(EXPECTED))
    assert got["segment_id"].tolist() == list(EXPECTED.values())
    names = {"best": "Best", "recent": "Recent", "loyal": "Loyal", "big": "Big", "other": "Other"}
    assert got["segment_name"].tolist() == [names[s] for s in EXPECTED.values()]


def test_rule_order_in_the_file_decides_the_overlap(tmp_path):
    params = load_params(write_params(tmp_path, order=("best", "loyal", "recent", "big")))
    got = segments_of(params, [(3, 3, 1), (2, 3, 3), (2, 1, 3), (3, 3, 3), (1, 1, 1)])
    assert got["segment_id"].tolist() == ["loyal", "loyal", "recent", "best", "other"]
