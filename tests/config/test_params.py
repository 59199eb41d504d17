"""Params lint: unknown keys, bad types, empty or inverted ranges, unreachable rules; shipped files load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from segmentation.config.params import load_params
from segmentation.config.rules import coverage, score_cube, winner
from segmentation.core.errors import ParamsError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "params" / "default.yaml"


def edited(tmp_path: Path, change) -> Path:
    """A copy of default.yaml after `change(raw)` edits its parsed mapping."""
    raw = yaml.safe_load(DEFAULT.read_text())
    change(raw)
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.parametrize("name", ["default.yaml", "rfm11.yaml"])
def test_shipped_params_load_and_every_segment_wins_cells(name):
    params = load_params(ROOT / "params" / name)
    table = coverage(params)
    assert (table["cells_won"] > 0).all()
    assert table["cells_won"].sum() == params.bins**3
    assert len({s.color for s in params.all_segments}) == len(params.all_segments)


def test_rfm11_has_the_eleven_classic_segments_in_order():
    params = load_params(ROOT / "params" / "rfm11.yaml")
    assert [s.name for s in params.all_segments] == [
        "Champions", "Loyal Customers", "Can't Lose Them", "At Risk", "Potential Loyalist", "New Customers",
        "Promising", "Need Attention", "About To Sleep", "Hibernating", "Lost",
    ]


def test_first_matching_rule_wins():
    params = load_params(DEFAULT)
    assert winner(params.all_segments, 5, 5, 5).id == "top"
    assert winner(params.all_segments, 1, 5, 5).id == "at_risk"
    assert winner(params.all_segments, 5, 1, 5).id == "new"
    assert winner(params.all_segments, 3, 3, 3).id == "steady"
    cube = score_cube(params)
    assert len(cube) == 125 and cube.query("r == 5 and f == 5 and m == 5").segment_id.item() == "top"


def swap_first_two(raw):
    raw["segments"][0], raw["segments"][1] = raw["segments"][1], raw["segments"][0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw["segments"][0].update(colour="#000000"), "segment 'top': unknown key 'colour'"),
        (lambda raw: raw.update(bins=4), "top level: unknown key 'bins'"),
        (lambda raw: raw["segments"][1].update(r=[2, 1]), "segment 'at_risk': key 'r' range [2, 1] is inverted"),
        (lambda raw: raw["segments"][1].update(f=[0, 6]), "segment 'at_risk': key 'f' range [0, 6] is outside"),
        (lambda raw: raw["segments"][1].update(m=[]), "segment 'at_risk': key 'm' must be two whole numbers"),
        (lambda raw: raw["segments"][1].update(m="high"), "segment 'at_risk': key 'm' must be two whole numbers"),
        (lambda raw: raw["segments"][2].pop("r"), "segment 'new': key 'r' is required"),
        (lambda raw: raw["segments"][2].update(actions=["only one"]), "segment 'new': key 'actions' must list 2 to 3"),
        (lambda raw: raw["segments"][3].update(id="top"), "segment 'top': key 'id' is used twice"),
        (lambda raw: raw["scores"].update(bins="five"), "scores: key 'bins' must be a whole number"),
        (lambda raw: raw["quality"].update(out_of_range="ignore"),
         "quality: key 'out_of_range' must be one of fail, drop, flag"),
        (lambda raw: raw["quality"].update(typo_check="drop"), "quality: unknown key 'typo_check'"),
        (lambda raw: raw.pop("fallback"), "key 'fallback' is required"),
        (lambda raw: raw.update(reference_date="yesterday"), "key 'reference_date' must be an ISO date"),
        (lambda raw: raw["engine"].update(memory_limit="lots"), "engine: key 'memory_limit' must look like '3GB'"),
        (lambda raw: raw["engine"].update(threads=0), "engine: key 'threads' must be a whole number"),
        (lambda raw: raw["engine"].update(name="flink"),
         "engine: key 'name' must be one of duckdb, spark, got 'flink'"),
        (lambda raw: raw["engine"].update(spark_master="localhost"),
         "engine: key 'spark_master' must be a Spark master URL"),
        (lambda raw: raw["engine"].update(spark_url="sc://x"), "engine: unknown key 'spark_url'"),
        (lambda raw: raw.update(max_excluded_by_reference="5%"),
         "key 'max_excluded_by_reference' must be a share: a number in [0, 1], e.g. 0.05 for 5%, got '5%'"),
        (lambda raw: raw.update(max_excluded_by_reference=5), "key 'max_excluded_by_reference' must be a share"),
        (lambda raw: raw.update(max_excluded_by_reference=-0.1), "key 'max_excluded_by_reference' must be a share"),
        (lambda raw: raw.update(max_excluded_by_reference=True), "key 'max_excluded_by_reference' must be a share"),
        (lambda raw: raw.update(max_excluded_by_reference=float("nan")),
         "key 'max_excluded_by_reference' must be a share"),
        # a catch-all rule first leaves nothing for the rules after it
        (lambda raw: raw["segments"].insert(0, {**raw["segments"][0], "id": "all",
                                                "r": [1, 5], "f": [1, 5], "m": [1, 5]}),
         "segment 'top': can never match"),
        (lambda raw: raw["segments"].append({**raw["segments"][0], "id": "late",
                                             "r": [4, 5], "f": [4, 5], "m": [5, 5]}),
         "segment 'late': can never match"),
    ],
)
def test_lint_names_file_segment_and_key(tmp_path, change, message):
    path = edited(tmp_path, change)
    with pytest.raises(ParamsError) as err:
        load_params(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_fallback_that_can_never_match_is_an_error(tmp_path):
    path = edited(tmp_path, lambda raw: raw["segments"].append(
        {**raw["segments"][0], "id": "rest", "r": [1, 5], "f": [1, 5], "m": [1, 5]}))
    with pytest.raises(ParamsError, match="fallback: can never match"):
        load_params(path)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ParamsError, match="cannot read params file"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("segments: [\n")
    with pytest.raises(ParamsError, match="not valid YAML at line"):
        load_params(bad)


def test_an_earlier_narrower_rule_takes_its_cells_first(tmp_path):
    path = edited(tmp_path, lambda raw: raw["segments"].insert(
        0, {**raw["segments"][0], "id": "vip", "r": [5, 5], "f": [5, 5], "m": [5, 5]}))
    params = load_params(path)
    assert winner(params.all_segments, 5, 5, 5).id == "vip"
    assert winner(params.all_segments, 4, 5, 5).id == "top"
    assert coverage(params).set_index("segment_id").loc["top", "cells_won"] == 7


@pytest.mark.parametrize("title", [None, "", "   ", 42])
def test_title_must_be_text(tmp_path, title):
    with pytest.raises(ParamsError, match="key 'title' must be a non-empty text"):
        load_params(edited(tmp_path, lambda raw: raw.update(title=title)))


def test_title_is_one_line(tmp_path):
    params = load_params(edited(tmp_path, lambda raw: raw.update(title="Spring\n```{include} /etc/passwd\n```")))
    assert params.title == "Spring ```{include} /etc/passwd ```"


def test_currency_defaults_to_usd_and_reads_any_case(tmp_path):
    assert load_params(DEFAULT).currency == "USD"
    assert load_params(edited(tmp_path, lambda raw: raw.update(currency="GBP"))).currency == "GBP"
    assert load_params(edited(tmp_path, lambda raw: raw.update(currency=" jpy "))).currency == "JPY"


@pytest.mark.parametrize("currency", ["XYZ", "£", "pounds", "", None, 826, ["GBP"]])
def test_unknown_currency_is_one_line_naming_key_and_example(tmp_path, currency):
    path = edited(tmp_path, lambda raw: raw.update(currency=currency))
    with pytest.raises(ParamsError) as failure:
        load_params(path)
    message = str(failure.value)
    assert message == (f"{path}: key 'currency' must be an ISO 4217 currency code such as USD, GBP or EUR, "
                       f"got {currency!r}")
    assert "\n" not in message


def test_the_share_a_reference_date_may_exclude_defaults_to_five_percent(tmp_path):
    assert load_params(DEFAULT).max_excluded_by_reference == 0.05
    for share in (0, 0.2, 1):
        params = load_params(edited(tmp_path, lambda raw, share=share: raw.update(max_excluded_by_reference=share)))
        assert params.max_excluded_by_reference == share


def test_without_mart_dir_the_mart_is_named_after_the_params_file(tmp_path):
    raw = yaml.safe_load(DEFAULT.read_text())
    raw.pop("mart_dir")
    path = tmp_path / "params" / "mine.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert load_params(path, root=tmp_path).mart_dir == tmp_path / "data" / "mart-mine"
    assert load_params(DEFAULT, root=tmp_path).mart_dir == tmp_path / "data" / "mart"  # explicit: kept as written
