"""The mart's numbers in the dashboard's words: a segment's key traits, worded as the report words them
(`segmentation.report.traits`; a test holds the two to the same text)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from segmentation.config.schema import FIELD_LABELS
from segmentation.core.stats import effect_size_class
from segmentation.mart.summary import parse_feature

# Cohen's classes of an effect size, as the adverb before 'higher' or 'lower'
SIZE_WORDS = {"large": "much", "medium": "clearly", "small": "slightly", "negligible": "barely"}


def trait_texts(row: Mapping[str, Any]) -> list[str]:
    """The key traits of one segment summary row, most distinctive first (parquet lists arrive as arrays; a segment
    too small to compare has none)."""
    columns = ("trait_features", "trait_effects", "trait_values", "trait_rest_values")
    lists = [[] if row.get(c) is None else list(row[c]) for c in columns]
    return [trait_text(*trait) for trait in zip(*lists)]


def trait_text(feature: str, effect: float, value: float, rest: float) -> str:
    """'Age: 52.3 vs 41.0 for the rest (much higher, d = +0.85)'; 'Premium: 40% vs 12% for the rest (…, h = …)'."""
    found = parse_feature(feature)
    name = FIELD_LABELS.get(found.field, found.field) + ("" if found.level is None else f" {found.level}")
    shown = _share if found.share else _number
    direction = "higher" if effect >= 0 else "lower"
    return (f"{name}: {shown(value)} vs {shown(rest)} for the rest ({SIZE_WORDS[effect_size_class(effect)]} "
            f"{direction}, {'h' if found.share else 'd'} = {effect:+.2f})")


def _number(value: float) -> str:
    """A measured value with the precision its size calls for: 52,340, 41.3, 0.42."""
    if value is None or math.isnan(value):
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _share(value: float) -> str:
    """A 0–1 share as a whole percentage."""
    return "–" if value is None or math.isnan(value) else f"{value:.0%}"
