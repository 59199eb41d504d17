"""`init` on the files a store really has: what it guesses, the params file it writes (the agreed schema, the
default segments, every name and value as data), and what it refuses."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from segmentation.cli import main
from segmentation.core.errors import InputDataError, SegmentationError
from segmentation.init.command import init_params
from segmentation.init.params_file import params_name
from segmentation.synthetic.generate import write_customers
from segmentation.synthetic.online_retail import write_online_retail
from tests.conftest import ROOT

CDNOW = ROOT / "tests" / "fixtures" / "cdnow" / "cdnow_orders.csv.gz"
TOP_KEYS = {"title", "currency", "input", "transactions", "reference_date", "scores", "quality", "plausible",
            "engine", "premium", "privacy", "segments", "fallback", "max_excluded_by_reference"}
FORMAT_KEYS = {"separator", "header", "date_format", "decimal", "thousands"}
HOSTILE = ['Customer "ID"\n<script>alert(1)</script>', "Order {{ date }}", "Amount: &x *y !!python/object",
           "Country", "'; DROP TABLE x; --"]


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder (the working directory) with params/default.yaml and a data/ folder."""
    (tmp_path / "params").mkdir()
    shutil.copy(ROOT / "params" / "default.yaml", tmp_path / "params" / "default.yaml")
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def written(result) -> dict:
    """The params file init wrote, loaded."""
    return yaml.safe_load(result.path.read_text(encoding="utf-8"))


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


def cdnow_original(path: Path, rows: int = 3000, header: str | None = None) -> Path:
    """The first rows of the CDNOW fixture in the layout of the original CDNOW_master.txt: runs of spaces,
    YYYYMMDD dates, CRLF line ends, no header (or the given one)."""
    with gzip.open(CDNOW, "rt", encoding="utf-8") as source:
        lines = source.read().splitlines()[1: rows + 1]
    out = [] if header is None else [header]
    for line in lines:
        customer, day, quantity, value = line.split(",")
        out.append(f"{customer:>6} {day.replace('-', '')} {quantity:>3} {value:>8}")
    return write_text(path, "\r\n".join(out) + "\r\n")


def test_online_retail_export_is_read_as_orders_with_quantity_times_price_and_c_returns(project, capsys):
    data = write_online_retail(Path("data/online_retail.csv"), customers=300, seed=11)
    result = init_params(data)
    assert result.path == Path("params/online_retail.yaml")
    assert result.guess.columns == {
        "customer_id": "Customer ID", "order_date": "InvoiceDate", "order_id": "Invoice",
        "order_value": {"quantity": "Quantity", "unit_price": "Price"}, "country": "Country",
    }
    assert result.guess.format == {"separator": ",", "header": True, "date_format": "%Y-%m-%d %H:%M:%S",
                                   "decimal": ".", "thousands": None}
    assert result.guess.returns == {"policy": "net", "order_id_pattern": "^C"}
    params = written(result)
    assert set(params) == TOP_KEYS
    assert params["input"] is None and "mart_dir" not in params
    assert params["currency"] == "GBP"  # the most frequent country is the United Kingdom
    assert params["transactions"] == {"path": "data/online_retail.csv", "columns": result.guess.columns,
                                      "format": result.guess.format, "returns": result.guess.returns}
    default = yaml.safe_load((ROOT / "params" / "default.yaml").read_text(encoding="utf-8"))
    for key in ("segments", "fallback", "scores", "quality", "plausible", "engine", "premium", "privacy"):
        assert params[key] == default[key]
    text = "\n".join(result.lines)
    for expected in ('customer id         "Customer ID"', "e.g. \"", "are read as", "date and time",
                     '"Quantity" × "Price"', "order ids starting with C", "netted", '"Country"', "currency",
                     '"StockCode", "Description"', "make report PARAMS=params/online_retail.yaml"):
        assert expected in text


def test_semicolon_decimal_comma_day_first_file(project):
    data = write_text(Path("data/kunden export.csv"), (
        "Kundennummer;Bestelldatum;Betrag;Land\n"
        "1001;31/12/2010;1.234,56;Deutschland\n"
        "1002;05/01/2011;19,60;Deutschland\n"
        "1001;13/02/2011;-7,00;Österreich\n"
    ))
    result = init_params(data)
    assert result.path.name == "kunden_export.yaml"
    params = written(result)
    assert params["transactions"]["columns"] == {"customer_id": "Kundennummer", "order_date": "Bestelldatum",
                                                 "order_value": "Betrag", "country": "Land"}
    assert params["transactions"]["format"] == {"separator": ";", "header": True, "date_format": "%d/%m/%Y",
                                                "decimal": ",", "thousands": "."}
    assert params["transactions"]["returns"] == {"policy": "net"}
    assert params["currency"] == "EUR"


def test_a_european_whole_amount_and_an_undecided_date_order_are_flagged(project):
    data = write_text(Path("data/shop.csv"), "customer;date;amount\n7;01/02/2024;1.006\n8;03/04/2024;2.500\n")
    result = init_params(data)
    flagged = {f.label for f in result.guess.findings if f.check}
    assert {"numbers", "date order"} <= flagged
    assert any(line.startswith("! numbers") and '"1.006"' in line for line in result.lines)
    assert any(line.startswith("! date order") and "day first" in line for line in result.lines)


def test_month_first_dates_and_thousands_commas(project):
    data = write_text(Path("data/us.csv"), (
        "CustomerID,OrderDate,OrderNo,Total,Category\n"
        'A1,12/31/2010,1,"1,234.50",Books\nA2,1/5/2011,2,99.95,Garden\n'
    ))
    params = written(init_params(data))
    assert params["transactions"]["format"]["date_format"] == "%m/%d/%Y"
    assert params["transactions"]["format"]["decimal"] == "."
    assert params["transactions"]["format"]["thousands"] == ","
    assert params["transactions"]["columns"] == {"customer_id": "CustomerID", "order_date": "OrderDate",
                                                 "order_id": "OrderNo", "order_value": "Total",
                                                 "favorite_category": "Category"}


def test_cdnow_original_whitespace_headerless_layout(project):
    data = cdnow_original(Path("data/CDNOW_master.txt"))
    result = init_params(data, name="cdnow")
    params = written(result)
    assert params["transactions"]["columns"] == {"customer_id": "column1", "order_date": "column2",
                                                 "order_value": "column4", "quantity": "column3"}
    assert params["transactions"]["format"] == {"separator": "whitespace", "header": False, "date_format": "%Y%m%d",
                                                "decimal": ".", "thousands": None}
    assert params["currency"] == "USD"
    flagged = {f.label for f in result.guess.findings if f.check}
    assert {"customer id", "order date", "order value", "quantity"} <= flagged  # guessed from values: check them


def test_cdnow_with_its_header_line_maps_by_name(project):
    data = cdnow_original(Path("data/cdnow.txt"), rows=500, header="customer_id date number_of_cds dollar_value")
    params = written(init_params(data))
    assert params["transactions"]["columns"] == {"customer_id": "customer_id", "order_date": "date",
                                                 "order_value": "dollar_value", "quantity": "number_of_cds"}
    assert params["transactions"]["format"]["header"] is True


def test_the_20_field_customer_file_becomes_the_input(project):
    data = write_customers(Path("data/customers.csv"), rows=300, seed=4)
    result = init_params(data)
    params = written(result)
    assert params["input"] == "data/customers.csv"  # names and formats as the pipeline expects: a plain path
    assert "transactions" not in params
    assert result.guess.kind == "customers"


def test_a_renamed_semicolon_customer_file_gets_a_mapping(project, tmp_path):
    source = write_customers(tmp_path / "plain.csv", rows=200, seed=4)
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    for column in ("first_purchase_date", "last_purchase_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.strftime("%d.%m.%Y")
    for column in ("income", "total_spent", "avg_order_value", "churn_risk"):
        frame[column] = frame[column].str.replace(".", ",", regex=False)
    frame = frame.rename(columns={"customer_id": "Customer ID", "total_spent": "Total Spent", "country": "Land"})
    data = Path("data/kunden.csv")
    frame.to_csv(data, sep=";", index=False)
    params = written(init_params(data))
    assert params["input"]["path"] == "data/kunden.csv"
    assert params["input"]["columns"] == {"customer_id": "Customer ID", "country": "Land",
                                          "total_spent": "Total Spent"}
    assert params["input"]["format"] == {"separator": ";", "header": True, "date_format": "%d.%m.%Y",
                                         "decimal": ",", "thousands": None}
    assert set(params) == TOP_KEYS - {"transactions"}


def test_hostile_names_and_values_stay_data(project):
    rows = [["17850.0", "2010-12-01", "12.50", "<script>alert(2)</script>", "{{ x }}"],
            ["17851.0", "2010-12-02", "3.10", "Fr\u202eance", "x"],
            ["17850.0", "2010-12-03", "1.00", "United\x1b[31mKingdom", "y"]]
    data = Path("data/we'ird: #1 {{x}} null.csv")
    pd.DataFrame(rows, columns=HOSTILE).to_csv(data, index=False)
    result = init_params(data)
    assert result.path.name == "we_ird_1_x_null.yaml"
    text = result.path.read_text(encoding="utf-8")
    params = yaml.safe_load(text)
    assert params["transactions"]["path"] == "data/we'ird: #1 {{x}} null.csv"
    assert params["transactions"]["columns"] == {"customer_id": HOSTILE[0], "order_date": HOSTILE[1],
                                                 "order_value": HOSTILE[2], "country": HOSTILE[3]}
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    for fragment in ("script", "{{", "DROP", "python/object", "Customer", "we'ird", "#1"):
        assert [line for line in comments if fragment in line] == [], fragment
    for line in result.lines:  # each finding is one printable line
        assert line.isprintable(), line
    assert any('"Customer \\"ID\\"\\n<script>' in line for line in result.lines)


def test_it_never_overwrites_a_params_file(project, capsys):
    data = write_online_retail(Path("data/online_retail.csv"), customers=20, seed=1)
    assert main(["init", str(data)]) == 0
    first = Path("params/online_retail.yaml").read_bytes()
    capsys.readouterr()
    assert main(["init", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "--name" in err
    assert Path("params/online_retail.yaml").read_bytes() == first
    assert main(["init", str(data), "--name", "default"]) == 2  # the template itself is a params file too
    assert main(["init", str(data), "--name", "retail-2"]) == 0
    assert Path("params/retail-2.yaml").exists()
    assert sorted(p.name for p in Path("params").iterdir()) == ["default.yaml", "online_retail.yaml",
                                                                "retail-2.yaml"]


@pytest.mark.parametrize(("file", "name", "expected"), [
    ("data/My Export (2024).csv.gz", None, "My_Export_2024"),
    ("data/online_retail_II.csv", None, "online_retail_II"),
    ("data/...csv", None, "mine"),
    ("data/x.csv", "shop-2024", "shop-2024"),
])
def test_params_name(file, name, expected):
    assert params_name(Path(file), name) == expected


@pytest.mark.parametrize("name", ["../evil", "a/b", "", "-x", "x y"])
def test_a_name_that_is_not_a_plain_word_is_refused(name):
    with pytest.raises(SegmentationError, match="--name"):
        params_name(Path("data/x.csv"), name)


def test_what_it_cannot_read_is_one_clear_error(project):
    no_date = write_text(Path("data/nodate.csv"), "customer,amount\n1,2.5\n2,3.5\n")
    with pytest.raises(InputDataError, match=r"order date; columns found: \"customer\" \(number\), \"amount\""):
        init_params(no_date)
    latin = Path("data/latin.csv")
    latin.write_bytes("customer,city\n1,K\xf6ln\n2,Berlin\n3,Hamburg\n".encode("latin-1"))
    with pytest.raises(InputDataError, match="not UTF-8"):
        init_params(latin)
    with pytest.raises(InputDataError, match="no such file"):
        init_params(Path("data/missing.csv"))
    with pytest.raises(InputDataError, match="a folder"):
        init_params(Path("data"))
    Path("data/orders.parquet").write_bytes(b"PAR1")
    with pytest.raises(InputDataError, match="Parquet"):
        init_params(Path("data/orders.parquet"))
    assert sorted(p.name for p in Path("params").iterdir()) == ["default.yaml"]  # nothing written


def test_a_gzip_file_is_read_too(project):
    data = write_online_retail(Path("data/retail.csv"), customers=30, seed=2)
    packed = Path("data/retail.csv.gz")
    packed.write_bytes(gzip.compress(data.read_bytes()))
    result = init_params(packed)
    assert result.path.name == "retail.yaml"
    assert written(result)["transactions"]["path"] == "data/retail.csv.gz"


def test_init_then_run_gives_the_netted_customers_of_an_independent_computation(project):
    from segmentation.config.params import load_params
    from segmentation.mart.pipeline import run

    data = write_online_retail(Path("data/online_retail.csv"), customers=300, seed=21)
    params = load_params(init_params(data).path)
    result = run(params)
    mart = pd.read_parquet(result.mart_dir / "customer_segments.parquet")
    got = mart.set_index("source_customer_id").sort_index()

    lines = pd.read_csv(data, dtype=str, keep_default_na=False)
    lines = lines[lines["Customer ID"].str.strip() != ""]
    lines = lines.assign(
        customer=lines["Customer ID"].astype(float).astype(int).astype(str),
        cents=(lines["Quantity"].astype(int) * (lines["Price"].astype(float) * 100).round()).astype(int),
        day=pd.to_datetime(lines["InvoiceDate"]).dt.normalize(),
    )
    purchases = lines[lines["cents"] > 0]
    expected = pd.DataFrame({
        "total": lines.groupby("customer")["cents"].sum() / 100,
        "frequency": purchases.groupby("customer")["Invoice"].nunique(),
        "first": purchases.groupby("customer")["day"].min(),
        "last": purchases.groupby("customer")["day"].max(),
    })
    expected = expected[expected["total"] > 0].sort_index()
    assert list(got.index) == list(expected.index)
    assert got["monetary"].tolist() == pytest.approx(expected["total"].tolist(), abs=0.005)
    assert got["frequency"].tolist() == expected["frequency"].tolist()
    assert pd.to_datetime(got["first_purchase_date"]).tolist() == expected["first"].tolist()
    assert pd.to_datetime(got["last_purchase_date"]).tolist() == expected["last"].tolist()


@pytest.mark.slow
def test_init_then_report_builds_the_site_and_pdf_of_a_store_export_as_written(project):
    from segmentation.report.build import ReportLayout

    (project / "chapters").symlink_to(ROOT / "chapters")  # the analysts' notebooks, found under ./chapters
    data = write_online_retail(Path("data/online_retail.csv"), customers=300, seed=21)
    written_params = init_params(data).path
    assert main(["report", "--params", str(written_params)]) == 0
    layout = ReportLayout(project, written_params.stem)
    pages = " ".join(p.read_text(encoding="utf-8") for p in layout.site_dir.rglob("*.html"))
    assert "£" in pages and "$" not in re.sub(r"<script.*?</script>|<style.*?</style>", "", pages, flags=re.S)
    assert "Returns and cancellations:" in pages and "were netted" in pages
    assert layout.pdf.stat().st_size > 0
    assert (project / "data" / f"mart-{written_params.stem}" / "customer_segments.parquet").is_file()
