"""Rule precedence on a hand-built params file: the first rule in file order whose ranges hold the cell wins."""

from __future__ import annotations

import pytest

from segmentation.config.params import load_params, winner
from segmentation.config.rules import coverage
from tests.overlapping_rules import EXPECTED, write_params


@pytest.mark.parametrize(("cell", "segment_id"), EXPECTED.items(), ids=[str(c) for c in EXPECTED])
def test_first_matching_rule_in_file_order_wins(tmp_path, cell, segment_id):
    params = load_params(write_params(tmp_path))
    assert winner(params.all_segments, *cell).id == segment_id


def test_moving_a_rule_up_takes_the_overlap_from_the_rules_after_it(tmp_path):
    params = load_params(write_params(tmp_path, order=("best", "loyal", "recent", "big")))
    assert winner(params.all_segments, 3, 3, 1).id == "loyal"
    assert winner(params.all_segments, 2, 3, 3).id == "loyal"
    assert winner(params.all_segments, 2, 1, 3).id == "recent"  # F below loyal's range
    assert winner(params.all_segments, 3, 3, 3).id == "best"


def test_cells_won_per_rule(tmp_path):
    # 27 cells: best 2 (R3 F3 M2-3); recent 18 - 2 = 16; loyal R1 F2-3 = 6; big 1; other R1 F1 M1-2 = 2
    table = coverage(load_params(write_params(tmp_path))).set_index("segment_id")
    assert table["cells_claimed"].to_dict() == {"best": 2, "recent": 18, "loyal": 18, "big": 1, "other": 27}
    assert table["cells_won"].to_dict() == {"best": 2, "recent": 16, "loyal": 6, "big": 1, "other": 2}
