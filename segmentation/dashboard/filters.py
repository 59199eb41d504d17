"""The dashboard's filter state: what the analyst picked, as widget values and as a URL query that restores it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from urllib.parse import parse_qs, urlencode

ALL, YES, NO = "all", "yes", "no"
FLAG_CHOICES = (ALL, YES, NO)
NO_COUNTRY = "none"  # filter value for customers whose country has no ISO code

# URL key -> mart column, for the multi-select filters (empty selection = everyone).
CHOICE_COLUMNS = {
    "segment": "segment_id",
    "gender": "gender",
    "category": "favorite_category",
    "device": "device_type",
    "country": "country_iso3",
}
# URL key -> boolean mart column, for the all / yes / no filters.
FLAG_COLUMNS = {"premium": "subscription", "opt_in": "marketing_opt_in"}
# URL key -> the customer attribute it filters on: a filter of an attribute the data lacks is left out.
FILTER_ATTRIBUTES = {"gender": "gender", "category": "favorite_category", "device": "device_type",
                     "country": "country", "premium": "subscription", "opt_in": "marketing_opt_in"}


@dataclass(frozen=True)
class Filters:
    """What the analyst picked: chosen values per dimension (empty = all) and all / yes / no for the two flags."""

    segment: tuple[str, ...] = ()
    gender: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    device: tuple[str, ...] = ()
    country: tuple[str, ...] = ()
    premium: str = ALL
    opt_in: str = ALL

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> Filters:
        """Filters from raw widget values (None, a string or a list per key); unknown keys are ignored."""
        kwargs: dict[str, object] = {}
        for key in CHOICE_COLUMNS:
            raw = values.get(key) or ()
            kwargs[key] = tuple(str(v) for v in ([raw] if isinstance(raw, str) else raw))
        for key in FLAG_COLUMNS:
            raw = values.get(key)
            kwargs[key] = raw if raw in FLAG_CHOICES else ALL
        return cls(**kwargs)

    def as_values(self) -> dict[str, object]:
        """Widget values: a list per multi-select, a string per flag."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}


FILTER_KEYS = tuple(f.name for f in fields(Filters))


def filters_to_query(filters: Filters) -> str:
    """The URL query string (with its leading '?', or '' when nothing is filtered) that restores these filters."""
    pairs = [(key, value) for key in CHOICE_COLUMNS for value in getattr(filters, key)]
    pairs += [(key, getattr(filters, key)) for key in FLAG_COLUMNS if getattr(filters, key) != ALL]
    return "?" + urlencode(pairs) if pairs else ""


def filters_from_query(search: str | None) -> Filters:
    """Filters from a URL query string; unknown keys and bad flag values fall back to 'all'."""
    parsed = parse_qs((search or "").lstrip("?"), keep_blank_values=False)
    values: dict[str, object] = {key: parsed.get(key, []) for key in CHOICE_COLUMNS}
    values |= {key: (parsed.get(key) or [ALL])[-1] for key in FLAG_COLUMNS}
    return Filters.from_values(values)
