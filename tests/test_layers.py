"""The package's layers import in one direction only: core → config → mart | synthetic → migration | words | init →
report | dashboard → cli. Within the mart, a stage imports only the I/O modules and the stages before it."""

from __future__ import annotations

import pytest

from segmentation.core.fingerprint import PACKAGE_DIR, _absolute, imported_modules

# Layer of each top-level part of the package; a module may import its own layer or a lower one. Layers of the
# same rank are siblings and never import each other.
LAYERS = {
    "core": 0,
    "config": 1,
    "mart": 2, "synthetic": 2,
    "migration": 3, "words": 3, "init": 3,
    "report": 4, "dashboard": 4,
    "cli": 5,
    "__main__": 6,
}
MART_IO = {"load", "engine", "store"}
MART_FLOW = ["quality", "orders", "ids", "rfm", "scores", "segments", "countries", "summary", "insights", "premium",
             "pipeline"]


def all_modules() -> list[str]:
    """Every module of the package, dotted."""
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        if "sphinx" in parts:  # the report's Sphinx conf.py is a data file, not a module
            continue
        found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def layer(module: str) -> str | None:
    """The top-level part of the package a module belongs to (None for the package's own __init__)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def upward_imports() -> list[str]:
    """Every import that points from a lower layer to a higher or sibling one, as 'importer → imported'."""
    wrong = []
    for module in all_modules():
        here = layer(module)
        for target in imported_modules(module):
            there = layer(target)
            if here is None or there is None or here == there:
                continue
            if LAYERS[there] >= LAYERS[here]:
                wrong.append(f"{module} → {target}")
    return wrong


def test_every_part_of_the_package_has_a_layer() -> None:
    assert {layer(m) for m in all_modules()} - {None} == set(LAYERS)


def test_layers_import_only_downward() -> None:
    assert upward_imports() == []


def test_mart_stages_import_only_io_and_earlier_stages() -> None:
    stages = {m.rsplit(".", 1)[1] for m in all_modules() if layer(m) == "mart" and m.count(".") == 2}
    assert stages == MART_IO | set(MART_FLOW)
    wrong = []
    for stage in stages:
        for target in imported_modules(f"segmentation.mart.{stage}"):
            if layer(target) != "mart" or target == "segmentation.mart":
                continue
            other = target.rsplit(".", 1)[1]
            if other in MART_IO and stage not in MART_IO:
                continue
            if stage in MART_IO and other in MART_IO:
                continue
            if stage in MART_IO or MART_FLOW.index(other) >= MART_FLOW.index(stage):
                wrong.append(f"{stage} → {other}")
    assert wrong == []


def test_the_check_sees_imports_inside_functions() -> None:
    """A late import (the old way round a cycle) counts as much as one at the top."""
    found = imported_modules("segmentation.cli")  # cli imports most of its commands inside functions
    assert "segmentation.report.build" in found and "segmentation.dashboard.app" in found


@pytest.mark.parametrize(("module", "name", "level", "package", "expected"), [
    ("segmentation.mart.quality", "load", 1, False, "segmentation.mart.load"),
    ("segmentation.mart", "store", 1, True, "segmentation.mart.store"),
    ("segmentation.report.figures", "config.params", 2, False, "segmentation.config.params"),
    ("segmentation.mart.ids", "segmentation.core.errors", 0, False, "segmentation.core.errors"),
])
def test_relative_imports_resolve_to_their_module(module, name, level, package, expected) -> None:
    assert _absolute(module, name, level, package) == expected
