"""Each params file owns its mart: a mart another params file built is never written over unless `--force` says
so; without `mart_dir` a params file gets a mart folder named after it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from segmentation.cli import main
from segmentation.config.params import load_params
from segmentation.core.errors import MartFolderError
from segmentation.mart.pipeline import run
from segmentation.mart.store import MANIFEST, OWNER_FILE, OWNER_FROM_MART, other_owner
from tests.conftest import ROOT, params_copy
from tests.customer_files import customer_file

DEFAULT = ROOT / "params" / "default.yaml"


def folder_bytes(folder: Path) -> dict[str, bytes | None]:
    """Every entry under a folder, hidden ones too: a file's bytes, None for a folder."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in folder.rglob("*")}


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder (the working folder) with a small customer file and params/default.yaml reading it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params").mkdir()
    data = customer_file(tmp_path, [{}] * 6)
    params_copy(DEFAULT, tmp_path / "params", input=data)
    return tmp_path


def test_a_copy_of_default_yaml_leaves_the_first_mart_byte_for_byte_untouched(project, capsys):
    default = Path("params/default.yaml")
    assert main(["run", "--params", str(default)]) == 0
    mart = project / "data" / "mart"
    before = folder_bytes(mart)
    mine = Path("params/mine.yaml")
    shutil.copy(default, mine)  # mart_dir: data/mart, as in the copy a user makes
    capsys.readouterr()

    for command in (["run", "--params", str(mine)], ["report", "--params", str(mine)]):
        assert main(command) == 2
        err = one_error_line(capsys)
        assert all(part in err for part in (str(mart), f"holds the mart of {default}", f"not of {mine}",
                                            "a mart_dir of its own", "(left out, it is data/mart-mine)",
                                            "--force")), err
        assert folder_bytes(mart) == before

    # --force takes the folder over; then the first params file is the one refused
    assert main(["run", "--params", str(mine), "--force"]) == 0
    assert json.loads((mart / MANIFEST).read_text())["params"]["name"] == "mine"
    capsys.readouterr()
    assert main(["run", "--params", str(default)]) == 2
    assert f"holds the mart of {mine}, not of {default}" in one_error_line(capsys)


def test_the_same_params_file_edited_is_a_normal_rebuild(project, capsys):
    default = project / "params" / "default.yaml"
    assert main(["run", "--params", str(default)]) == 0
    default.write_text(default.read_text().replace("title: ", "title: Edited "), encoding="utf-8")
    capsys.readouterr()
    assert main(["run", "--params", str(default)]) == 0
    out = capsys.readouterr().out
    assert "mart written to" in out and "up to date" not in out


def test_without_mart_dir_each_params_file_gets_its_own_mart_and_switching_costs_no_rebuild(project, capsys):
    default = Path("params/default.yaml")
    raw = default.read_text()
    mine = Path("params/mine.yaml")
    mine.write_text("\n".join(line for line in raw.splitlines() if not line.startswith("mart_dir:")) + "\n")
    assert load_params(mine).mart_dir == project / "data" / "mart-mine"

    for params in (default, mine):
        assert main(["run", "--params", str(params)]) == 0
    capsys.readouterr()
    for params in (default, mine):
        assert main(["run", "--params", str(params)]) == 0
        assert "is up to date" in capsys.readouterr().out
    assert json.loads((project / "data" / "mart-mine" / MANIFEST).read_text())["params"]["name"] == "mine"
    assert json.loads((project / "data" / "mart" / MANIFEST).read_text())["params"]["name"] == "default"


def test_a_moved_project_and_a_copied_mart_keep_their_owner(tmp_path):
    data = customer_file(tmp_path, [{}] * 4)
    first = tmp_path / "first"
    first.mkdir()
    params = load_params(params_copy(DEFAULT, first, input=data, mart_dir="mart"), root=first)
    run(params)
    manifest = json.loads((params.mart_dir / MANIFEST).read_text())
    assert manifest["params"][OWNER_FROM_MART] == "../default.yaml"
    assert manifest["params"][OWNER_FILE] == str(params.path.resolve())

    moved = tmp_path / "moved"
    shutil.copytree(first, moved)  # the whole project: the params file is where it was, seen from the mart
    moved_params = load_params(moved / "default.yaml", root=moved)
    assert other_owner(manifest, moved_params.path, moved / "mart") is None
    assert run(moved_params).skipped  # found up to date: no refusal, no rebuild
    # a copy of the mart folder alone still names the same params file by its absolute path
    assert other_owner(manifest, params.path, tmp_path / "snapshot") is None


def test_a_same_named_params_file_in_another_folder_is_another_owner(tmp_path):
    data = customer_file(tmp_path, [{}] * 4)
    mart = tmp_path / "mart"
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    run(load_params(params_copy(DEFAULT, one, input=data, mart_dir=mart)))
    before = folder_bytes(mart)
    with pytest.raises(MartFolderError, match=re.escape(f"holds the mart of {one / 'default.yaml'}, not of "
                                                        f"{two / 'default.yaml'}")):
        run(load_params(params_copy(DEFAULT, two, input=data, mart_dir=mart)))
    assert folder_bytes(mart) == before


def test_a_mart_from_before_the_owner_record_is_told_apart_by_the_params_name(tmp_path):
    manifest = {"params": {"path": "params/default.yaml", "name": "default", "sha256": "0"}}
    assert other_owner(manifest, Path("elsewhere/default.yaml"), tmp_path) is None
    assert other_owner(manifest, Path("params/mine.yaml"), tmp_path) == "params/default.yaml"
    assert other_owner(None, Path("params/mine.yaml"), tmp_path) is None
