"""The dashboard's data: the mart (and its segment migration) loaded once into filter-ready arrays, reloaded when it
changes."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from segmentation.core.errors import MartMissingError
from segmentation.dashboard.export import EXPORT_COLUMNS, export_table
from segmentation.dashboard.filters import (
    ALL,
    CHOICE_COLUMNS,
    FILTER_ATTRIBUTES,
    FLAG_COLUMNS,
    NO_COUNTRY,
    YES,
    Filters,
)
from segmentation.mart.store import MANIFEST, Mart, read_mart
from segmentation.migration import LAPSED, MIGRATION_JSON, NEW, read_migration
from segmentation.words.attributes import Attributes, known_attributes
from segmentation.words.formatting import Money

REQUIRED_COLUMNS = frozenset(
    {*EXPORT_COLUMNS, *CHOICE_COLUMNS.values(), *FLAG_COLUMNS.values(), "support_tickets", "loyalty_points", "country"}
)
SUMMARY_COLUMNS = frozenset(
    {"segment_id", "segment_name", "description", "color", "customers", "customer_share", "revenue", "revenue_share",
     "trait_features", "trait_effects", "trait_values", "trait_rest_values", "actions", "risks"}
)


@dataclass(frozen=True)
class Dimension:
    """A text column ready for fast filtering: one integer code per customer pointing into `values`."""

    values: tuple[str, ...]
    labels: tuple[str, ...]
    codes: np.ndarray

    @classmethod
    def build(cls, column: pd.Series, values: tuple[str, ...], labels: tuple[str, ...] | None = None) -> Dimension:
        """Code a column against a fixed list of values; every row must match one of them."""
        codes = pd.Categorical(column, categories=list(values)).codes.astype(np.int32)
        if (codes < 0).any():
            raise MartMissingError(f"mart column '{column.name}' holds values outside {list(values)}; rebuild the mart")
        return cls(values=values, labels=labels or values, codes=codes)

    @property
    def options(self) -> list[dict[str, str]]:
        """Dropdown options: value and label per choice."""
        return [{"value": v, "label": label} for v, label in zip(self.values, self.labels)]

    def mask(self, selected: tuple[str, ...]) -> np.ndarray | None:
        """Rows whose value is one of `selected`; None when nothing is selected (no restriction)."""
        if not selected:
            return None
        wanted = np.zeros(len(self.values), dtype=bool)
        index = {v: i for i, v in enumerate(self.values)}
        wanted[[index[v] for v in selected if v in index]] = True
        return wanted[self.codes]

    def counts(self, mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Per value: how many selected rows (or the sum of `weights` over them)."""
        selected_weights = None if weights is None else weights[mask]
        return np.bincount(self.codes[mask], weights=selected_weights, minlength=len(self.values))


@dataclass(frozen=True)
class Segments:
    """The segments in precedence order (fallback last) with their names and report colours."""

    ids: tuple[str, ...]
    names: tuple[str, ...]
    colors: tuple[str, ...]


@dataclass(frozen=True)
class MigrationGrid:
    """The segment migration stored in the mart as a from × to grid (rows: segments before, then new customers;
    columns: segments after, then lapsed). `customers`, `shares` and the revenues are NaN in the one impossible
    cell (new → lapsed); `shares` is also NaN in a row without customers."""

    before_date: str
    after_date: str
    from_ids: tuple[str, ...]
    from_names: tuple[str, ...]
    to_ids: tuple[str, ...]
    to_names: tuple[str, ...]
    customers: np.ndarray
    shares: np.ndarray
    revenue_before: np.ndarray
    revenue_after: np.ndarray
    colors: dict[str, str]


@dataclass(frozen=True)
class DashboardData:
    """The mart prepared once for the dashboard: coded dimensions, boolean flags, numbers, summary and export."""

    mart_dir: Path
    customers: int
    revenue: float
    segments: Segments
    dimensions: dict[str, Dimension]
    flags: dict[str, np.ndarray]
    monetary: np.ndarray
    support_tickets: np.ndarray
    loyalty_points: np.ndarray
    r_score: np.ndarray
    f_score: np.ndarray
    bins: int
    summary: pd.DataFrame
    export: pa.Table
    manifest: dict
    reference_date: str | None
    money: Money  # the mart's currency (its manifest records it): cards, axes, hover texts and export headers
    attributes: Attributes = Attributes(frozenset())  # the customer attributes this mart has any value for
    migration: MigrationGrid | None = None
    migration_note: str = ""  # why there is no migration grid (the page adds the command that makes one)

    def shows(self, key: str) -> bool:
        """Whether the filter with this URL key is on the page: not when the data lacks its attribute."""
        return key not in FILTER_ATTRIBUTES or self.attributes.knows(FILTER_ATTRIBUTES[key])

    def clean(self, filters: Filters) -> Filters:
        """The same filters without values this mart does not have, nor filters the page leaves out (old shared
        links must not break the page, nor hide customers behind a filter nobody can see)."""
        kept: dict[str, object] = {}
        for key in CHOICE_COLUMNS:
            known = set(self.dimensions[key].values) if self.shows(key) else set()
            kept[key] = tuple(v for v in getattr(filters, key) if v in known)
        for key in FLAG_COLUMNS:
            kept[key] = getattr(filters, key) if self.shows(key) else ALL
        return replace(filters, **kept)

    def mask(self, filters: Filters) -> np.ndarray:
        """Which customers pass every filter."""
        mask = np.ones(self.customers, dtype=bool)
        for key, dim in self.dimensions.items():
            chosen = dim.mask(getattr(filters, key))
            if chosen is not None:
                mask &= chosen
        for key, flag in self.flags.items():
            choice = getattr(filters, key)
            if choice != ALL:
                mask &= flag if choice == YES else ~flag
        return mask


def load_dashboard_data(mart_dir: Path, *, export_contacts: bool = False) -> DashboardData:
    """Read the mart and prepare it for filtering; raises MartMissingError when it is missing, old or incomplete."""
    return prepare(read_mart(mart_dir), export_contacts=export_contacts)


def prepare(mart: Mart, *, export_contacts: bool = False) -> DashboardData:
    """Turn a loaded mart into coded arrays; contacts are joined to the export only when allowed and present."""
    customers, summary = mart.customers, mart.summary
    _require(mart.path, "customer_segments.parquet", customers, REQUIRED_COLUMNS)
    _require(mart.path, "segment_summary.parquet", summary, SUMMARY_COLUMNS)
    segments = Segments(
        ids=tuple(summary["segment_id"]), names=tuple(summary["segment_name"]), colors=tuple(summary["color"])
    )
    iso3 = customers["country_iso3"].fillna(NO_COUNTRY).rename("country_iso3")
    dimensions = {
        "segment": Dimension.build(customers["segment_id"], segments.ids, segments.names),
        "gender": _dimension(customers["gender"]),
        "category": _dimension(customers["favorite_category"]),
        "device": _dimension(customers["device_type"]),
        "country": _country_dimension(iso3, customers["country"]),
    }
    monetary = customers["monetary"].to_numpy(dtype=np.float64)
    attributes = known_attributes(customers)
    money = Money.of(mart.manifest["currency"])
    migration, migration_note = load_migration(mart.path, dict(zip(segments.ids, segments.colors)))
    return DashboardData(
        mart_dir=mart.path,
        customers=len(customers),
        revenue=float(monetary.sum()),
        segments=segments,
        dimensions=dimensions,
        # an unknown yes/no (orders without a customer file) counts as no: it never passes a "yes" filter
        flags={key: customers[col].fillna(False).to_numpy(dtype=bool) for key, col in FLAG_COLUMNS.items()},
        monetary=monetary,
        support_tickets=customers["support_tickets"].to_numpy(dtype=np.float64),
        loyalty_points=customers["loyalty_points"].to_numpy(dtype=np.float64),
        r_score=customers["r_score"].to_numpy(dtype=np.int64),
        f_score=customers["f_score"].to_numpy(dtype=np.int64),
        bins=_bins(mart.manifest, customers),
        summary=summary,
        export=export_table(mart.path, customers, export_contacts, money, attributes),
        manifest=mart.manifest,
        reference_date=mart.manifest.get("reference_date"),
        money=money,
        attributes=attributes,
        migration=migration,
        migration_note=migration_note,
    )


MIGRATION_COLOR = "#4D4D4D"  # new and lapsed customers: neutral, like the report


def load_migration(mart_dir: Path, colors: Mapping[str, str]) -> tuple[MigrationGrid | None, str]:
    """The mart's segment migration as a grid, or None and a line saying why not (`command_hint` says what to run)."""
    found = read_migration(mart_dir)
    if found is None:
        return None, "No segment migration in this mart yet. Compare it with an earlier mart:"
    if not found.current:
        return None, "The segment migration in this mart was computed before the mart was rebuilt. Refresh it:"
    return migration_grid(found.flows, found.before_date, found.after_date, colors), ""


def migration_grid(flows: pd.DataFrame, before_date: str, after_date: str, colors: Mapping[str, str]) -> MigrationGrid:
    """Arrange segment_migration.parquet (one row per from/to pair, in display order) as a from × to grid."""
    from_ids = tuple(dict.fromkeys(flows["from_segment_id"]))
    to_ids = tuple(dict.fromkeys(flows["to_segment_id"]))
    names = dict(zip(flows["from_segment_id"], flows["from_segment_name"]))
    names |= dict(zip(flows["to_segment_id"], flows["to_segment_name"]))

    def grid(column: str) -> np.ndarray:
        """One column of the flows as a from × to array (NaN where the file has no row)."""
        table = flows.pivot(index="from_segment_id", columns="to_segment_id", values=column)
        return table.reindex(index=list(from_ids), columns=list(to_ids)).to_numpy(dtype=np.float64)

    return MigrationGrid(
        before_date=before_date, after_date=after_date,
        from_ids=from_ids, from_names=tuple(names[i] for i in from_ids),
        to_ids=to_ids, to_names=tuple(names[i] for i in to_ids),
        customers=grid("customers"), shares=grid("share_of_from"),
        revenue_before=grid("revenue_before"), revenue_after=grid("revenue_after"),
        colors={**colors, NEW: MIGRATION_COLOR, LAPSED: MIGRATION_COLOR},
    )


def _require(mart_dir: Path, name: str, frame: pd.DataFrame, columns: frozenset[str]) -> None:
    """Fail like a missing mart when a file lacks columns the dashboard reads (it was built by older code)."""
    missing = sorted(columns - set(frame.columns))
    if missing:
        raise MartMissingError(f"{mart_dir / name}: missing columns {', '.join(missing)}; rebuild it with `make mart`")


UNKNOWN = "Unknown"


def _dimension(column: pd.Series) -> Dimension:
    """A dimension over the values a column holds, in alphabetical order; empty values (orders without a customer
    file) become "Unknown", last."""
    known = tuple(sorted(column.dropna().unique()))
    if column.isna().any():
        return Dimension.build(column.astype("object").fillna(UNKNOWN), (*known, UNKNOWN))
    return Dimension.build(column, known)


def _country_dimension(iso3: pd.Series, names: pd.Series) -> Dimension:
    """Countries by ISO code, labelled with the name the file uses most for that code, sorted by label."""
    names = names.astype("object").fillna(UNKNOWN)  # no country at all (orders without a customer file)
    label_of = pd.DataFrame({"iso3": iso3, "name": names}).value_counts().reset_index().drop_duplicates("iso3")
    label_of = dict(zip(label_of["iso3"], label_of["name"]))
    if NO_COUNTRY in label_of:
        label_of[NO_COUNTRY] = "No country code"
    ordered = sorted(label_of, key=lambda code: (code == NO_COUNTRY, label_of[code].casefold()))
    return Dimension.build(iso3, tuple(ordered), tuple(label_of[c] for c in ordered))


def _bins(manifest: dict, customers: pd.DataFrame) -> int:
    """How many score values there are (1..bins), from the manifest's cut-offs or else the data."""
    cutoffs = manifest.get("score_cutoffs", {}).get("r")
    if cutoffs is not None:
        return len(cutoffs) + 1
    return int(customers[["r_score", "f_score", "m_score"]].to_numpy().max())


class MartSource:
    """The mart behind a running app: loaded on first use and again whenever its manifest (or migration) changes."""

    def __init__(self, mart_dir: Path, *, export_contacts: bool = False) -> None:
        self.mart_dir = Path(mart_dir)
        self.export_contacts = export_contacts
        self._lock = threading.Lock()
        self._data: DashboardData | None = None
        self._stamp: tuple[int | None, int | None] | None = None

    def get(self) -> DashboardData:
        """The current mart; raises MartMissingError (naming the build command) when there is none to show."""
        stamp = self._manifest_stamp()
        with self._lock:
            if self._data is None or stamp != self._stamp:
                self._data = load_dashboard_data(self.mart_dir, export_contacts=self.export_contacts)
                self._stamp = stamp
            return self._data

    def _manifest_stamp(self) -> tuple[int | None, int | None]:
        """When the manifest (the publisher writes it last) and migration.json (written last by migrate) changed."""
        return _mtime(self.mart_dir / MANIFEST), _mtime(self.mart_dir / MIGRATION_JSON)


def _mtime(path: Path) -> int | None:
    """A file's modification time in ns, or None without the file."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None
