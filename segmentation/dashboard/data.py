"""The dashboard's data: the mart loaded once into filter-ready arrays, the filter state, and the aggregates shown."""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from segmentation.core.errors import MartMissingError
from segmentation.mart.store import CONTACTS, MANIFEST, Mart, read_mart
from segmentation.migration import LAPSED, MIGRATION_JSON, NEW, read_migration

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

EXPORT_COLUMNS = (
    "customer_id", "segment_id", "segment_name", "r_score", "f_score", "m_score", "rfm_code",
    "recency_days", "frequency", "monetary", "marketing_opt_in",
)
CONTACT_COLUMNS = ("name", "email")
CSV_OPTIONS = pa_csv.WriteOptions(quoting_style="needed")  # quote only values that hold commas or quotes
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP: CSV injection).
FORMULA_PREFIXES = "=+-@\t\r"
REQUIRED_COLUMNS = frozenset(
    {*EXPORT_COLUMNS, *CHOICE_COLUMNS.values(), *FLAG_COLUMNS.values(), "support_tickets", "loyalty_points", "country"}
)
SUMMARY_COLUMNS = frozenset(
    {"segment_id", "segment_name", "description", "color", "customers", "customer_share", "revenue", "revenue_share",
     "trait_features", "trait_effects", "trait_values", "trait_rest_values", "actions", "risks"}
)


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
    migration: MigrationGrid | None = None
    migration_note: str = ""  # why there is no migration grid (the page adds the command that makes one)

    def clean(self, filters: Filters) -> Filters:
        """The same filters without values this mart does not have (old shared links must not break the page)."""
        kept = {}
        for key in CHOICE_COLUMNS:
            known = set(self.dimensions[key].values)
            kept[key] = tuple(v for v in getattr(filters, key) if v in known)
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
        export=_export_table(mart.path, customers, export_contacts),
        manifest=mart.manifest,
        reference_date=mart.manifest.get("reference_date"),
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


def _export_table(mart_dir: Path, customers: pd.DataFrame, export_contacts: bool) -> pa.Table:
    """The columns a campaign export carries, with name and email only when the params allow and the file exists."""
    export = customers[list(EXPORT_COLUMNS)]
    contacts_file = mart_dir / CONTACTS
    if export_contacts and contacts_file.is_file():
        contacts = pd.read_parquet(contacts_file, columns=["customer_id", *CONTACT_COLUMNS])
        export = export.merge(contacts, on="customer_id", how="left", validate="one_to_one")
    return neutralise_formulas(pa.Table.from_pandas(export, preserve_index=False))


def neutralise_formulas(table: pa.Table) -> pa.Table:
    """Text cells a spreadsheet would run as a formula get a leading apostrophe, as OWASP's CSV-injection guidance
    says: the cell then shows the value as text. Numbers are left alone (a negative number is not a formula)."""
    pattern = "^[" + "".join(f"\\x{ord(c):02x}" for c in FORMULA_PREFIXES) + "]"
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.fill_null(pc.match_substring_regex(column, pattern), False)
            quoted = pc.binary_join_element_wise(pa.scalar("'", column.type), column, pa.scalar("", column.type))
            column = pc.if_else(risky, quoted, column)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=table.schema)


# --- aggregates shown on the page (all take the boolean mask of selected customers) ---


@dataclass(frozen=True)
class Kpis:
    """The selection's headline numbers beside the whole base's."""

    customers: int
    revenue: float
    base_customers: int
    base_revenue: float

    @property
    def avg_revenue(self) -> float:
        """Revenue per selected customer (0 for an empty selection)."""
        return self.revenue / self.customers if self.customers else 0.0

    @property
    def base_avg_revenue(self) -> float:
        """Revenue per customer over the whole base."""
        return self.base_revenue / self.base_customers if self.base_customers else 0.0

    @property
    def customer_share(self) -> float:
        """Selected customers as a share of all customers."""
        return self.customers / self.base_customers if self.base_customers else 0.0

    @property
    def revenue_share(self) -> float:
        """Selected revenue as a share of all revenue."""
        return self.revenue / self.base_revenue if self.base_revenue else 0.0


def kpis(data: DashboardData, mask: np.ndarray) -> Kpis:
    """Customers and revenue of the selection and of the whole base."""
    return Kpis(
        customers=int(np.count_nonzero(mask)),
        revenue=float(data.monetary[mask].sum()),
        base_customers=data.customers,
        base_revenue=data.revenue,
    )


def by_segment(data: DashboardData, mask: np.ndarray) -> pd.DataFrame:
    """Per segment (precedence order): customers, revenue, premium customers, mean support tickets, loyalty points."""
    seg = data.dimensions["segment"]
    customers = seg.counts(mask)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({
            "segment_id": data.segments.ids,
            "segment_name": data.segments.names,
            "color": data.segments.colors,
            "customers": customers,
            "revenue": seg.counts(mask, data.monetary),
            "premium": seg.counts(mask & data.flags["premium"]),
            "avg_support_tickets": seg.counts(mask, data.support_tickets) / customers,
            "avg_loyalty_points": seg.counts(mask, data.loyalty_points) / customers,
        })


def rf_grid(data: DashboardData, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Customers and mean monetary per (R, F) cell as bins×bins arrays indexed [r-1, f-1] (mean is NaN when empty)."""
    cell = (data.r_score[mask] - 1) * data.bins + (data.f_score[mask] - 1)
    size = data.bins * data.bins
    count = np.bincount(cell, minlength=size).reshape(data.bins, data.bins)
    revenue = np.bincount(cell, weights=data.monetary[mask], minlength=size).reshape(data.bins, data.bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return count, revenue / count


def by_country(data: DashboardData, mask: np.ndarray) -> pd.DataFrame:
    """Per country with an ISO code and at least one selected customer: name, customers and revenue."""
    dim = data.dimensions["country"]
    table = pd.DataFrame({
        "iso3": dim.values, "country": dim.labels,
        "customers": dim.counts(mask), "revenue": dim.counts(mask, data.monetary),
    })
    return table[(table["customers"] > 0) & (table["iso3"] != NO_COUNTRY)].reset_index(drop=True)


def category_by_segment(data: DashboardData, mask: np.ndarray) -> pd.DataFrame:
    """Customers per favourite category (rows) and segment (columns, precedence order)."""
    cat, seg = data.dimensions["category"], data.dimensions["segment"]
    cell = cat.codes[mask] * len(seg.values) + seg.codes[mask]
    counts = np.bincount(cell, minlength=len(cat.values) * len(seg.values)).reshape(len(cat.values), len(seg.values))
    return pd.DataFrame(counts, index=list(cat.values), columns=list(seg.values))


def export_csv(data: DashboardData, mask: np.ndarray, *, marketing_only: bool) -> bytes:
    """The selected customers as CSV bytes; with `marketing_only`, only those who opted in to marketing."""
    if marketing_only:
        mask = mask & data.flags["opt_in"]
    buffer = io.BytesIO()
    pa_csv.write_csv(data.export.filter(pa.array(mask)), buffer, CSV_OPTIONS)
    return buffer.getvalue()


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
