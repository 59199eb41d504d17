"""An explicit reference date that leaves customers or orders out says how many, and stops the run (exit 2, the
previous mart kept) when more than `max_excluded_by_reference` of them would go."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segmentation.cli import main
from segmentation.mart.pipeline import run
from segmentation.mart.store import MANIFEST
from tests.conftest import ROOT, params_copy
from tests.customer_files import customer_file, params_for

DEFAULT = ROOT / "params" / "default.yaml"
REFERENCE = "2025-06-02"  # the day after the good row's last purchase (2025-06-01)
LATER = {"last_purchase_date": "2025-07-01"}  # a customer whose purchases fall after the reference date


def folder_bytes(folder: Path) -> dict[str, bytes | None]:
    """Every entry under a folder, hidden ones too: a file's bytes, None for a folder."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in folder.rglob("*")}


@pytest.fixture
def previous(tmp_path) -> tuple[Path, dict[str, bytes | None]]:
    """A mart built from good rows in tmp_path/mart (the params file is tmp_path/default.yaml), and its bytes."""
    run(params_for(tmp_path, customer_file(tmp_path, [{}] * 4)))
    return tmp_path / "mart", folder_bytes(tmp_path / "mart")


def customers_params(tmp_path: Path, later: int, rows: int = 20, **overrides) -> Path:
    """The params file of `previous`, now reading `rows` customers of whom `later` bought after the reference."""
    data = customer_file(tmp_path, [LATER] * later + [{}] * (rows - later))
    settings = {"reference_date": REFERENCE, **overrides}
    return params_copy(DEFAULT, tmp_path, input=data, mart_dir=tmp_path / "mart", **settings)


def stops(capsys, params: Path, *parts: str) -> str:
    """`run` exits 2 with one error line holding every part."""
    assert main(["run", "--params", str(params)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for part in parts:
        assert part in err, (part, err)
    return err


def test_a_share_up_to_the_limit_is_stated_and_the_run_goes_on(tmp_path, capsys, previous):
    params = customers_params(tmp_path, later=1)  # 1 of 20: 5%, the default limit
    assert main(["run", "--params", str(params)]) == 0
    out = capsys.readouterr().out
    assert f"reference date {REFERENCE} excludes 1 of 20 customers (5.0%) whose purchase dates fall on or after it" \
        in out
    assert json.loads((tmp_path / "mart" / MANIFEST).read_text())["rows"]["validated"] == 19


def test_more_than_the_limit_stops_naming_both_settings_and_keeps_the_previous_mart(tmp_path, capsys, previous):
    mart, before = previous
    params = customers_params(tmp_path, later=2)  # 2 of 20: 10%
    stops(capsys, params, str(tmp_path / "customers.csv"),
          f"reference date {REFERENCE} excludes 2 of 20 customers (10.0%) whose purchase dates fall on or after it",
          "more than max_excluded_by_reference (5.0%) allows", f"set a later reference_date in {params}",
          "raise max_excluded_by_reference")
    assert folder_bytes(mart) == before


def test_the_limit_is_a_setting(tmp_path, capsys, previous):
    assert main(["run", "--params", str(customers_params(tmp_path, later=2, max_excluded_by_reference=0.1))]) == 0
    assert "excludes 2 of 20 customers (10.0%)" in capsys.readouterr().out
    stops(capsys, customers_params(tmp_path, later=1, max_excluded_by_reference=0), "excludes 1 of 20 customers",
          "more than max_excluded_by_reference (0.0%) allows")


def test_validate_states_and_stops_the_same_way(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--params", str(customers_params(tmp_path, later=1))]) == 0
    assert "excludes 1 of 20 customers (5.0%)" in capsys.readouterr().out
    assert main(["validate", "--params", str(customers_params(tmp_path, later=3))]) == 2
    assert "max_excluded_by_reference" in capsys.readouterr().err


def test_a_derived_reference_date_excludes_nothing_and_says_nothing(tmp_path, capsys):
    # the default date is the day after the latest plausible purchase: nothing falls after it
    params = customers_params(tmp_path, later=10, reference_date=None)
    assert main(["run", "--params", str(params)]) == 0
    assert "reference date" not in capsys.readouterr().out


def test_a_flagged_date_excludes_no_one(tmp_path, capsys):
    data = customer_file(tmp_path, [LATER] * 5 + [{}] * 5)
    params = params_copy(DEFAULT, tmp_path, input=data, mart_dir=tmp_path / "mart", reference_date=REFERENCE,
                         quality={"dates_after_reference": "flag"})
    assert main(["run", "--params", str(params)]) == 0
    assert "reference date" not in capsys.readouterr().out


def test_rows_another_check_drops_are_not_the_reference_dates(tmp_path, capsys):
    # dated 2099, these customers fail implausible_dates too: they would go whatever the reference date
    data = customer_file(tmp_path, [{"last_purchase_date": "2099-01-01"}] * 3 + [LATER] + [{}] * 19)
    params = params_copy(DEFAULT, tmp_path, input=data, mart_dir=tmp_path / "mart", reference_date=REFERENCE)
    assert main(["run", "--params", str(params)]) == 0  # 4 of 23 would be 17.4%
    assert f"reference date {REFERENCE} excludes 1 of 20 customers (5.0%)" in capsys.readouterr().out


# --- orders -------------------------------------------------------------------------------------------------------

ORDERS_REFERENCE = "2026-04-01"


def orders_params(tmp_path: Path, rows: list[tuple[str, str]], **overrides) -> Path:
    """Params reading an orders table of (customer id, date) rows, each order worth 10.00, mart in tmp_path/mart."""
    orders = tmp_path / "orders.csv"
    lines = [f"{i},{cid},{day},10.00" for i, (cid, day) in enumerate(rows, start=1)]
    orders.write_text("\n".join(["order_id,customer_id,order_date,order_value", *lines]) + "\n")
    settings = {"reference_date": ORDERS_REFERENCE, **overrides}
    return params_copy(DEFAULT, tmp_path, input=None, transactions={"path": str(orders)}, mart_dir=tmp_path / "mart",
                       **settings)


def before_reference(customers: int) -> list[tuple[str, str]]:
    """Two orders before the reference date for each of `customers` customers (C00, C01, …)."""
    return [(f"C{i:02}", day) for i in range(customers) for day in ("2026-01-10", "2026-03-10")]


def test_orders_up_to_the_limit_are_stated_with_the_customers_they_leave_out(tmp_path, capsys, previous):
    # 20 customers with 40 orders before the date; C00 has one more after it: 1 of 41 orders (2.4%), no customer
    params = orders_params(tmp_path, [*before_reference(20), ("C00", "2026-04-15")])
    assert main(["run", "--params", str(params)]) == 0
    out = capsys.readouterr().out
    assert f"reference date {ORDERS_REFERENCE} excludes 1 of 41 orders (2.4%) dated on or after it" in out
    assert not [line for line in out.splitlines() if "excludes" in line and "customers" in line]  # no one lost


def test_orders_another_check_drops_are_not_the_reference_dates(tmp_path, capsys):
    # dated 2999, these orders are order_date_in_future's: they would go whatever the reference date
    params = orders_params(tmp_path, [*before_reference(10), *[("C01", "2999-01-01")] * 4, ("C00", "2026-04-15")])
    assert main(["run", "--params", str(params)]) == 0  # 5 of 25 would be 20%
    assert f"reference date {ORDERS_REFERENCE} excludes 1 of 21 orders (4.8%)" in capsys.readouterr().out


def test_too_many_orders_stop_before_the_roll_up(tmp_path, capsys, previous):
    mart, before = previous
    # 3 of 23 orders (13.0%) fall after the date, all of customers that keep earlier orders
    params = orders_params(tmp_path, [*before_reference(10), *[("C00", "2026-04-15")] * 3])
    stops(capsys, params, str(tmp_path / "orders.csv"),
          f"reference date {ORDERS_REFERENCE} excludes 3 of 23 orders (13.0%) dated on or after it",
          "max_excluded_by_reference", "reference_date")
    assert folder_bytes(mart) == before


def test_customers_whose_every_order_falls_after_the_date_count_too(tmp_path, capsys, previous):
    mart, before = previous
    # 1 of 21 orders (4.8%) is within the limit, but it is N's only order: 1 of 11 customers (9.1%) would go
    params = orders_params(tmp_path, [*before_reference(10), ("N", "2026-05-01")])
    stops(capsys, params, str(tmp_path / "orders.csv"),
          f"reference date {ORDERS_REFERENCE} excludes 1 of 11 customers (9.1%) whose orders all fall on or after it",
          "max_excluded_by_reference")
    assert folder_bytes(mart) == before

    allowed = orders_params(tmp_path, [*before_reference(10), ("N", "2026-05-01")], max_excluded_by_reference=0.1)
    assert main(["run", "--params", str(allowed)]) == 0
    out = capsys.readouterr().out
    assert "excludes 1 of 21 orders (4.8%) dated on or after it" in out
    assert "excludes 1 of 11 customers (9.1%) whose orders all fall on or after it" in out
