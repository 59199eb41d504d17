"""A segment's key traits in words, from the summary's numbers (feature code, effect size, the segment's value and
the rest's): 'Age: 52.3 vs 41.0 for the rest (much higher, d = +0.85)', 'Income: £52.3K vs £41.0K …'."""

from __future__ import annotations

from functools import partial
from typing import Any

from segmentation.config.schema import FIELD_LABELS
from segmentation.core.stats import effect_size_class
from segmentation.mart.quality import MONEY
from segmentation.mart.summary import parse_feature
from segmentation.words import formatting as fmt

# Cohen's classes of an effect size, as the adverb before 'higher' or 'lower'
SIZE_WORDS = {"large": "much", "medium": "clearly", "small": "slightly", "negligible": "barely"}


def trait_text(feature: str, effect: float, value: float, rest: float, money: fmt.Money) -> str:
    """One trait as plain text, amounts in `money` (a category level from the customer file is in it: escaped where
    it is shown)."""
    found = parse_feature(feature)
    name = FIELD_LABELS.get(found.field, found.field) + ("" if found.level is None else f" {found.level}")
    shown = partial(fmt.share, digits=0) if found.share else money if found.field in MONEY else fmt.number
    direction = "higher" if effect >= 0 else "lower"
    return (f"{name}: {shown(value)} vs {shown(rest)} for the rest ({SIZE_WORDS[effect_size_class(effect)]} "
            f"{direction}, {'h' if found.share else 'd'} = {effect:+.2f})")


TRAIT_COLUMNS = ("trait_features", "trait_effects", "trait_values", "trait_rest_values")


def trait_texts(row: Any, money: fmt.Money) -> list[str]:
    """The key traits of one row of the segment summary, most distinctive first (a mapping or a pandas row; Parquet
    lists may arrive as arrays, and a segment too small to compare has none)."""
    lists = [[] if row.get(column) is None else list(row[column]) for column in TRAIT_COLUMNS]
    return [trait_text(*trait, money) for trait in zip(*lists)]
