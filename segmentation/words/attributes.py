"""Which customer attributes a mart knows, and the words that say which it does not.

An attribute is unknown when no customer in the mart has a value for it: a mart built from orders without a
customer file knows only what the orders give (purchases, and the attributes mapped from order columns). Every view
of an unknown attribute is left out, in the report and in the dashboard alike, and both say so in the same words.
The decision is per attribute, never "orders only = nothing".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

# Mart column → what a reader calls it, in the order the report and the dashboard list them.
ATTRIBUTES: dict[str, str] = {
    "age": "age",
    "gender": "gender",
    "income": "income",
    "country": "country",
    "credit_score": "credit score",
    "loyalty_points": "loyalty points",
    "favorite_category": "favourite category",
    "device_type": "device",
    "churn_risk": "churn risk",
    "subscription": "premium subscription status",
    "marketing_opt_in": "marketing consent",
    "support_tickets": "support tickets",
}
# The segment KPIs that are means of one attribute (the others come from the purchases, always known).
KPI_ATTRIBUTES: dict[str, str] = {
    "premium_rate": "subscription",
    "opt_in_rate": "marketing_opt_in",
    "avg_churn_risk": "churn_risk",
    "avg_support_tickets": "support_tickets",
}


@dataclass(frozen=True)
class Attributes:
    """The attributes (mart columns of `ATTRIBUTES`) at least one customer has a value for."""

    known: frozenset[str]

    def knows(self, field: str) -> bool:
        """Whether any customer has a value for this attribute (purchase fields and other columns: always)."""
        return field not in ATTRIBUTES or field in self.known

    def only_known(self, fields: Iterable[str]) -> list[str]:
        """The fields that are known, in the order given."""
        return [field for field in fields if self.knows(field)]

    @property
    def unknown(self) -> tuple[str, ...]:
        """The unknown attributes, in `ATTRIBUTES` order."""
        return tuple(field for field in ATTRIBUTES if field not in self.known)

    def kpi_known(self, kpi: str) -> bool:
        """Whether a segment KPI can be computed: its attribute (if it has one) is known."""
        return self.knows(KPI_ATTRIBUTES.get(kpi, kpi))

    def note(self) -> str:
        """What this data lacks, for the top of a report or dashboard ('' when it lacks nothing)."""
        return left_out(self.unknown, "those views are left out") if self.unknown else ""


def known_attributes(customers: pd.DataFrame) -> Attributes:
    """The attributes the mart's customers have any value for (a column the mart does not hold is unknown)."""
    return Attributes(frozenset(field for field in ATTRIBUTES
                                if field in customers.columns and bool(customers[field].notna().any())))


def named(fields: Iterable[str], last: str = "or") -> str:
    """The attributes as a reader says them: 'age', 'age or income', 'age, gender or income' (`last`: the word
    before the last one, e.g. 'and')."""
    names = [ATTRIBUTES.get(field, field.replace("_", " ")) for field in fields]
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} {last} {names[-1]}"


def left_out(fields: Iterable[str], what: str = "this view is left out") -> str:
    """'This data has no age or income: this view is left out.' (plain text)."""
    return f"This data has no {named(fields)}: {what}."
