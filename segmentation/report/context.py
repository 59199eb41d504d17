"""What every chapter reads: the params, the mart, and lookups by segment (name, colour, customers)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from segmentation.config.params import Params, Segment, load_params
from segmentation.mart.store import Mart, read_mart
from segmentation.words.attributes import Attributes, known_attributes
from segmentation.words.formatting import Money


@dataclass(frozen=True)
class ReportContext:
    """The params and the built mart of one report, with the lookups chapters need."""

    params: Params
    mart: Mart

    @property
    def customers(self) -> pd.DataFrame:
        """One row per customer (the mart's customer_segments)."""
        return self.mart.customers

    @property
    def summary(self) -> pd.DataFrame:
        """One row per segment in precedence order, fallback last."""
        return self.mart.summary

    @property
    def overall(self) -> dict[str, float]:
        """KPI values of the whole population."""
        return self.mart.insights["overall"]

    @cached_property
    def attributes(self) -> Attributes:
        """The customer attributes this mart knows (orders without a customer file know few or none)."""
        return known_attributes(self.customers)

    @cached_property
    def money(self) -> Money:
        """Amounts in the mart's currency (its manifest records the params' `currency`): `ctx.money(1234.5)`."""
        return Money.of(self.mart.manifest["currency"])

    @cached_property
    def colors(self) -> dict[str, str]:
        """Segment id → hex colour, the one colour of that segment on every page."""
        return dict(zip(self.summary["segment_id"], self.summary["color"]))

    @cached_property
    def names(self) -> dict[str, str]:
        """Segment id → display name."""
        return dict(zip(self.summary["segment_id"], self.summary["segment_name"]))

    def segment(self, segment_id: str) -> Segment:
        """The segment rule with this id (raises ParamsError naming the params file when unknown)."""
        return self.params.segment(segment_id)

    def summary_row(self, segment_id: str) -> pd.Series:
        """The summary row (size, shares, KPIs, deltas, traits) of one segment."""
        rows = self.summary[self.summary["segment_id"] == segment_id]
        if rows.empty:
            raise KeyError(f"segment '{segment_id}' is not in the mart's segment summary; rebuild the mart")
        return rows.iloc[0]

    def members(self, segment_id: str) -> pd.DataFrame:
        """The customers of one segment."""
        return self.customers[self.customers["segment_id"] == segment_id]

    @property
    def reference_date(self) -> str:
        """The reference date of the run (ISO)."""
        return str(self.mart.manifest.get("reference_date") or self.mart.insights["reference_date"])

    def insight(self, insight_id: str) -> dict[str, Any]:
        """One of the four insights of insights.json by id."""
        for item in self.mart.insights["insights"]:
            if item["id"] == insight_id:
                return item
        raise KeyError(f"insight '{insight_id}' is not in insights.json")


@lru_cache(maxsize=4)
def load_context(params_path: str | Path, mart_dir: str | Path) -> ReportContext:
    """Load the params file and the mart it built (cached: a chapter calls this once per cell that needs it)."""
    return ReportContext(params=load_params(params_path), mart=read_mart(mart_dir))
