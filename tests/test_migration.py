"""Segment migration between two marts: flows against an independent pandas computation, new and lapsed customers,
id shifts, determinism, the command line, the report chapter and the dashboard view.

Two snapshots come from one generated file (3,000 customers as of the day before R1) and the real pipeline:
`grown` adds new customers whose first purchase is after R1 and leaves every existing row as it was (so ids stay
put); `changed` also lets some customers buy again and drops others (so ids shift and only --match source works).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.utils
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segmentation.cli import main
from segmentation.config.params import Params, load_params
from segmentation.dashboard import data as d
from segmentation.dashboard.app import create_app
from segmentation.dashboard.figures import migration_heatmap_figure
from segmentation.mart.pipeline import run
from segmentation.mart.store import CUSTOMERS, FILES, MANIFEST, build_sha256, publishing, read_mart
from segmentation.migration import (
    LAPSED,
    LAPSED_NAME,
    MIGRATION,
    MIGRATION_JSON,
    NEW,
    NEW_NAME,
    MigrationError,
    migrate,
    read_migration,
)
from segmentation.report import load_context
from segmentation.report import migration as report_migration
from segmentation.report.chapters import (
    MIGRATION_TEMPLATE,
    chapter_key,
    execute_chapters,
    plan_chapters,
)
from segmentation.report.escape import Md, md_text
from segmentation.synthetic.generate import write_customers
from segmentation.words.formatting import Money
from tests.conftest import ROOT, configured_text, free_text, params_copy

R1, R2 = dt.date(2026, 7, 2), dt.date(2026, 10, 30)  # reference dates of the two snapshots (~120 days apart)
ROWS, NEW_ROWS, REPEAT_BUYERS, DROPPED = 3_000, 300, 400, 150

pytestmark = pytest.mark.filterwarnings("ignore:.*HandleFootnoteTransform.app' is deprecated")


@dataclass(frozen=True)
class Snapshots:
    """Params (each with its built mart) of the earlier snapshot and of the two later ones."""

    before: Params
    grown: Params
    changed: Params


def _mart(folder: Path, csv: Path, reference_date: dt.date) -> Params:
    """Build a mart from `csv` with a copy of params/default.yaml and a fixed reference date."""
    folder.mkdir(parents=True, exist_ok=True)
    path = params_copy(ROOT / "params" / "default.yaml", folder, input=csv, mart_dir=folder / "mart",
                       reference_date=reference_date.isoformat())
    params = load_params(path)
    run(params)
    return params


def _new_customers(folder: Path, rng: np.random.Generator) -> pd.DataFrame:
    """NEW_ROWS generated customers whose first purchase falls between R1 and R2."""
    new = pd.read_csv(write_customers(folder / "new.csv", rows=NEW_ROWS, seed=12, as_of=R1), dtype=str)
    first = [R1 + dt.timedelta(days=int(n)) for n in rng.integers(1, 100, NEW_ROWS)]
    gaps = rng.integers(0, 60, NEW_ROWS)
    last = [min(f + dt.timedelta(days=int(n)), R2 - dt.timedelta(days=1)) for f, n in zip(first, gaps)]
    return new.assign(first_purchase_date=[f.isoformat() for f in first],
                      last_purchase_date=[x.isoformat() for x in last])


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> Snapshots:
    """Three marts: before (as of R1), grown and changed (as of R2)."""
    folder = tmp_path_factory.mktemp("migration")
    rng = np.random.default_rng(5)
    first_csv = write_customers(folder / "before.csv", rows=ROWS, seed=11, as_of=R1 - dt.timedelta(days=1))
    first = pd.read_csv(first_csv, dtype=str)
    new = _new_customers(folder, rng)

    pd.concat([first, new], ignore_index=True).to_csv(folder / "grown.csv", index=False)

    changed = first.copy()
    buyers = rng.choice(ROWS, REPEAT_BUYERS, replace=False)
    changed.loc[buyers, "last_purchase_date"] = [(R1 + dt.timedelta(days=int(n))).isoformat()
                                                 for n in rng.integers(1, 110, REPEAT_BUYERS)]
    spent = changed.loc[buyers, "total_spent"].astype(float) + 2 * changed.loc[buyers, "avg_order_value"].astype(float)
    changed.loc[buyers, "total_spent"] = spent.round(2).astype(str)
    changed = changed.drop(index=rng.choice(np.setdiff1d(np.arange(ROWS), buyers), DROPPED, replace=False))
    pd.concat([changed, new], ignore_index=True).to_csv(folder / "changed.csv", index=False)

    return Snapshots(
        before=_mart(folder / "before", first_csv, R1),
        grown=_mart(folder / "grown", folder / "grown.csv", R2),
        changed=_mart(folder / "changed", folder / "changed.csv", R2),
    )


@pytest.fixture(scope="module")
def grown_flows(snapshots: Snapshots) -> pd.DataFrame:
    """Migration before → grown, matched by customer id, written into the grown mart."""
    return migrate(snapshots.before.mart_dir, snapshots.grown.mart_dir, params=snapshots.grown)


@pytest.fixture(scope="module")
def changed_flows(snapshots: Snapshots) -> pd.DataFrame:
    """Migration before → changed, matched by source id and first purchase, written into the changed mart."""
    return migrate(snapshots.before.mart_dir, snapshots.changed.mart_dir, params=snapshots.changed, match="source")


def _pandas_flows(before: pd.DataFrame, after: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The reference: an outer merge on the keys (ties paired in customer_id order), then a crosstab and sums."""
    def side(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.sort_values("customer_id")
        return frame.assign(nth=frame.groupby(keys).cumcount())[[*keys, "nth", "segment_id", "monetary"]]

    merged = side(before).merge(side(after), on=[*keys, "nth"], how="outer", suffixes=("_b", "_a"))
    merged["from"] = merged["segment_id_b"].fillna(NEW)
    merged["to"] = merged["segment_id_a"].fillna(LAPSED)
    counts = pd.crosstab(merged["from"], merged["to"]).stack().rename("customers")
    money = merged.groupby(["from", "to"])[["monetary_b", "monetary_a"]].sum()
    return pd.concat([counts, money], axis=1).fillna(0)


def _assert_matches_pandas(flows: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Every flow's customers and revenues equal the reference; the reference has no flow the output lacks."""
    for row in flows.itertuples():
        key = (row.from_segment_id, row.to_segment_id)
        expected = reference.loc[key] if key in reference.index else pd.Series(0.0, index=reference.columns)
        assert row.customers == expected["customers"], key
        assert row.revenue_before == pytest.approx(expected["monetary_b"], abs=0.005), key
        assert row.revenue_after == pytest.approx(expected["monetary_a"], abs=0.005), key
    present = reference[reference["customers"] > 0].index
    assert set(present) <= set(zip(flows["from_segment_id"], flows["to_segment_id"]))


# --- flows ---------------------------------------------------------------------------------------------------


def test_id_match_agrees_with_pandas(snapshots: Snapshots, grown_flows: pd.DataFrame) -> None:
    before, after = read_mart(snapshots.before.mart_dir).customers, read_mart(snapshots.grown.mart_dir).customers
    _assert_matches_pandas(grown_flows, _pandas_flows(before, after, ["customer_id"]))
    moved = grown_flows[(grown_flows["from_segment_id"] != grown_flows["to_segment_id"])
                        & ~grown_flows["from_segment_id"].eq(NEW)]
    assert moved["customers"].sum() > 0, "a later reference date must move some customers"


def test_source_match_agrees_with_pandas(snapshots: Snapshots, changed_flows: pd.DataFrame) -> None:
    before, after = read_mart(snapshots.before.mart_dir).customers, read_mart(snapshots.changed.mart_dir).customers
    _assert_matches_pandas(changed_flows, _pandas_flows(before, after, ["source_customer_id", "first_purchase_date"]))


@pytest.mark.parametrize("which, new, lapsed", [("grown", NEW_ROWS, 0), ("changed", NEW_ROWS, DROPPED)])
def test_totals_are_the_snapshot_sizes_and_new_and_lapsed_are_counted(
    request, snapshots: Snapshots, which: str, new: int, lapsed: int
) -> None:
    flows = request.getfixturevalue(f"{which}_flows")
    before = read_mart(snapshots.before.mart_dir).customers
    after = read_mart(getattr(snapshots, which).mart_dir).customers
    assert flows.loc[flows["from_segment_id"] != NEW, "customers"].sum() == len(before)
    assert flows.loc[flows["to_segment_id"] != LAPSED, "customers"].sum() == len(after)
    assert flows.loc[flows["from_segment_id"] == NEW, "customers"].sum() == new
    assert flows.loc[flows["to_segment_id"] == LAPSED, "customers"].sum() == lapsed
    by_from = flows[flows["from_segment_id"] != NEW].groupby("from_segment_id")["customers"].sum()
    assert (by_from == before["segment_id"].value_counts().reindex(by_from.index, fill_value=0)).all()
    by_to = flows[flows["to_segment_id"] != LAPSED].groupby("to_segment_id")["customers"].sum()
    assert (by_to == after["segment_id"].value_counts().reindex(by_to.index, fill_value=0)).all()
    info = json.loads((getattr(snapshots, which).mart_dir / MIGRATION_JSON).read_text())
    assert info["totals"]["new"] == new and info["totals"]["lapsed"] == lapsed
    assert info["totals"]["customers_before"] == len(before) and info["totals"]["customers_after"] == len(after)
    assert info["totals"]["stayed"] + info["totals"]["moved"] == info["totals"]["matched"] == len(before) - lapsed


def test_every_pair_appears_once_in_display_order(snapshots: Snapshots, grown_flows: pd.DataFrame) -> None:
    ids = [seg.id for seg in snapshots.grown.all_segments]
    expected = [(f, t) for f in [*ids, NEW] for t in [*ids, LAPSED] if (f, t) != (NEW, LAPSED)]
    assert list(zip(grown_flows["from_segment_id"], grown_flows["to_segment_id"])) == expected
    assert list(grown_flows.columns) == ["from_segment_id", "from_segment_name", "to_segment_id", "to_segment_name",
                                         "customers", "revenue_before", "revenue_after", "share_of_from"]
    names = {seg.id: seg.name for seg in snapshots.grown.all_segments}
    real = grown_flows[grown_flows["from_segment_id"] != NEW]
    assert (real["from_segment_id"].map(names) == real["from_segment_name"]).all()
    shares = grown_flows.groupby("from_segment_id")["share_of_from"].sum()
    sizes = grown_flows.groupby("from_segment_id")["customers"].sum()
    assert np.allclose(shares[sizes > 0], 1.0)
    assert grown_flows.loc[grown_flows["from_segment_id"] == NEW, "revenue_before"].eq(0).all()


def test_migration_json_names_both_snapshots_and_the_movements_that_matter(
    snapshots: Snapshots, changed_flows: pd.DataFrame
) -> None:
    info = json.loads((snapshots.changed.mart_dir / MIGRATION_JSON).read_text())
    assert info["before"]["reference_date"] == R1.isoformat() and info["after"]["reference_date"] == R2.isoformat()
    assert info["before"]["build_sha256"] == build_sha256(read_mart(snapshots.before.mart_dir).manifest)
    assert info["after"]["build_sha256"] == build_sha256(read_mart(snapshots.changed.mart_dir).manifest)
    # the after mart's manifest now lists both files, so the mart stays whole
    assert {MIGRATION, MIGRATION_JSON} <= set(read_mart(snapshots.changed.mart_dir).manifest[FILES])
    assert info["match"] == "source" and info["match_keys"] == ["source_customer_id", "first_purchase_date"]
    top = info["top_movements"]
    assert len(top) == 5
    assert all(m["from_segment_id"] != m["to_segment_id"] for m in top)
    assert all(set(m) == {"from_segment_id", "from_segment_name", "to_segment_id", "to_segment_name", "customers",
                          "revenue_before", "revenue_after", "share_of_from"} for m in top)  # no sentence: numbers
    weights = [m["revenue_after"] if m["from_segment_id"] == NEW else m["revenue_before"] for m in top]
    assert weights == sorted(weights, reverse=True)
    moves = changed_flows[(changed_flows["from_segment_id"] != changed_flows["to_segment_id"])]
    heaviest = moves["revenue_before"].where(moves["from_segment_id"] != NEW, moves["revenue_after"]).max()
    assert weights[0] == pytest.approx(heaviest)


def test_reruns_are_byte_identical(snapshots: Snapshots, tmp_path: Path) -> None:
    outputs = []
    for name in ("first", "second"):
        out = tmp_path / name / MIGRATION
        migrate(snapshots.before.mart_dir, snapshots.changed.mart_dir, out, snapshots.changed, match="source")
        outputs.append((out.read_bytes(), out.with_name(MIGRATION_JSON).read_bytes()))
        assert sorted(p.name for p in out.parent.iterdir()) == [MIGRATION_JSON, MIGRATION]  # no temp files left
    assert outputs[0] == outputs[1]


def test_id_match_refuses_ids_that_shifted(snapshots: Snapshots, tmp_path: Path) -> None:
    out = tmp_path / MIGRATION
    with pytest.raises(MigrationError, match="--match source") as failure:
        migrate(snapshots.before.mart_dir, snapshots.changed.mart_dir, out, snapshots.changed, match="id")
    assert "customer ids name another customer" in str(failure.value)
    assert not out.exists() and not out.with_name(MIGRATION_JSON).exists()


# --- a hand-built pair of marts with exact expectations ----------------------------------------------------------


def _tiny_mart(source: Path, target: Path, rows: list[tuple], reference_date: dt.date) -> Path:
    """A copy of a mart whose customers are `rows` of (customer_id, source id, first purchase, segment, monetary)."""
    shutil.copytree(source, target)
    template = pd.read_parquet(source / CUSTOMERS).head(len(rows)).reset_index(drop=True)
    cid, sid, first, seg, money = zip(*rows)
    frame = template.assign(customer_id=list(cid), source_customer_id=list(sid), first_purchase_date=list(first),
                            segment_id=list(seg), monetary=list(money))
    schema = pq.read_schema(source / CUSTOMERS)
    manifest = json.loads((target / MANIFEST).read_text())
    with publishing(target, amend=True) as staging:  # the manifest lists the new file, so the mart stays whole
        pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), staging / CUSTOMERS)
        (staging / MANIFEST).write_text(json.dumps(manifest | {"reference_date": reference_date.isoformat()}))
    return target


def _as_if_rebuilt(mart: Path) -> None:
    """What a rebuild does to the manifest: another build (here: other timings) with the same files."""
    manifest = json.loads((mart / MANIFEST).read_text())
    manifest["timings_s"] = {stage: seconds + 1 for stage, seconds in manifest["timings_s"].items()}
    (mart / MANIFEST).write_text(json.dumps(manifest))


D1, D2, D4, D5 = (dt.date(2024, 1, d) for d in (1, 2, 4, 5))
TINY_BEFORE = [("C000001", "11", D1, "top", 100.0), ("C000002", "22", D2, "top", 50.0),
               ("C000003", "22", D2, "dormant", 10.0), ("C000004", "44", D4, "steady", 5.0)]
TINY_AFTER = [("C000001", "11", D1, "at_risk", 120.0), ("C000002", "22", D2, "top", 60.25),
              ("C000003", "22", D2, "steady", 10.0), ("C000005", "55", D5, "new", 7.5)]
TINY_FLOWS = {  # (from, to): (customers, revenue before, revenue after)
    ("top", "at_risk"): (1, 100.0, 120.0), ("top", "top"): (1, 50.0, 60.25), ("dormant", "steady"): (1, 10.0, 10.0),
    ("steady", LAPSED): (1, 5.0, 0.0), (NEW, "new"): (1, 0.0, 7.5),
}


@pytest.mark.parametrize("match", ["id", "source"])
def test_hand_built_marts_give_exact_flows(small_mart: Params, tmp_path: Path, match: str) -> None:
    before = _tiny_mart(small_mart.mart_dir, tmp_path / "before", TINY_BEFORE, R1)
    after = _tiny_mart(small_mart.mart_dir, tmp_path / "after", TINY_AFTER, R2)
    flows = migrate(before, after, params=small_mart, match=match)
    found = {(r.from_segment_id, r.to_segment_id): (r.customers, r.revenue_before, r.revenue_after)
             for r in flows.itertuples() if r.customers}
    assert found == TINY_FLOWS
    top = flows.set_index(["from_segment_id", "to_segment_id"])["share_of_from"]
    assert top[("top", "at_risk")] == 0.5 and top[("top", "top")] == 0.5 and np.isnan(top[("at_risk", "top")])
    info = json.loads((after / MIGRATION_JSON).read_text())
    shared = 2 if match == "source" else 0  # C000002 and C000003 share source id 22 and a first purchase
    assert info["ambiguous_customers"] == {"before": shared, "after": shared}
    # by revenue before (after for new customers): 100, 10, 7.50, 5; staying in a segment is not a movement
    assert [(m["from_segment_id"], m["to_segment_id"]) for m in info["top_movements"]] == [
        ("top", "at_risk"), ("dormant", "steady"), (NEW, "new"), ("steady", LAPSED)]


def test_id_match_names_the_first_shifted_id(small_mart: Params, tmp_path: Path) -> None:
    before = _tiny_mart(small_mart.mart_dir, tmp_path / "before", TINY_BEFORE, R1)
    shifted = [TINY_AFTER[0], ("C000002", "99", D2, "top", 60.25), *TINY_AFTER[2:]]
    after = _tiny_mart(small_mart.mart_dir, tmp_path / "after", shifted, R2)
    with pytest.raises(MigrationError, match=r"1 of 3 customer ids .* C000002: source id 22 → 99"):
        migrate(before, after, params=small_mart, match="id")


def test_migration_json_holds_numbers_ids_and_names_never_sentences(snapshots: Snapshots,
                                                                    changed_flows: pd.DataFrame) -> None:
    """The report words the movements: migration.json has codes, numbers, the params' segment names (and the two
    pseudo-segments' names), and the paths of the two marts."""
    info = json.loads((snapshots.changed.mart_dir / MIGRATION_JSON).read_text())
    marts = {info[side]["mart_dir"] for side in ("before", "after")}
    allowed = configured_text(snapshots.changed) | {NEW_NAME, LAPSED_NAME} | marts
    assert free_text(info, allowed, MIGRATION_JSON) == []
    assert free_text({"sentence": "4 customers moved to At Risk."}, allowed) != []  # the rule does catch one


def test_movement_sentences_follow_the_numbers() -> None:
    def row(f, t, n, before, after, share):
        names = {"top": "Top Customers", "at_risk": "At Risk", NEW: "New (not in before)", LAPSED: "Lapsed"}
        return {"from_segment_id": f, "from_segment_name": names[f], "to_segment_id": t, "to_segment_name": names[t],
                "customers": n, "revenue_before": before, "revenue_after": after, "share_of_from": share}

    def sentence(move: dict) -> str:
        return report_migration.movement_sentence(move, Money.of("USD"))

    assert sentence(row("top", "at_risk", 120, 250_000.0, 250_000.0, 0.25)) == (
        "120 customers (25% of Top Customers) moved to At Risk; they had spent $250.0K in their lifetime, "
        "and they have not bought since.")
    assert "together they have spent $1,500 since" in sentence(row("at_risk", "top", 3, 900.0, 2_400.0, 0.042))
    assert "(4.2% of At Risk)" in sentence(row("at_risk", "top", 3, 900.0, 2_400.0, 0.042))
    assert "has fallen by $200 since (refunds" in sentence(row("at_risk", "top", 3, 900.0, 700.0, 0.042))
    assert "(of At Risk)" in sentence(row("at_risk", "top", 3, 900.0, 700.0, None))
    assert sentence(row(NEW, "top", 1, 0.0, 812.4, 0.5)) == (
        "1 customer new to the file joined Top Customers, with $812 of lifetime spend.")
    assert sentence(row("top", LAPSED, 7, 9_000.0, 0.0, 0.01)) == (
        "7 customers (1.0% of Top Customers) are no longer in the customer file; they had spent $9,000.")
    in_pounds = report_migration.movement_sentence(row("top", LAPSED, 7, 9_000.0, 0.0, 0.01), Money.of("GBP"))
    assert in_pounds.endswith("they had spent £9,000.")


def test_read_migration_notices_a_rebuilt_mart(snapshots: Snapshots, grown_flows: pd.DataFrame, tmp_path: Path) -> None:
    mart = shutil.copytree(snapshots.grown.mart_dir, tmp_path / "mart")
    found = read_migration(mart)
    assert found is not None and found.current and found.before_date == R1.isoformat()
    pd.testing.assert_frame_equal(found.flows, grown_flows)
    _as_if_rebuilt(mart)
    assert not read_migration(mart).current
    assert read_migration(snapshots.before.mart_dir) is None


# --- command line ----------------------------------------------------------------------------------------------


def test_cli_lists_the_migrate_command(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["migrate", "--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    assert all(option in shown for option in ("--before", "--after", "--params", "{id,source}"))


def test_cli_writes_both_files_and_prints_the_totals(snapshots: Snapshots, tmp_path: Path, capsys) -> None:
    after = _copy_without_migration(snapshots.changed.mart_dir, tmp_path / "after")
    code = main(["migrate", "--before", str(snapshots.before.mart_dir), "--after", str(after),
                 "--params", str(snapshots.changed.path), "--match", "source"])
    out = capsys.readouterr()
    assert code == 0 and out.err == ""
    assert f"{NEW_ROWS} new, {DROPPED} lapsed" in out.out
    assert (after / MIGRATION).is_file() and (after / MIGRATION_JSON).is_file()


def _copy_without_migration(mart: Path, target: Path) -> Path:
    """A copy of a mart folder without the migration files (and without them in its manifest)."""
    copy = shutil.copytree(mart, target, ignore=shutil.ignore_patterns(MIGRATION, MIGRATION_JSON))
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest[FILES] = {k: v for k, v in manifest[FILES].items() if k not in (MIGRATION, MIGRATION_JSON)}
    (copy / MANIFEST).write_text(json.dumps(manifest))
    return copy


def _drop_column(mart: Path) -> None:
    table = pq.read_table(mart / CUSTOMERS)
    with publishing(mart, amend=True) as staging:
        pq.write_table(table.drop_columns(["dq_flags"]), staging / CUSTOMERS)


def _set_currency(mart: Path, code: str) -> None:
    """The mart as if its params had said `currency: <code>` (the manifest records it)."""
    manifest = json.loads((mart / MANIFEST).read_text())
    with publishing(mart, amend=True) as staging:
        (staging / MANIFEST).write_text(json.dumps(manifest | {"currency": code}))


@pytest.mark.parametrize("case, expected", [
    ("missing before", "no mart here"),
    ("schemas differ", "schemas differ (only in before: dq_flags)"),
    ("currencies differ", "amounts are in GBP, those of --before"),
    ("dates not increasing", "reference dates are not increasing"),
    ("ids shifted", "--match source"),
    ("segments of other params", "segment 'dormant' is not defined by params"),
])
def test_cli_errors_are_one_line_and_exit_2(snapshots: Snapshots, tmp_path: Path, capsys, case: str,
                                            expected: str) -> None:
    before = snapshots.before.mart_dir
    after = _copy_without_migration(snapshots.changed.mart_dir, tmp_path / "after")
    params, match = snapshots.changed.path, "source"
    if case == "missing before":
        before = tmp_path / "nothing"
    elif case == "schemas differ":
        _drop_column(after)
    elif case == "currencies differ":
        _set_currency(after, "GBP")
    elif case == "dates not increasing":
        before, after = after, before
    elif case == "ids shifted":
        match = "id"
    else:
        params = ROOT / "params" / "rfm11.yaml"
    code = main(["migrate", "--before", str(before), "--after", str(after), "--params", str(params), "--match", match])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and expected in err
    assert not (Path(after) / MIGRATION).exists()


# --- report chapter ----------------------------------------------------------------------------------------------


def test_report_plans_the_migration_chapter_only_for_a_current_migration(
    snapshots: Snapshots, grown_flows: pd.DataFrame, small_mart: Params, tmp_path: Path
) -> None:
    planned = {c.template.name: c for c in plan_chapters(snapshots.grown)}
    chapter = planned[MIGRATION_TEMPLATE]
    assert chapter.title == f"What changed since {R1.isoformat()}" and not chapter.is_segment
    assert chapter.parameters == {"before_mart_dir": str(snapshots.before.mart_dir.resolve())}
    assert [p.name for p in chapter.inputs] == [MIGRATION, MIGRATION_JSON]
    assert MIGRATION_TEMPLATE not in {c.template.name for c in plan_chapters(small_mart)}
    assert MIGRATION_TEMPLATE not in {c.template.name for c in plan_chapters(snapshots.before)}
    copy = load_params(params_copy(snapshots.grown.path, tmp_path, input=snapshots.grown.input_path,
                                   mart_dir=shutil.copytree(snapshots.grown.mart_dir, tmp_path / "mart")))
    key = chapter_key(next(c for c in plan_chapters(copy) if c.template.name == MIGRATION_TEMPLATE), "inputs")
    with publishing(copy.mart_dir, amend=True) as staging:  # another migration, published into the mart
        (staging / MIGRATION_JSON).write_text((copy.mart_dir / MIGRATION_JSON).read_text() + "\n")
    changed = next(c for c in plan_chapters(copy) if c.template.name == MIGRATION_TEMPLATE)
    assert chapter_key(changed, "inputs") != key, "a new migration must re-execute the chapter"
    _as_if_rebuilt(copy.mart_dir)
    assert MIGRATION_TEMPLATE not in {c.template.name for c in plan_chapters(copy)}


def test_report_heatmap_and_tables(snapshots: Snapshots, changed_flows: pd.DataFrame) -> None:
    ctx = load_context(snapshots.changed.path, snapshots.changed.mart_dir)
    first, second = report_migration.heatmap(ctx), report_migration.heatmap(ctx)
    assert first.name == "segment-migration" and first.png.startswith(b"\x89PNG")
    assert first.png == second.png and first.svg == second.svg
    assert snapshots.changed.segment("top").color.lower() in first.svg.lower()

    movements = report_migration.movements(ctx).frame
    assert len(movements) == 5 and movements["Movement"].str.contains(" → ").all()
    top = json.loads((snapshots.changed.mart_dir / MIGRATION_JSON).read_text())["top_movements"]
    assert list(movements["What it means"]) == [report_migration.movement_sentence(m, ctx.money) for m in top]
    assert md_text(movements["What it means"][0]) in report_migration.headline(ctx).text

    sizes = report_migration.segment_changes(ctx).frame
    assert (sizes["After"] == sizes["Stayed"] + sizes["From other segments"] + sizes["New"]).all()
    assert (sizes["Before"] == sizes["Stayed"] + sizes["To other segments"] + sizes["Lapsed"]).all()
    before = read_mart(snapshots.before.mart_dir).customers["segment_id"].value_counts()
    names = {seg.name: seg.id for seg in snapshots.changed.all_segments}
    assert all(before.get(names[row.Segment], 0) == row.Before for row in sizes.itertuples())
    assert f"as of {md_text('2026-10-30')}" in report_migration.method(ctx).text  # Markdown: values escaped
    assert report_migration.headline(ctx).text.startswith(Md("Between **{}** and **{}**").format(R1, R2))


@pytest.mark.slow
def test_migration_chapter_executes_without_errors(snapshots: Snapshots, grown_flows: pd.DataFrame,
                                                   tmp_path: Path) -> None:
    chapter = next(c for c in plan_chapters(snapshots.grown) if c.template.name == MIGRATION_TEMPLATE)
    lines: list[str] = []
    (run_,) = execute_chapters([chapter], params=snapshots.grown, mart_dir=snapshots.grown.mart_dir,
                               out_dir=tmp_path, progress=lines.append)
    nb = nbformat.read(run_.notebook, as_version=4)
    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    assert nb.cells[0].source == f"# {md_text(f'What changed since {R1.isoformat()}')}"  # MyST: the title is text
    figures = [o["metadata"]["segmentation"]["figure"] for o in outputs if "segmentation" in o.get("metadata", {})]
    assert figures == ["segment-migration"]
    assert execute_chapters([chapter], params=snapshots.grown, mart_dir=snapshots.grown.mart_dir, out_dir=tmp_path,
                            progress=lines.append) and lines[-1] == "chapter 08_migration: cached"


# --- dashboard -----------------------------------------------------------------------------------------------------


def test_dashboard_grid_is_the_flows_as_a_matrix(snapshots: Snapshots, grown_flows: pd.DataFrame) -> None:
    data = d.load_dashboard_data(snapshots.grown.mart_dir)
    grid = data.migration
    assert grid is not None and data.migration_note == ""
    assert grid.from_ids == (*[s.id for s in snapshots.grown.all_segments], NEW)
    assert grid.to_ids == (*[s.id for s in snapshots.grown.all_segments], LAPSED)
    for row in grown_flows.itertuples():
        i, j = grid.from_ids.index(row.from_segment_id), grid.to_ids.index(row.to_segment_id)
        assert grid.customers[i, j] == row.customers
        assert grid.revenue_after[i, j] == row.revenue_after
    assert np.isnan(grid.customers[-1, -1]) and np.isnan(grid.customers).sum() == 1
    assert np.allclose(np.nansum(grid.shares, axis=1), 1.0)
    assert grid.colors["top"] == snapshots.grown.segment("top").color


def test_dashboard_heatmap_figure_has_counts_shares_and_segment_colours(snapshots: Snapshots,
                                                                        grown_flows: pd.DataFrame) -> None:
    data = d.load_dashboard_data(snapshots.grown.mart_dir)
    grid = data.migration
    fig = go.Figure(migration_heatmap_figure(grid, data.money))  # validates every property
    heatmap = fig.data[0]
    z = np.array([[np.nan if v is None else v for v in row] for row in heatmap.z], dtype=float)
    assert np.allclose(z, np.round(grid.shares, 4), equal_nan=True)
    assert heatmap.text[0][0] == f"{int(grid.customers[0, 0]):,}" and heatmap.text[-1][-1] == ""
    assert snapshots.grown.segment("top").color in fig.layout.yaxis.ticktext[0]
    assert "Top Customers" in fig.layout.xaxis.ticktext[0]


def _layout_json(app) -> str:
    return json.dumps(app.layout().to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder)


def test_dashboard_shows_the_heatmap_or_how_to_create_it(snapshots: Snapshots, grown_flows: pd.DataFrame,
                                                         small_mart: Params, tmp_path: Path) -> None:
    assert "graph-migration" in _layout_json(create_app(snapshots.grown.mart_dir, params=snapshots.grown))
    missing = _layout_json(create_app(small_mart.mart_dir, params=small_mart))
    assert "graph-migration" not in missing and "python -m segmentation migrate --before" in missing

    mart = shutil.copytree(snapshots.grown.mart_dir, tmp_path / "mart")
    app = create_app(mart)
    _as_if_rebuilt(mart)  # the migration is out of date
    stale = _layout_json(app)
    assert "graph-migration" not in stale and "computed before the mart was rebuilt" in stale
