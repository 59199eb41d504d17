"""Raw stage: read the customer file (CSV or Parquet) as text-tolerant Ibis columns, one row per input row."""

from __future__ import annotations

from pathlib import Path

import ibis
from ibis.backends import BaseBackend

from segmentation.errors import InputDataError
from segmentation.schema import field_names

ROW = "input_row"  # 1-based data-row number in the file, used to point at bad rows


def read_raw(con: BaseBackend, path: Path) -> ibis.Table:
    """The file's 20 fields (CSV: as text, parsed later) plus its data-row number; missing fields fail here."""
    if not path.is_file():
        raise InputDataError(
            f"{path}: input file not found; create it with `python -m segmentation generate` or set `input` in the params"
        )
    if path.stat().st_size == 0:
        raise InputDataError(f"{path}: file is empty (0 rows); expected the 20 fields of the customer file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            table = con.read_parquet(path)
        elif suffix in (".csv", ".txt", ".gz"):
            # all text: a bad value must become a counted data-quality failure, not a reader crash
            table = con.read_csv(path, all_varchar=True, header=True)
        else:
            raise InputDataError(f"{path}: unsupported input format '{suffix}' (use .csv or .parquet)")
    except InputDataError:
        raise
    except Exception as exc:  # the engine's own reader error: report it on one line
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputDataError(f"{path}: cannot be read as {suffix[1:].upper()}: {first_line}") from exc
    missing = [name for name in field_names() if name not in table.columns]
    if missing:
        raise InputDataError(
            f"{path}: field(s) {', '.join(missing)} missing (all rows); expected the 20 fields of the customer file"
        )
    numbered = table.select(*field_names(), **{ROW: ibis.row_number() + 1})
    # later stages scan the input several times: parse a CSV once, read Parquet (columnar, cheap) each time
    return numbered if suffix == ".parquet" else con.create_table("raw_input", numbered, temp=True, overwrite=True)
