"""Score properties: in range, monotone, ties equal, balanced bins for distinct values; known values; RFM codes."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.mart.scores import add_scores, cutoffs


def scored(recency, frequency, monetary, bins=5) -> pd.DataFrame:
    """Score a small frame through the real Ibis code."""
    table = ibis.memtable(pd.DataFrame({"recency_days": recency, "frequency": frequency, "monetary": monetary}))
    return add_scores(table, cutoffs(table, bins)).execute()


values = st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=300)


@settings(max_examples=40, deadline=None)
@given(values, st.integers(min_value=2, max_value=7))
def test_scores_are_in_range_monotone_and_equal_for_ties(xs, bins):
    df = scored(xs, xs, [float(x) for x in xs], bins)
    for dim in ("f", "m"):
        s = df[f"{dim}_score"]
        assert s.between(1, bins).all()
        ordered = df.sort_values(["frequency", f"{dim}_score"])
        assert ordered[f"{dim}_score"].is_monotonic_increasing  # more of the value never scores lower
        assert (df.groupby("frequency")[f"{dim}_score"].nunique() == 1).all()  # ties share a score
    # recency is the other way round: more recent (fewer days) never scores lower
    ordered = df.sort_values(["recency_days", "r_score"], ascending=[True, False])
    assert ordered["r_score"].is_monotonic_decreasing
    assert (df.groupby("recency_days")["r_score"].nunique() == 1).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=2, max_value=400), st.integers(min_value=2, max_value=8),
       st.randoms(use_true_random=False))
def test_distinct_values_fill_every_bin_within_one_customer(n, bins, rnd):
    xs = list(range(n))
    rnd.shuffle(xs)
    df = scored(xs, xs, [x * 1.5 for x in xs], bins)
    for dim in "rfm":
        counts = df[f"{dim}_score"].value_counts().reindex(range(1, bins + 1), fill_value=0)
        if n >= bins:
            assert counts.min() >= 1
        assert counts.max() - counts.min() <= 1, counts.tolist()


def test_rfm_code_joins_the_three_scores():
    df = scored([1, 50, 100, 200, 300], [9, 7, 5, 3, 1], [500.0, 400.0, 300.0, 200.0, 100.0])
    assert df["rfm_code"].tolist() == ["555", "444", "333", "222", "111"]


def test_cutoffs_are_the_quantiles_at_k_over_n():
    rng = np.random.default_rng(0)
    money = rng.lognormal(4, 1, 1000)
    frame = pd.DataFrame({"recency_days": np.arange(1000), "frequency": np.arange(1000), "monetary": money})
    table = ibis.memtable(frame)
    cuts = cutoffs(table, 4)
    np.testing.assert_allclose(cuts["m"], np.quantile(money, [0.25, 0.5, 0.75]))
    np.testing.assert_allclose(cuts["r"], np.quantile(-np.arange(1000), [0.25, 0.5, 0.75]))


def test_known_cutoffs_and_scores_with_ties_in_each_dimension():
    # cut-offs worked out by hand: the quantiles at 0.2, 0.4, 0.6, 0.8 of 10 values, interpolated linearly
    # between neighbours (position k/5 × 9 in the sorted values)
    recency = [0, 0, 5, 10, 10, 10, 20, 40, 80, 160]
    frequency = [5, 4, 3, 2, 1, 1, 1, 1, 1, 1]
    monetary = [100.0, 90.0, 80.0, 70.0, 60.0, 50.0, 40.0, 30.0, 20.0, 10.0]
    table = ibis.memtable(pd.DataFrame({"recency_days": recency, "frequency": frequency, "monetary": monetary}))
    cuts = cutoffs(table, 5)
    assert cuts["r"] == pytest.approx([-48.0, -14.0, -10.0, -4.0])
    assert cuts["f"] == pytest.approx([1.0, 1.0, 1.4, 3.2])
    assert cuts["m"] == pytest.approx([28.0, 46.0, 64.0, 82.0])
    df = scored(recency, frequency, monetary)
    assert df["r_score"].tolist() == [5, 5, 4, 3, 3, 3, 2, 2, 1, 1]  # 10 days sits on a cut-off: not above it
    assert df["f_score"].tolist() == [5, 5, 4, 4, 1, 1, 1, 1, 1, 1]  # six single orders span three cut-offs
    assert df["m_score"].tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert df["rfm_code"].tolist() == ["555", "555", "444", "344", "313", "313", "212", "212", "111", "111"]
