"""The mart end to end: values against an independent pandas computation, ids, determinism, outputs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.config.params import load_params
from segmentation.config.rules import winner
from segmentation.mart.pipeline import MART_COLUMNS, run
from segmentation.mart.store import CUSTOMERS, MART_FILES, SUMMARY, read_mart
from tests.conftest import ROOT, configured_text, free_text, params_copy


@pytest.fixture(scope="module")
def mart(small_mart):
    return read_mart(small_mart.mart_dir)


@pytest.fixture(scope="module")
def source(small_csv):
    return pd.read_csv(small_csv, dtype={"customer_id": str}, parse_dates=["first_purchase_date", "last_purchase_date"])


def test_mart_has_one_row_per_input_row_and_the_documented_columns(mart, source):
    customers = mart.customers
    assert list(customers.columns) == list(MART_COLUMNS)
    assert len(customers) == len(source)  # the generator writes clean data: nothing dropped
    assert customers["customer_id"].is_unique
    assert customers["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert not {"name", "email"} & set(customers.columns)
    assert customers["customer_id"].is_monotonic_increasing


def test_rfm_values_match_an_independent_computation(mart, source):
    ref = source["last_purchase_date"].max() + pd.Timedelta(days=1)
    assert mart.manifest["reference_date"] == ref.date().isoformat()
    expected = pd.DataFrame({
        "source_customer_id": source["customer_id"],
        "first_purchase_date": source["first_purchase_date"].dt.date,
        "total_spent": source["total_spent"],
        "recency_days": (ref - source["last_purchase_date"]).dt.days,
        "frequency": np.maximum(1, np.floor(source["total_spent"] / source["avg_order_value"] + 0.5)).astype(int),
    })
    key = ["source_customer_id", "first_purchase_date", "total_spent"]
    got = mart.customers[key + ["recency_days", "frequency", "monetary"]]
    merged = expected.merge(got, on=key, how="outer", validate="one_to_one", indicator=True)
    assert (merged["_merge"] == "both").all()
    assert (merged["recency_days_x"] == merged["recency_days_y"]).all()
    assert (merged["frequency_x"] == merged["frequency_y"]).all()
    assert (merged["monetary"] == merged["total_spent"]).all()


def test_recorded_cutoffs_are_the_quantiles_and_segments_follow_the_rules(mart, small_mart):
    # the scores themselves have known-value tests in test_scores.py
    c = mart.customers
    cuts = mart.manifest["score_cutoffs"]
    values = {"r": -c["recency_days"], "f": c["frequency"], "m": c["monetary"]}
    for dim, value in values.items():
        np.testing.assert_allclose(cuts[dim], np.quantile(value, [k / 5 for k in range(1, 5)]))
    rule = {(r, f, m): winner(small_mart.all_segments, r, f, m).id
            for r, f, m in c[["r_score", "f_score", "m_score"]].drop_duplicates().itertuples(index=False)}
    assert (c.apply(lambda row: rule[(row.r_score, row.f_score, row.m_score)], axis=1) == c["segment_id"]).all()


def test_premium_never_decides_the_segment(mart):
    c = mart.customers
    by_cell = c.groupby("rfm_code")["segment_id"].nunique()
    assert (by_cell == 1).all()  # same scores, same segment, whatever the subscription


def test_new_ids_follow_first_purchase_chronology(mart):
    c = mart.customers
    assert c["first_purchase_date"].is_monotonic_increasing  # sorted by id == sorted by first purchase
    assert c["source_customer_id"].duplicated().any()  # the source ids repeat; the new ones do not


def test_same_file_in_any_row_order_gets_the_same_mart(tmp_path, small_csv, mart):
    shuffled = pd.read_csv(small_csv, dtype=str, keep_default_na=False).sample(frac=1, random_state=3)
    path = tmp_path / "shuffled.csv"
    shuffled.to_csv(path, index=False)
    params = load_params(params_copy(ROOT / "params" / "default.yaml", tmp_path, input=path, mart_dir=tmp_path / "m"))
    run(params)
    again = pd.read_parquet(tmp_path / "m" / CUSTOMERS)
    pd.testing.assert_frame_equal(again, mart.customers)


def test_rerun_is_byte_identical_and_an_unchanged_rerun_is_skipped(tmp_path, small_mart):
    params = replace(small_mart, mart_dir=tmp_path / "again")
    run(params)
    for name in MART_FILES:
        if name != "manifest.json":  # the manifest holds timings
            assert (tmp_path / "again" / name).read_bytes() == (small_mart.mart_dir / name).read_bytes(), name
    first = json.loads((tmp_path / "again" / "manifest.json").read_text())
    second = run(params)
    assert second.skipped and second.manifest == first
    assert not run(params, force=True).skipped


def test_summary_shares_kpis_and_traits(mart, small_mart):
    s, c = mart.summary, mart.customers
    assert s["segment_id"].tolist() == [seg.id for seg in small_mart.all_segments]
    assert s["customers"].sum() == len(c)
    assert s["customer_share"].sum() == pytest.approx(1)
    assert s["revenue_share"].sum() == pytest.approx(1)
    top = s.set_index("segment_id").loc["top"]
    in_top = c[c.segment_id == "top"]
    assert top["customers"] == len(in_top)
    assert top["avg_monetary"] == pytest.approx(in_top["monetary"].mean())
    assert top["delta_avg_monetary"] == pytest.approx(in_top["monetary"].mean() / c["monetary"].mean() - 1)
    assert top["premium_rate"] == pytest.approx(in_top["subscription"].mean())
    assert top["avg_order_value"] == pytest.approx(in_top["monetary"].sum() / in_top["frequency"].sum())
    assert "key_traits" not in s.columns  # traits are numbers: the report and the dashboard word them
    traits = list(zip(top["trait_features"], top["trait_effects"], top["trait_values"], top["trait_rest_values"]))
    assert len(traits) == 5
    rest = c[c.segment_id != "top"]
    for feature, effect, value, rest_value in traits:
        field, _, level = feature.partition("=")
        if level:  # a category level: the share of the segment (and of the rest) in it
            a, b = (in_top[field] == level).astype(float), (rest[field] == level).astype(float)
        else:  # a yes/no field (share of yes) or a number (mean); Cohen's d for numbers
            a, b = in_top[field].astype(float), rest[field].astype(float)
        assert value == pytest.approx(a.mean()) and rest_value == pytest.approx(b.mean()), feature
        if not level and field not in ("subscription", "marketing_opt_in"):
            pooled = np.sqrt(((len(a) - 1) * a.var() + (len(b) - 1) * b.var()) / (len(a) + len(b) - 2))
            assert effect == pytest.approx((a.mean() - b.mean()) / pooled, rel=1e-5), feature
        else:  # Cohen's h of the two shares
            h = 2 * np.arcsin(np.sqrt(a.mean())) - 2 * np.arcsin(np.sqrt(b.mean()))
            assert effect == pytest.approx(h, abs=1e-6), feature
    assert list(top["actions"]) == list(small_mart.segment("top").actions)


def test_insights_numbers_match_pandas(mart):
    c = mart.customers
    found = {i["id"]: i for i in mart.insights["insights"]}
    assert set(found) == {"revenue_concentration", "recency_split", "at_risk_value", "premium_uplift"}
    money = np.sort(c["monetary"].to_numpy())[::-1]
    conc = found["revenue_concentration"]["numbers"]
    assert conc["top_20pct_share"] == pytest.approx(money[: int(np.ceil(len(money) * 0.2))].sum() / money.sum())
    asc = money[::-1]
    gini = 1 - 2 * np.sum(np.cumsum(asc) / asc.sum()) / len(asc) + 1 / len(asc)
    assert conc["gini"] == pytest.approx(gini)
    lapsed = c[(c.r_score <= 2) & (c.f_score >= 3) & (c.m_score >= 3)]
    risk = found["at_risk_value"]["numbers"]
    assert risk["customers"] == len(lapsed)
    assert risk["revenue_share"] == pytest.approx(lapsed["monetary"].sum() / c["monetary"].sum())
    assert risk["median_recency_days"] == pytest.approx(lapsed["recency_days"].median())
    assert (risk["r_score_max"], risk["f_score_min"], risk["m_score_min"]) == (2, 3, 3)
    recent = c[c.r_score >= 4]
    split = found["recency_split"]["numbers"]
    assert (split["r_score_min"], split["frequent_f_score_min"], split["low_frequency_f_score_max"]) == (4, 4, 2)
    assert split["recent_customers"] == len(recent)
    assert split["frequent_share"] == pytest.approx((recent.f_score >= 4).mean())
    assert split["low_frequency_revenue"] == pytest.approx(recent.loc[recent.f_score <= 2, "monetary"].sum())
    for item in found.values():  # an id and numbers: the report words them
        assert set(item) == {"id", "numbers"}


def test_premium_uplift_is_reported_with_an_interval(mart):
    numbers = next(i for i in mart.insights["insights"] if i["id"] == "premium_uplift")["numbers"]
    money = numbers["monetary"]
    assert money["ci_low"] <= money["ratio"] <= money["ci_high"]
    assert money["meaningful"] == (not money["ci_low"] <= 1 <= money["ci_high"])


def test_rfm11_mart_uses_its_own_segments(small_mart_rfm11):
    summary = pd.read_parquet(Path(small_mart_rfm11.mart_dir) / SUMMARY)
    assert len(summary) == 11 and summary["segment_name"].iloc[-1] == "Lost"


def test_mart_files_hold_numbers_ids_and_codes_never_sentences(mart, small_mart):
    """Stage code writes numbers; the report and the dashboard write words. Every string a stage writes into the
    mart's JSON files is a code (no spaces) or text the configuration gave it; the input rows quoted as
    data-quality examples are the input's own values and are left out."""
    allowed = configured_text(small_mart)
    quality = {**mart.quality, "checks": [{k: v for k, v in c.items() if k != "examples"}
                                          for c in mart.quality["checks"]]}
    for name, content in (("insights.json", mart.insights), ("data_quality.json", quality),
                          ("manifest.json", mart.manifest)):
        assert free_text(content, allowed, name) == []
    assert all(set(c) == {"id", "description", "fields", "policy", "count", "examples"}
               for c in mart.quality["checks"])
    # the summary's text columns: params values, and trait feature codes whose level is a value of the input
    summary, customers = mart.summary, mart.customers
    text_columns = {c for c in summary.columns if summary[c].map(lambda v: isinstance(v, str)).any()}
    assert text_columns == {"segment_id", "segment_name", "description", "color"}
    segments = {seg.id: seg for seg in small_mart.all_segments}
    for row in summary.to_dict("records"):
        seg = segments[row["segment_id"]]
        assert (row["segment_name"], row["description"], row["color"]) == (seg.name, seg.description, seg.color)
        assert (list(row["actions"]), list(row["risks"])) == (list(seg.actions), list(seg.risks))
        for feature in row["trait_features"]:
            field, _, level = feature.partition("=")
            assert field in customers.columns and (not level or level in set(customers[field].astype(str))), feature
        assert all(isinstance(v, float) for v in [*row["trait_values"], *row["trait_rest_values"]])
