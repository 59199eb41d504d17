"""The benchmark harness: measured processes, the bare SQL references, targets, tables and the docs page.

No timing assertions. The tests marked `bench` run the real benchmarks at tiny sizes (`make test-fast` skips them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from benchmarks import bare_sql, harness
from benchmarks import mart as bench
from segmentation.config.params import load_params
from segmentation.core import atomic

ROOT = Path(__file__).resolve().parents[1]
TINY_ROWS = 2_000
# ntile and qcut over first-rank split ties that the mart keeps together; at 2,000 rows that moves a few percent
MAX_SHARE_GAP_PP = 8.0
ALLOCATE = "import sys, time; block = b'x' * (int(sys.argv[1]) << 20); time.sleep(float(sys.argv[2]))"


# ---------------------------------------------------------------------------------------------------------------
# measured processes


def test_a_process_peak_memory_is_measured_from_outside():
    done = harness.run_measured([sys.executable, "-c", ALLOCATE, "300", "0"])
    assert done.exit_code == 0 and done.error is None
    assert done.peak_mb >= 300
    assert done.children_peak_mb == 0


def test_the_peak_covers_the_whole_process_tree():
    """A parent that starts a child holding 200 MB: the tree's peak includes the child's memory."""
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {ALLOCATE!r}, '200', '2'], check=True)"
    done = harness.run_measured([sys.executable, "-c", parent])
    assert done.exit_code == 0
    assert done.children_peak_mb >= 200
    assert done.peak_mb >= done.children_peak_mb


def test_a_measured_process_reports_its_result_or_its_error(tmp_path):
    def child(measure: str) -> harness.ProcessRun:
        code = ("import sys; from pathlib import Path; from benchmarks.harness import child_main; "
                f"child_main(Path(sys.argv[1]), lambda: {measure})")
        return harness.run_measured([sys.executable, "-c", code, str(tmp_path / "result.json")],
                                    result_file=tmp_path / "result.json", capture=True)

    done = child('{"work_seconds": 0.5, "stages": {"load": 0.2}}')
    assert done.error is None and done.work_seconds == 0.5 and done.stages == {"load": 0.2}
    failed = child("1 / 0")
    assert failed.exit_code == 1
    assert failed.error.startswith("ZeroDivisionError: division by zero")
    assert "Traceback" in failed.output  # the traceback still reaches the console (captured here)


def test_a_failed_process_without_a_result_names_its_exit_code(tmp_path):
    done = harness.run_measured([sys.executable, "-c", "raise SystemExit(3)"], result_file=tmp_path / "none.json")
    assert done.exit_code == 3 and done.error == "exit code 3" and done.result == {}


# ---------------------------------------------------------------------------------------------------------------
# the floor and the bare SQL RFM


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory) -> Path:
    """500 generated customers."""
    from segmentation.synthetic.generate import write_customers

    return write_customers(tmp_path_factory.mktemp("sql") / "customers.csv", rows=500, seed=3)


def test_the_floor_copies_every_row_with_the_schemas_types(tiny_csv, tmp_path):
    out = tmp_path / "floor.parquet"
    duckdb.connect().execute(bare_sql.floor_script(tiny_csv, out, threads=1, memory_limit="1GB"))
    copied = duckdb.sql(f"DESCRIBE SELECT * FROM '{out}'").fetchall()
    types = {name: kind for name, kind, *_ in copied}
    assert types["last_purchase_date"] == "DATE" and types["subscription"] == "BOOLEAN"
    assert types["total_spent"] == "DOUBLE" and types["customer_id"] == "VARCHAR"
    assert duckdb.sql(f"SELECT count(*) FROM '{out}'").fetchall() == [(500,)]


def test_the_bare_sql_rfm_applies_the_params_rules(tiny_csv, tmp_path):
    params = load_params(ROOT / "params" / "default.yaml")
    out = tmp_path / "rfm.parquet"
    duckdb.connect().execute(bare_sql.rfm_script(tiny_csv, out, params))
    scored = pd.read_parquet(out)
    source = pd.read_csv(tiny_csv, dtype={"customer_id": str})
    assert sorted(scored["customer_id"]) == sorted(source["customer_id"])
    last = pd.to_datetime(source["last_purchase_date"])
    expected = source.assign(recency_days=(last.max() + pd.Timedelta(days=1) - last).dt.days,
                             frequency=(source["total_spent"] / source["avg_order_value"]).round().clip(lower=1))
    columns = ["customer_id", "recency_days", "frequency"]  # the file repeats some ids: compare as multisets
    assert sorted(scored[columns].itertuples(index=False)) == sorted(expected[columns].itertuples(index=False))
    for score in ("r_score", "f_score", "m_score"):
        assert scored[score].value_counts().to_dict() == {k: 100 for k in range(1, 6)}  # ntile: 500 / 5 each
    # recent customers score high on R
    assert scored.groupby("r_score")["recency_days"].max().is_monotonic_decreasing

    def first_match(row) -> str:
        return next(seg.id for seg in (*params.segments, params.fallback)
                    if seg.matches(row.r_score, row.f_score, row.m_score))

    assert (scored["segment_id"] == scored.apply(first_match, axis=1)).all()


def test_sql_literals_are_quoted():
    assert bare_sql.quoted("it's") == "'it''s'"
    assert "SET threads = 2;" in bare_sql.settings(2, "3GB") and "SET memory_limit = '3GB';" in bare_sql.settings(
        2, "3GB")
    assert not any("threads" in line for line in bare_sql.settings(None, None))


# ---------------------------------------------------------------------------------------------------------------
# targets and tables


def fake_run(kind: str, rows: int, seconds: float, peak: float, work: float | None = None) -> bench.Run:
    """A run as if measured: whole-process seconds, peak MB and (mart, pandas) work seconds."""
    result = {"work_seconds": work} if work is not None else {}
    return bench.Run(kind, rows, harness.ProcessRun(seconds, peak, 0.0, 0, "1.00", "1.00", result))


def test_targets_at_1e7_name_what_was_missed():
    rows = 10_000_000

    def at_1e7(mart_s: float, mart_mb: float, floor: bench.Run) -> bench.SizeResult:
        return bench.SizeResult(rows, {"floor": floor, "mart": fake_run("mart", rows, mart_s, mart_mb, mart_s - 1)})

    floor = fake_run("floor", rows, 7.0, 900.0)
    assert at_1e7(18.0, 3500.0, floor).verdict() == "yes (≤ 3× floor, ≤ 20 s, ≤ 4 GB)"
    assert at_1e7(25.0, 5000.0, floor).verdict() == "no (missed ≤ 3× floor, ≤ 20 s, ≤ 4 GB)"
    failed_floor = bench.Run("floor", rows, harness.ProcessRun(1.0, 100.0, 0.0, 1, "", ""), "failed")
    assert at_1e7(18.0, 3500.0, failed_floor).verdict() == "partly (≤ 3× floor not measured)"
    assert at_1e7(18.0, 3500.0, floor).floor_ratio("mart") == pytest.approx(18.0 / 7.0)


def test_the_1e5_target_is_the_marts_work_and_other_sizes_have_none():
    small = bench.SizeResult(100_000, {"floor": fake_run("floor", 100_000, 0.5, 100.0),
                                       "mart": fake_run("mart", 100_000, 2.5, 400.0, work=0.9)})
    assert small.verdict() == "yes (work ≤ 1 s)"
    odd = bench.SizeResult(2_000, {"floor": fake_run("floor", 2_000, 0.5, 100.0),
                                   "mart": fake_run("mart", 2_000, 2.5, 400.0, work=0.9)})
    assert odd.verdict() == "no target"


def test_result_rows_show_the_references_beside_the_mart():
    rows = 1_000_000
    result = bench.SizeResult(rows, {
        "floor": fake_run("floor", rows, 2.0, 300.0),
        "sql": fake_run("sql", rows, 3.0, 800.0),
        "mart": fake_run("mart", rows, 7.0, 1100.0, work=6.0),
        "pandas": bench.Run("pandas", rows),
    })
    table = bench.result_rows([result], markdown=True)
    assert table == [
        ["1e6", "floor: DuckDB CSV → Parquet", "2.00", "300", "1.0", "—", "reference"],
        ["1e6", "bare SQL RFM (DuckDB)", "3.00", "800", "1.5", "—", "reference"],
        ["1e6", "**mart**", "7.00", "1,100", "3.5", "6.00", "no (missed ≤ 3× floor)"],
        ["1e6", "pandas notebook", "not run", "—", "—", "—", "reference"],
    ]
    assert all(len(row) == len(bench.RESULT_HEADERS) for row in table)


def test_share_gap_names_the_segment():
    points, segment = bench.share_gap({"a": 50, "b": 50}, {"a": 40, "b": 60})
    assert points == pytest.approx(10.0) and segment in {"a", "b"}


def test_stage_rows_add_other_and_the_total():
    rows = harness.stage_rows([({"load": 1.0, "write": 0.5}, 0.25, 1.75), ({"load": 2.0}, 0.5, 2.5)], digits=1)
    assert rows == [["load", "1.0", "2.0"], ["write", "0.5", "0.0"], ["other", "0.2", "0.5"],
                    ["**total**", "**1.8**", "**2.5**"]]


def test_verdict_wording():
    assert harness.verdict([]) == "no target"
    assert harness.verdict([("a", True), ("b", False)]) == "no (missed b)"
    assert harness.verdict([("a", True), ("b", None)]) == "partly (b not measured)"
    assert harness.verdict([("a", True)]) == "yes (a)"


@pytest.mark.parametrize(("text", "rows"), [("1e5", 100_000), ("100_000", 100_000), ("2,000", 2_000)])
def test_sizes_parse(text, rows):
    assert harness.parse_size(text) == rows


@pytest.mark.parametrize("text", ["1.5", "-3", "lots"])
def test_bad_sizes_are_refused(text):
    with pytest.raises(Exception, match="rows"):
        harness.parse_size(text)


def test_size_labels():
    assert harness.size_label(10_000_000) == "1e7"
    assert harness.size_label(2_000) == "2,000"
    assert harness.size_label(2_000, for_path=True) == "2000"


def test_code_note_says_when_the_code_changed():
    machine = {"commit": "abc", "commit_end": "abc"}
    harness.note_code_hashes(machine, ["1" * 64, None, "1" * 64])
    assert harness.code_note(machine) == "commit abc; mart code sha256 111111111111 in every run"
    harness.note_code_hashes(machine, ["1" * 64, "2" * 64])
    machine["commit_end"] = "def"
    assert harness.code_note(machine) == ("commit abc at start, def at end; **the mart code changed during the "
                                          "bench** (2 code hashes)")


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


def test_report_section_states_both_runs_and_their_targets():
    from benchmarks.report import ReportTiming, section

    machine = {"cores": "2", "cpu": "Test CPU", "memory": "1 GB", "commit": "abc123"}
    text = section(ReportTiming(100_000, "default", 31.2, 1.7, 0, "0.10 / 0.20 / 0.30", "1.00 / 0.50 / 0.40"), machine)
    assert "| cold | 31.2 | ≤ 60 | met |" in text
    assert "| unchanged rerun (0 chapters executed) | 1.7 | ≤ 5 | met |" in text
    slow = section(ReportTiming(100_000, "default", 75.0, 6.0, 2, "", ""), machine)
    assert "| cold | 75.0 | ≤ 60 | missed |" in slow and "missed" in slow.splitlines()[-1]


def test_transaction_targets_apply_to_duckdb_at_1e8(tmp_path):
    from benchmarks import transactions as tx

    def at_1e8(orders: int, seconds: float, peak: float) -> str:
        big = tx.OrderInputs(tx.TARGET_ORDERS, 13_106_160, orders, tmp_path / "c.csv", tmp_path / "c.parquet",
                             tmp_path / "orders", 14)
        process = harness.ProcessRun(seconds + 2, peak, 0.0, 0, "", "", {"work_seconds": seconds})
        return tx.TxRun("duckdb_1e8_customers", "duckdb", True, big, process).verdict()

    assert at_1e8(100_012_345, 60.0, 6500.0) == "yes (≤ 120 s, ≤ 8 GB)"
    assert at_1e8(100_012_345, 130.0, 9000.0) == "no (missed ≤ 120 s, ≤ 8 GB)"
    assert at_1e8(99_000_000, 60.0, 6500.0).startswith("not measured at 1e8 (only 9.90e7")
    assert tx.count_label(100_012_345) == "1.00e8 (100,012,345)" and tx.count_label(99_000_000).startswith("9.90e7")


# ---------------------------------------------------------------------------------------------------------------
# docs/benchmarks.md


def test_writer_replaces_only_the_marked_sections(tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text(
        "# Benchmarks\n\nintro kept\n\n"
        "<!-- bench:mart:start -->\nold mart numbers\n<!-- bench:mart:end -->\n\n"
        "## Report build\n\ncold build: 42 s (recorded by hand)\n",
        encoding="utf-8",
    )
    harness.write_docs(docs, {"mart": "## Mart\n\nnew mart numbers", "dashboard": "## Dashboard\n\nnew table"})
    text = docs.read_text(encoding="utf-8")
    assert "old mart numbers" not in text
    assert "intro kept" in text and "cold build: 42 s (recorded by hand)" in text
    assert text.index("new mart numbers") < text.index("## Report build") < text.index("new table")
    assert text.count("<!-- bench:mart:start -->") == 1 and text.count("<!-- bench:dashboard:end -->") == 1
    harness.write_docs(docs, {"mart": "## Mart\n\nnewer"})
    again = docs.read_text(encoding="utf-8")
    assert "newer" in again and "new mart numbers" not in again and "new table" in again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["benchmarks.md"]  # no temporary file left


def test_new_page_has_a_report_placeholder(tmp_path):
    docs = tmp_path / "benchmarks.md"
    harness.write_docs(docs, {"mart": "## Mart\n\nnumbers"})
    text = docs.read_text(encoding="utf-8")
    assert "## Report build" in text and "Not yet measured" in text.split("## Report build")[1]


def test_a_failed_write_leaves_the_old_file(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic.replacing(page) as temporary:
        temporary.write_text("half", encoding="utf-8")
        raise RuntimeError("stopped")
    assert page.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["page.md"]


# ---------------------------------------------------------------------------------------------------------------
# the real benchmarks at tiny sizes


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory) -> bench.BenchReport:
    """The mart bench at 2,000 customers into a temporary folder: floor, bare SQL, mart and pandas."""
    out = tmp_path_factory.mktemp("bench")
    config = bench.BenchConfig(sizes=(TINY_ROWS,), dashboard_size=0, params=ROOT / "params" / "default.yaml",
                               out_dir=out, docs=None)
    return bench.run_bench(config)


@pytest.mark.bench
def test_every_run_is_measured_on_the_same_file(tiny_report):
    [result] = tiny_report.sizes
    assert list(result.runs) == ["floor", "sql", "mart", "pandas"]
    for run in result.runs.values():
        assert run.measured, run.process.error
        assert run.output_rows == TINY_ROWS
        assert run.seconds > 0 and run.peak_mb > 0
    mart, pandas = result.runs["mart"], result.runs["pandas"]
    assert {"validate", "segments", "write"} <= set(mart.process.stages)
    assert mart.unique_customer_ids == TINY_ROWS
    assert mart.peak_mb >= mart.process.result["rss_after_imports_mb"] > 0
    assert 0 < mart.work_seconds < mart.seconds and 0 < pandas.work_seconds < pandas.seconds
    out = Path(mart.process.result["mart_dir"]).parent
    csv = load_params(out / "params" / f"{TINY_ROWS}.yaml").input_path  # the mart's and pandas' input
    assert csv == out / f"customers_{TINY_ROWS}.csv"
    for kind in ("floor", "sql"):
        assert f"read_csv('{csv}'" in (out / "sql" / f"{kind}_{TINY_ROWS}.sql").read_text(encoding="utf-8")
    assert result.floor_ratio("mart") == pytest.approx(mart.seconds / result.runs["floor"].seconds)
    assert result.verdict() == "no target"


@pytest.mark.bench
def test_references_segment_like_the_mart(tiny_report):
    [result] = tiny_report.sizes
    for kind in ("sql", "pandas"):
        counts = result.runs[kind].segment_counts
        assert sum(counts.values()) == TINY_ROWS and set(counts) <= set(result.mart.segment_counts)
        assert result.share_gap(kind)[0] <= MAX_SHARE_GAP_PP


@pytest.mark.bench
def test_mart_section_renders_every_part(tiny_report, tmp_path):
    docs = tmp_path / "benchmarks.md"
    harness.write_docs(docs, bench.docs_sections(tiny_report))
    text = docs.read_text(encoding="utf-8")
    for expected in ("## Mart", "| size | run | seconds |", "| 2,000 | floor: DuckDB CSV → Parquet |",
                     "| 2,000 | **mart** |", "### Mart stages", "| **whole process** |",
                     "### Segment counts: mart, bare SQL, pandas", "## Report build", "Not yet measured"):
        assert expected in text


@pytest.mark.bench
def test_inputs_are_reused_when_rows_and_seed_match(tiny_report):
    out = Path(tiny_report.sizes[0].mart.process.result["mart_dir"]).parent
    messages: list[str] = []
    csv = harness.prepare_customers(TINY_ROWS, out, messages.append)
    assert csv.is_file() and all("reusing" in m for m in messages)
    assert not harness.generated_file_matches(csv, TINY_ROWS + 1, harness.SEED)
    assert not harness.generated_file_matches(csv, TINY_ROWS, harness.SEED + 1)


@pytest.mark.bench
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
        assert run.seconds > 0 and run.peak_mb >= run.process.result["rss_after_imports_mb"] > 0
        assert run.orders_read == generated and run.counts_match
        assert run.customers_rolled_up == inputs.customers  # every generated customer has orders
        assert 0 < run.customers_out <= inputs.customers
        assert run.verdict().endswith("no target")
    assert {"load", "validate", "segments", "write"} <= set(report.runs[0].stages) and report.runs[0].stages["load"]
    assert report.runs[0].orders_kept == generated and report.runs[2].orders_kept == generated  # distinct ids

    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nkept as written\n", encoding="utf-8")
    harness.write_docs(docs, {tx.SECTION: tx.section(report)})
    text = docs.read_text(encoding="utf-8")
    assert "kept as written" in text
    assert text.count("<!-- bench:transactions:start -->") == 1 and text.rstrip().endswith(
        "<!-- bench:transactions:end -->")
    assert f"| DuckDB, orders + customer file | {tx.count_label(generated)} | {inputs.customers:,} |" in text
    assert "### Mart stages (seconds)" in text and "pandas roll-up ÷ DuckDB" in text


def test_the_report_bench_runs_the_projects_chapters_from_its_own_folder(tmp_path, monkeypatch):
    from benchmarks.report import report_params

    monkeypatch.chdir(tmp_path)  # the bench runs the report in its own folder, which has no chapters/
    csv = tmp_path / "customers.csv"
    params = load_params(report_params(ROOT / "params" / "default.yaml", tmp_path, csv))
    assert params.chapters_dir == ROOT / "chapters"
    assert params.input_path == csv and params.mart_dir == tmp_path / "mart"


@pytest.mark.bench
def test_the_mapping_bench_reads_the_export_as_the_same_orders_less_its_returns(tmp_path):
    """The export holds every order under a store's column names plus one return line per RETURN_EVERY orders;
    read through its mapping and netted, each customer's revenue is the plain one less what they returned."""
    from benchmarks import mapping
    from benchmarks.transactions import prepare_order_inputs
    from segmentation.mart.pipeline import run

    inputs = prepare_order_inputs(20_000, tmp_path, lambda _line: None)
    export = tmp_path / "export.parquet"
    lines = mapping.write_export(inputs.orders_dir, export)
    orders = pd.read_parquet(inputs.orders_dir)
    returned = orders[orders["order_id"] % mapping.RETURN_EVERY == 0]
    assert lines == len(orders) + len(returned)
    marts = {kind: run(load_params(mapping.run_params(kind, ROOT / "params" / "default.yaml", tmp_path,
                                                      inputs.orders_dir, export))).mart_dir
             for kind in ("plain", "mapped")}
    plain, mapped = (pd.read_parquet(marts[k] / "customer_segments.parquet").set_index("source_customer_id")
                     for k in ("plain", "mapped"))
    lost = returned.groupby(returned["customer_id"].astype(str))["order_value"].sum()
    expected = (plain["monetary"] - lost.reindex(plain.index, fill_value=0)).round(2)
    expected = expected[expected > 0]  # a customer whose every order came back is not scored
    assert mapped["monetary"].round(2).sort_index().equals(expected.sort_index())
    assert (mapped["frequency"] == plain.loc[mapped.index, "frequency"]).all()  # returns are not purchases
