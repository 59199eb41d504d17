"""The Online-Retail-II-layout export: its columns and formats, invoices, cancellations, missing ids, free lines,
and the same bytes for the same seed."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from segmentation.cli import main
from segmentation.core.errors import SegmentationError
from segmentation.synthetic.online_retail import COLUMNS, write_online_retail

CUSTOMERS = 400


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> pd.DataFrame:
    """A 400-customer export (seed 5), every field read as text."""
    path = write_online_retail(tmp_path_factory.mktemp("retail") / "online_retail.csv", customers=CUSTOMERS, seed=5)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_header_and_formats_follow_online_retail_ii(export):
    assert tuple(export.columns) == COLUMNS
    assert export["Invoice"].str.fullmatch(r"C?\d{6}").all()
    assert export["InvoiceDate"].str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:00").all()
    assert export["Quantity"].str.fullmatch(r"-?\d+").all()
    assert export["Price"].str.fullmatch(r"\d+\.\d+").all()
    ids = export["Customer ID"]
    assert ids[ids != ""].str.fullmatch(r"1\d{4}\.0").all()  # float text, as pandas wrote the real file
    assert ids[ids != ""].nunique() == CUSTOMERS


def test_invoices_have_several_lines_and_numbers_rise_with_time(export):
    lines = export.groupby("Invoice").size()
    assert lines.mean() > 3
    first = export.drop_duplicates("Invoice")
    numbers = first["Invoice"].str.lstrip("C").astype(int)
    assert numbers.is_monotonic_increasing and numbers.is_unique
    assert first["InvoiceDate"].is_monotonic_increasing
    assert (export.groupby("Invoice")["InvoiceDate"].nunique() == 1).all()  # one date-time per invoice


def test_cancellations_reverse_earlier_lines_of_the_same_customer(export):
    frame = export.assign(quantity=export["Quantity"].astype(int), when=pd.to_datetime(export["InvoiceDate"]))
    cancelled = frame[frame["Invoice"].str.startswith("C")]
    assert len(cancelled) > 0
    assert (cancelled["quantity"] < 0).all()
    assert (frame.loc[~frame["Invoice"].str.startswith("C"), "quantity"] > 0).all()
    purchases = frame[~frame["Invoice"].str.startswith("C")]
    for _, line in cancelled.iterrows():
        same = purchases[
            (purchases["Customer ID"] == line["Customer ID"]) & (purchases["StockCode"] == line["StockCode"])
            & (purchases["Price"] == line["Price"]) & (purchases["when"] < line["when"])
            & (purchases["quantity"] >= -line["quantity"])
        ]
        assert len(same) > 0, line.to_dict()
    customers = export.loc[export["Customer ID"] != "", "Customer ID"].nunique()
    cancelling = cancelled["Customer ID"].nunique()
    assert 0.05 < cancelling / customers < 0.25
    assert (cancelled["Customer ID"] != "").all()


def test_missing_ids_and_free_lines_are_there(export):
    anonymous = export[export["Customer ID"] == ""]
    assert 0.03 < anonymous["Invoice"].nunique() / export["Invoice"].nunique() < 0.15
    free = export[export["Price"] == "0.0"]
    assert len(free) > 0
    first_lines = export.drop_duplicates("Invoice")
    assert (first_lines["Price"] != "0.0").all()  # every invoice has a paid line
    assert export["Description"].str.contains(",").any()  # quoted in the CSV


def test_same_seed_same_bytes_and_nothing_left_beside_it(tmp_path):
    first = write_online_retail(tmp_path / "a.csv", customers=50, seed=3).read_bytes()
    second = write_online_retail(tmp_path / "b.csv", customers=50, seed=3).read_bytes()
    other = write_online_retail(tmp_path / "c.csv", customers=50, seed=4).read_bytes()
    assert first == second != other
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv", "c.csv"]


def test_a_failed_write_leaves_the_previous_file(tmp_path, monkeypatch):
    path = write_online_retail(tmp_path / "x.csv", customers=20, seed=1)
    before = path.read_bytes()

    def half_written(self: Path, text: str, **options) -> int:
        with open(self, "w", encoding="utf-8") as out:
            out.write(text[:100])
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_text", half_written)
    with pytest.raises(OSError, match="disk full"):
        write_online_retail(path, customers=30, seed=2)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]
    with pytest.raises(SegmentationError, match="at least one customer"):
        write_online_retail(tmp_path / "y.csv", customers=0)


def test_generate_command_writes_it(tmp_path, capsys):
    out = tmp_path / "raw" / "retail.csv"
    assert main(["generate", "--online-retail", str(out), "--rows", "30", "--seed", "9"]) == 0
    assert out.read_bytes() == write_online_retail(tmp_path / "again.csv", customers=30, seed=9).read_bytes()
    assert "Online Retail II export of 30 customers" in capsys.readouterr().out
    assert main(["generate", "--online-retail", str(out), "--transactions", str(tmp_path / "o.csv")]) == 2
    assert re.fullmatch(r"error: generate: give either .*\n", capsys.readouterr().err)
