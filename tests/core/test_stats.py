"""The one Gini coefficient (segmentation.core.stats.gini), against values worked out by hand.

Convention: the population form Σᵢ Σⱼ |xᵢ − xⱼ| / (2 n² x̄), so one customer holding everything gives (n − 1)/n.
Each expected value below is that double sum done on paper, not the formula the function uses.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.core.stats import SCALES, effect_size_class, gini


@pytest.mark.parametrize("values, expected", [
    ([1, 1, 1, 1], 0.0),  # all equal
    ([7], 0.0),  # a single customer
    ([0, 0, 0, 1], 0.75),  # one of four holds everything: 6 ordered pairs differ by 1 → 6 / (2·16·¼)
    ([0, 1], 0.5),  # 2 ordered pairs differ by 1 → 2 / (2·4·½)
    ([1, 2], 1 / 6),  # 2 / (2·4·1.5)
    ([3, 1, 2, 2], 0.1875),  # ordered differences 2+1+1+2+1+1+1+1+0+… = 12 → 12 / (2·16·2)
    ([2, 2, 0, 0], 0.5),  # ties: 8 ordered pairs differ by 2 → 16 / (2·16·1)
])
def test_gini_known_values(values: list[float], expected: float) -> None:
    assert gini(values) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("values", [[], [0], [0, 0, 0]])
def test_gini_of_nothing_or_a_zero_total_is_zero(values: list[float]) -> None:
    assert gini(values) == 0.0


def test_gini_counts_money_in_whole_cents() -> None:
    # 0.1 and 0.2 dollars are 10 and 20 cents exactly: the same coefficient as [1, 2]
    assert gini([0.1, 0.2], SCALES["monetary"]) == 1 / 6
    # amounts are rounded to whole cents first: 0.4 cent is 0, 0.6 cent is 1
    assert gini([0.004, 0.006], SCALES["monetary"]) == 0.5


def test_gini_of_amounts_too_large_for_int64_sums_is_still_exact() -> None:
    assert gini([0, 0, 0, 1e19]) == 0.75
    assert gini([1e19] * 4) == 0.0
    assert gini([1e19, 2e19]) == 1 / 6


def test_gini_rejects_missing_values() -> None:
    with pytest.raises(ValueError, match="NaN"):
        gini([1.0, float("nan")])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=8))
def test_gini_is_the_mean_absolute_difference_over_twice_the_mean(values: list[int]) -> None:
    """The defining double sum, in exact fractions, for every small list of whole amounts."""
    n, total = len(values), sum(values)
    pairs = sum(abs(a - b) for a, b in itertools.product(values, values))
    expected = Fraction(pairs, 2 * n * total) if total else Fraction(0)
    assert gini(values) == float(expected)
    # the same in any order and from a pandas Series: bit for bit, not just close
    assert gini(list(reversed(values))) == gini(values) == gini(pd.Series(values, dtype=float))


def test_gini_is_identical_for_any_order_of_a_large_column() -> None:
    money = np.random.default_rng(7).gamma(1.0, 80.0, size=50_000).round(2)
    shuffled = np.random.default_rng(8).permutation(money)
    assert gini(money, SCALES["monetary"]) == gini(shuffled, SCALES["monetary"])


@pytest.mark.parametrize("effect, expected", [
    (0.0, "negligible"), (0.199, "negligible"), (0.2, "small"), (-0.49, "small"), (-0.5, "medium"), (0.79, "medium"),
    (0.8, "large"), (-2.5, "large"),
])
def test_effect_sizes_get_cohens_classes_by_absolute_value(effect: float, expected: str) -> None:
    assert effect_size_class(effect) == expected
