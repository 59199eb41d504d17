"""The benchmark harness at a tiny size (no timing assertions) and its Markdown writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import mart as bench

ROOT = Path(__file__).resolve().parents[1]
TINY_ROWS = 2_000
# qcut over first-rank splits ties that the mart keeps together; at 2,000 rows that moves a few percent
MAX_SHARE_GAP_PP = 8.0


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory) -> bench.BenchReport:
    """The harness run at 2,000 customers into a temporary folder (mart, reference and the CSV-input run)."""
    out = tmp_path_factory.mktemp("bench")
    config = bench.BenchConfig(sizes=(TINY_ROWS,), csv_run_size=TINY_ROWS, dashboard_size=0,
                               params=ROOT / "params" / "default.yaml", out_dir=out, docs=None)
    return bench.run_bench(config)


def test_result_rows_have_the_expected_fields(tiny_report):
    [result] = tiny_report.sizes
    assert result.rows == TINY_ROWS
    for run, kind in ((result.mart, "mart"), (result.reference, "reference")):
        assert run.kind == kind
        assert run.rows == TINY_ROWS and run.output_rows == TINY_ROWS
        assert run.seconds > 0 and run.import_seconds > 0
        assert run.peak_rss_mb >= run.rss_after_imports_mb > 0
        assert run.input_path.endswith(".parquet")
        assert sum(run.segment_counts.values()) == TINY_ROWS
    assert result.mart.stages and "segments" in result.mart.stages
    assert result.mart.unique_customer_ids == TINY_ROWS
    assert result.speedup == pytest.approx(result.reference.seconds / result.mart.seconds)
    assert result.verdict() == "no target"
    cells = bench.result_cells(result)
    assert len(cells) == len(bench.RESULT_HEADERS) and cells[0] == "2,000"


def test_reference_segment_counts_are_close_to_the_mart(tiny_report):
    [result] = tiny_report.sizes
    assert set(result.reference.segment_counts) <= set(result.mart.segment_counts)
    points, _segment = result.share_gap()
    assert points <= MAX_SHARE_GAP_PP


def test_csv_run_reads_the_csv_file(tiny_report):
    run = tiny_report.csv_run
    assert run is not None and run.input_path.endswith(".csv")
    assert run.segment_counts == tiny_report.sizes[0].mart.segment_counts


def test_inputs_are_reused_when_rows_and_seed_match(tiny_report, tmp_path):
    out = Path(tiny_report.sizes[0].mart.input_path).parent
    messages: list[str] = []
    inputs = bench.prepare_inputs(TINY_ROWS, out, messages.append)
    assert inputs.parquet.is_file() and all("reusing" in m for m in messages)
    assert not bench.generated_file_matches(inputs.csv, TINY_ROWS + 1, bench.SEED)
    assert not bench.generated_file_matches(inputs.csv, TINY_ROWS, bench.SEED + 1)


def test_mart_section_renders_every_part(tiny_report, tmp_path):
    docs = tmp_path / "benchmarks.md"
    bench.write_docs(docs, bench.docs_sections(tiny_report))
    text = docs.read_text(encoding="utf-8")
    for expected in ("## Mart", "| size | mart s |", "### Mart stages", "### CSV input (information)",
                     "### Segment counts: reference vs mart", "## Report build", "Not yet measured"):
        assert expected in text


def test_writer_replaces_only_the_marked_sections(tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text(
        "# Benchmarks\n\nintro kept\n\n"
        "<!-- bench:mart:start -->\nold mart numbers\n<!-- bench:mart:end -->\n\n"
        "## Report build\n\ncold build: 42 s (recorded by hand)\n",
        encoding="utf-8",
    )
    bench.write_docs(docs, {"mart": "## Mart\n\nnew mart numbers", "dashboard": "## Dashboard\n\nnew table"})
    text = docs.read_text(encoding="utf-8")
    assert "old mart numbers" not in text
    assert "intro kept" in text and "cold build: 42 s (recorded by hand)" in text
    assert text.index("new mart numbers") < text.index("## Report build") < text.index("new table")
    assert text.count("<!-- bench:mart:start -->") == 1 and text.count("<!-- bench:dashboard:end -->") == 1
    bench.write_docs(docs, {"mart": "## Mart\n\nnewer"})
    again = docs.read_text(encoding="utf-8")
    assert "newer" in again and "new mart numbers" not in again and "new table" in again


def test_new_page_has_a_report_placeholder(tmp_path):
    docs = tmp_path / "benchmarks.md"
    bench.write_docs(docs, {"mart": "## Mart\n\nnumbers"})
    text = docs.read_text(encoding="utf-8")
    assert "## Report build" in text and "Not yet measured" in text.split("## Report build")[1]


def test_dashboard_output_becomes_a_table():
    output = (
        "mart bench-out/mart_1e5: 100,000 customers, loaded and prepared in 250 ms\n"
        "median of 20 runs, ms (response size in kB)\n"
        "- no filters [100,000 customers]: filters → URL: 1.2 (0.1 kB); KPI cards: 20.5 (3.0 kB)\n"
        "- premium = yes [27,000 customers]: filters → URL: 1.1 (0.1 kB); KPI cards: 15.0 (3.0 kB)\n"
        "slowest callback: 20.5 ms (budget 200 ms)\n"
    )
    run = bench.DashboardRun(100_000, "bench-out/mart_1e5", output, 0, 30.0)
    assert run.slowest_ms == 20.5
    table = bench.dashboard_table(output)
    assert table[0] == "| scenario | customers | filters → URL | KPI cards |"
    assert "| premium = yes | 27,000 | 1.1 (0.1 kB) | 15.0 (3.0 kB) |" in table
    assert "met (slowest 20.5 ms)" in bench.dashboard_section(run, {"date": "today"})


def test_targets_name_what_was_missed():
    def measured(kind: str, seconds: float, peak: float) -> bench.Measurement:
        return bench.Measurement(kind, 10_000_000, "x.parquet", seconds, 1.0, peak, 100.0, {"a": 1}, 1)

    fast = bench.SizeResult(10_000_000, measured("mart", 20.0, 3000.0), measured("reference", 600.0, 9000.0))
    assert fast.verdict().startswith("yes")
    slow = bench.SizeResult(10_000_000, measured("mart", 40.0, 5000.0), measured("reference", 1000.0, 9000.0))
    assert slow.verdict() == "no (missed ≤ 30 s, ≤ 4 GB)"
    unmeasured = bench.SizeResult(10_000_000, measured("mart", 20.0, 3000.0), None)
    assert unmeasured.verdict() == "partly (≥ 20× not measured)"
    assert bench.result_cells(unmeasured)[3:6] == ["not run", "not run", "not run"]


@pytest.mark.parametrize(("text", "rows"), [("1e5", 100_000), ("100_000", 100_000), ("2,000", 2_000)])
def test_sizes_parse(text, rows):
    assert bench.parse_size(text) == rows


def test_size_labels():
    assert bench.size_label(10_000_000) == "1e7"
    assert bench.size_label(2_000) == "2,000"
    assert bench.size_label(2_000, for_path=True) == "2000"


def test_report_section_states_both_runs_and_their_targets():
    from benchmarks.report import ReportTiming, section

    machine = {"cores": "2", "cpu": "Test CPU", "memory": "1 GB", "commit": "abc123"}
    text = section(ReportTiming(100_000, "default", 31.2, 1.7, 0, "0.10 / 0.20 / 0.30", "1.00 / 0.50 / 0.40"), machine)
    assert "| cold | 31.2 | ≤ 60 | met |" in text
    assert "| unchanged rerun (0 chapters executed) | 1.7 | ≤ 5 | met |" in text
    slow = section(ReportTiming(100_000, "default", 75.0, 6.0, 2, "", ""), machine)
    assert "| cold | 75.0 | ≤ 60 | missed |" in slow and "missed" in slow.splitlines()[-1]


def test_transactions_bench_records_the_real_order_counts(tmp_path):
    """The transaction-input bench at ~2e4 orders without Spark: counts read back from the files, every run read
    all of them, and the section lands between its markers."""
    import pyarrow.parquet as pq

    from benchmarks import transactions as tx

    config = tx.TxConfig(orders=20_000, spark_orders=0, reference_orders=20_000, out_dir=tmp_path / "out", docs=None)
    report = tx.run_bench(config)
    assert [(r.engine, r.with_customers) for r in report.runs] == [
        ("duckdb", True), ("duckdb", False), ("pandas", False)]  # DuckDB orders-only at 2e4 is measured once
    inputs = report.runs[0].inputs
    generated = sum(pq.ParquetFile(p).metadata.num_rows for p in inputs.orders_dir.glob("*.parquet"))
    assert inputs.orders == generated >= 20_000  # short of the target: generated again with more customers
    assert inputs.customers == pq.ParquetFile(inputs.parquet).metadata.num_rows
    for run in report.runs:
        assert run.inputs is inputs and run.failed is None
        assert run.seconds > 0 and run.peak_mb >= run.measurement.rss_after_imports_mb > 0
        assert run.orders_read == generated and run.counts_match
        assert run.customers_rolled_up == inputs.customers  # every generated customer has orders
        assert 0 < run.customers_out <= inputs.customers
        assert run.verdict().endswith("no target")
    mart = report.runs[0].measurement
    assert {"load", "validate", "segments", "write"} <= set(mart.stages) and mart.stages["load"] > 0
    assert report.runs[0].orders_kept == generated and report.runs[2].orders_kept == generated  # distinct ids

    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nkept as written\n", encoding="utf-8")
    bench.write_docs(docs, {tx.SECTION: tx.section(report)})
    text = docs.read_text(encoding="utf-8")
    assert "kept as written" in text
    assert text.count("<!-- bench:transactions:start -->") == 1 and text.rstrip().endswith(
        "<!-- bench:transactions:end -->")
    assert f"| DuckDB, orders + customer file | {tx.count_label(generated)} | {inputs.customers:,} |" in text
    assert "### Mart stages (seconds)" in text and "pandas roll-up ÷ DuckDB" in text
    assert tx.count_label(100_012_345) == "1.00e8 (100,012,345)" and tx.count_label(99_000_000).startswith("9.90e7")

    def at_1e8(orders: int, seconds: float, peak: float) -> str:
        big = tx.OrderInputs(tx.TARGET_ORDERS, 13_106_160, orders, inputs.csv, inputs.parquet, inputs.orders_dir, 14)
        found = bench.Measurement("mart", orders, "x.parquet", seconds, 1.0, peak, 200.0, {}, 1)
        return tx.TxRun("duckdb_1e8_customers", "duckdb", True, big, found).verdict()

    assert at_1e8(100_012_345, 60.0, 6500.0) == "yes (≤ 120 s, ≤ 8 GB)"
    assert at_1e8(100_012_345, 130.0, 9000.0) == "no (missed ≤ 120 s, ≤ 8 GB)"
    assert at_1e8(99_000_000, 60.0, 6500.0).startswith("not measured at 1e8 (only 9.90e7")
