"""`python -m segmentation data`: the project's synthetic files are generated only for params that read them, and
only when missing; a user's own data is never generated, whatever the params file is called."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmentation.cli import main
from segmentation.config.params import load_params
from segmentation.synthetic import generate
from segmentation.synthetic.inputs import (
    PROJECT_CUSTOMERS,
    PROJECT_ORDER_CUSTOMERS,
    PROJECT_ORDERS,
    ProjectInputs,
    missing_project_inputs,
)
from tests.conftest import ROOT, params_copy


def params_in(root: Path, source: str, name: str, **overrides):
    """A copy of a shipped params file, saved as params/<name> under `root`, read with `root` as working folder."""
    folder = root / "params"
    folder.mkdir(exist_ok=True)
    copy = params_copy(ROOT / "params" / source, folder, **overrides)
    path = copy.rename(folder / name)
    return load_params(path, root=root)


def test_the_default_customer_file_is_generated_when_missing_whatever_the_params_file_is_called(tmp_path):
    params = params_in(tmp_path, "default.yaml", "transactions_but_not_really.yaml")
    assert missing_project_inputs(params, tmp_path) == ProjectInputs(tmp_path / PROJECT_CUSTOMERS)
    (tmp_path / PROJECT_CUSTOMERS).parent.mkdir(parents=True)
    (tmp_path / PROJECT_CUSTOMERS).write_text("there")
    assert missing_project_inputs(params, tmp_path) is None


def test_the_orders_and_their_customers_are_generated_together(tmp_path):
    params = params_in(tmp_path, "transactions.yaml", "mine.yaml")
    expected = ProjectInputs(tmp_path / PROJECT_ORDER_CUSTOMERS, tmp_path / PROJECT_ORDERS)
    assert missing_project_inputs(params, tmp_path) == expected
    (tmp_path / PROJECT_ORDERS).mkdir(parents=True)
    assert missing_project_inputs(params, tmp_path) == expected  # the customer file is still missing
    assert missing_project_inputs(params_in(tmp_path, "transactions.yaml", "bare.yaml", input=None), tmp_path) is None
    (tmp_path / PROJECT_ORDER_CUSTOMERS).write_text("there")
    assert missing_project_inputs(params, tmp_path) is None


@pytest.mark.parametrize(("source", "overrides"), [
    ("default.yaml", {"input": "data/raw/my_customers.csv"}),
    ("transactions.yaml", {"transactions": {"path": "data/raw/my_orders.csv"}}),
    ("transactions.yaml", {"input": "data/raw/my_customers.csv"}),  # generated orders belong to generated customers
])
def test_a_users_own_data_is_never_generated(tmp_path, source, overrides):
    assert missing_project_inputs(params_in(tmp_path, source, "transactions.yaml", **overrides), tmp_path) is None


def test_the_data_command_generates_only_what_the_params_read(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    written = []
    monkeypatch.setattr(generate, "write_customers", lambda out, **kw: written.append((out, kw["transactions"])))

    mine = params_in(tmp_path, "default.yaml", "mine.yaml", input="data/raw/mine.csv").path
    assert main(["data", "--params", str(mine)]) == 0
    assert written == [] and capsys.readouterr().out == ""  # `run` reports the missing file

    orders = params_in(tmp_path, "transactions.yaml", "shop.yaml").path
    assert main(["data", "--params", str(orders)]) == 0
    assert written == [(tmp_path / PROJECT_ORDER_CUSTOMERS, tmp_path / PROJECT_ORDERS)]
    assert f"wrote the synthetic customers to {tmp_path / PROJECT_ORDER_CUSTOMERS}" in capsys.readouterr().out
