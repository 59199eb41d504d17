"""The campaign export: the columns it carries (the mart's id beside the store's own; amounts as plain numbers,
their column named with the currency), contacts only when allowed, no column of an attribute the data lacks, and
CSV cells a spreadsheet would run as a formula neutralised."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from segmentation.mart.store import CONTACTS
from segmentation.words.attributes import Attributes
from segmentation.words.formatting import Money

if TYPE_CHECKING:
    from segmentation.dashboard.data import DashboardData

# customer_id is the mart's id; source_customer_id the store's own, to find the customer in the store's systems
EXPORT_COLUMNS = (
    "customer_id", "source_customer_id", "segment_id", "segment_name", "r_score", "f_score", "m_score", "rfm_code",
    "recency_days", "frequency", "monetary", "marketing_opt_in",
)
AMOUNT_COLUMNS = ("monetary",)  # exported as numbers, headed with the currency code: monetary_gbp
CONTACT_COLUMNS = ("name", "email")
CSV_OPTIONS = pa_csv.WriteOptions(quoting_style="needed")  # quote only values that hold commas or quotes
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP: CSV injection).
FORMULA_PREFIXES = "=+-@\t\r"


def exported_fields(attributes: Attributes | None = None) -> list[str]:
    """The mart columns an export carries: EXPORT_COLUMNS, without an empty opt-in column when the data has no
    marketing consent (`attributes`)."""
    return [c for c in EXPORT_COLUMNS
            if c != "marketing_opt_in" or attributes is None or attributes.knows("marketing_opt_in")]


def export_columns(money: Money, attributes: Attributes | None = None) -> list[str]:
    """The export's header: each amount column named with the currency (monetary_gbp)."""
    return [money.column(c) if c in AMOUNT_COLUMNS else c for c in exported_fields(attributes)]


def export_table(mart_dir: Path, customers: pd.DataFrame, export_contacts: bool, money: Money,
                 attributes: Attributes | None = None) -> pa.Table:
    """The columns a campaign export carries, with name and email only when the params allow and the file exists."""
    export = customers[exported_fields(attributes)].set_axis(export_columns(money, attributes), axis="columns")
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


def export_csv(data: DashboardData, mask: np.ndarray, *, marketing_only: bool) -> bytes:
    """The selected customers as CSV bytes; with `marketing_only`, only those who opted in to marketing (callers
    offer it only when the data has marketing consent: `marketing_export`)."""
    if marketing_only:
        mask = mask & data.flags["opt_in"]
    buffer = io.BytesIO()
    pa_csv.write_csv(data.export.filter(pa.array(mask)), buffer, CSV_OPTIONS)
    return buffer.getvalue()


def marketing_export(data: DashboardData) -> bool:
    """Whether a marketing export can be made: the data must say who opted in (orders alone do not)."""
    return data.attributes.knows("marketing_opt_in")
