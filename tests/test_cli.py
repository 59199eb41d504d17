"""The command line: subcommands listed, the pipeline module entry point, generate, progress on stdout."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from segmentation.cli import main
from tests.conftest import ROOT, params_copy
from tests.customer_files import customer_file


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT)


def test_help_lists_every_subcommand():
    result = run_module("segmentation", "--help")
    assert result.returncode == 0
    for command in ("generate", "init", "data", "validate", "rules", "run", "report", "dashboard"):
        assert command in result.stdout


def test_run_builds_the_mart_and_reports_stages(tmp_path, small_csv):
    params = params_copy(ROOT / "params" / "default.yaml", tmp_path, input=small_csv, mart_dir=tmp_path / "mart")
    result = run_module("segmentation", "run", "--params", str(params))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for stage in ("validate", "scores", "segments", "summary"):
        assert f"  {stage}" in result.stdout
    assert (tmp_path / "mart" / "customer_segments.parquet").exists()
    again = run_module("segmentation", "run", "--params", str(params))
    assert "up to date" in again.stdout


def test_generate_writes_the_requested_rows_deterministically(tmp_path, capsys):
    out = tmp_path / "raw" / "c.csv"
    assert main(["generate", "--rows", "500", "--seed", "3", "--out", str(out)]) == 0
    first = out.read_bytes()
    assert main(["generate", "--rows", "500", "--seed", "3", "--out", str(out)]) == 0
    assert out.read_bytes() == first
    assert len(pd.read_csv(out)) == 500
    assert (tmp_path / "raw" / "c_metadata.json").exists()
    assert "wrote 500 customers" in capsys.readouterr().out


def test_validate_command_prints_each_check(tmp_path, small_csv, capsys, monkeypatch):
    params = params_copy(ROOT / "params" / "default.yaml", tmp_path, input=small_csv, mart_dir=tmp_path / "mart")
    monkeypatch.chdir(tmp_path)  # the review goes to build/validate/<params name>/ under the working folder
    assert main(["validate", "--params", str(params)]) == 0
    out = capsys.readouterr().out
    assert "duplicate_ids" in out and "kept and flagged" in out
    assert (tmp_path / "build" / "validate" / "default" / "data_quality.json").exists()
    assert not (tmp_path / "mart").exists()  # validate never writes the mart


def test_bad_arguments_are_rejected_by_argparse(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--rows", "0"])
    assert exc.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_debug_is_accepted_after_the_command_too(tmp_path):
    bad = customer_file(tmp_path, [{}, {"credit_score": "excellent"}])  # unparsable_values: fail
    params = params_copy(ROOT / "params" / "default.yaml", tmp_path, input=bad, mart_dir=tmp_path / "mart")
    plain = run_module("segmentation", "run", "--params", str(params))
    assert plain.returncode == 2 and plain.stderr.count("\n") == 1 and "Traceback" not in plain.stderr
    debug = run_module("segmentation", "run", "--params", str(params), "--debug")
    assert debug.returncode == 2 and "Traceback" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1] == plain.stderr.strip()
    assert main(["--debug", "rules", str(params), "--debug"]) == 0  # both places at once are fine too
