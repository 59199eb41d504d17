"""The package installed as a wheel (not editable) still runs: its data files ship, and `report` finds the
chapters through the params' `chapters` setting, not through the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import segmentation

ROOT = Path(__file__).resolve().parents[1]
ROWS = 1_500


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package installed from this checkout into a folder of its own, as `pip install .` would."""
    target = tmp_path_factory.mktemp("site-packages")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(ROOT)],
                   check=True, capture_output=True, text=True, timeout=600)
    return target


def run_installed(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m segmentation ARGS` importing the installed copy only (the checkout is not on the path)."""
    env = {**os.environ, "PYTHONPATH": str(installed)}
    return subprocess.run([sys.executable, "-m", "segmentation", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=1200)


@pytest.mark.slow
def test_the_wheel_holds_the_data_files_and_one_version(installed: Path) -> None:
    package = installed / "segmentation"
    for data in ("config/reference/synthetic_customers_metadata.json", "report/sphinx/conf.py",
                 "report/sphinx/index.md", "report/sphinx/print.css", "report/sphinx/_static/report.css",
                 "dashboard/assets/dashboard.css", "dashboard/assets/topojson/world_110m.json"):
        assert (package / data).is_file(), data
    (dist,) = metadata.distributions(path=[str(installed)])
    assert dist.version == segmentation.__version__


@pytest.mark.slow
def test_an_installed_package_builds_the_report_from_a_project_folder(installed: Path, tmp_path: Path) -> None:
    project = tmp_path / "store"
    project.mkdir()
    (project / "params").mkdir()
    (project / "params" / "default.yaml").write_bytes((ROOT / "params" / "default.yaml").read_bytes())
    where = subprocess.run([sys.executable, "-c", "import segmentation; print(segmentation.__file__)"], cwd=project,
                           env={**os.environ, "PYTHONPATH": str(installed)}, capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()).is_relative_to(installed)

    generated = run_installed(installed, project, "generate", "--rows", str(ROWS), "--out",
                              "data/raw/synthetic_customers.csv")
    assert generated.returncode == 0, generated.stderr

    missing = run_installed(installed, project, "report", "--params", "params/default.yaml")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: ") and "chapters" in missing.stderr and missing.stderr.count("\n") == 1

    (project / "chapters").mkdir()
    for template in (ROOT / "chapters").glob("*.ipynb"):
        (project / "chapters" / template.name).write_bytes(template.read_bytes())
    built = run_installed(installed, project, "report", "--params", "params/default.yaml")
    assert built.returncode == 0, built.stderr
    assert (project / "build" / "report" / "default" / "site" / "index.html").is_file()
    assert (project / "build" / "report" / "default" / "default.pdf").stat().st_size > 0
