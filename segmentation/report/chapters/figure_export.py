"""The figures of executed chapters, written to the report's figures folder as PNG and SVG in one publish."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import nbformat

from segmentation.core import atomic


def figure_outputs(notebook: Path) -> Iterable[tuple[str, bytes, str]]:
    """The figures in an executed chapter: (name, PNG bytes, SVG text) of every output a figure function made."""
    import base64

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("segmentation", {}).get("figure")
            if name and "image/png" in output.get("data", {}):
                svg = output["data"].get("image/svg+xml", "")
                svg = "".join(svg) if isinstance(svg, list) else svg
                yield name, base64.b64decode(output["data"]["image/png"]), svg


def publish_figures(notebooks: Iterable[Path], figures_dir: Path) -> list[Path]:
    """Write every figure of the report to `figures_dir` as PNG and SVG; remove figures no chapter makes anymore.

    One unit (segmentation.core.atomic): a stopped or killed run leaves the folder wholly old or wholly new. Only
    changed figures are written, so unchanged ones keep their mtimes; nothing changed, nothing is touched.
    """
    figures_dir.mkdir(parents=True, exist_ok=True)
    atomic.recover(figures_dir)  # finish a publish a killed run committed before comparing with the folder
    wanted: dict[str, bytes] = {}
    for notebook in notebooks:
        for name, png, svg in figure_outputs(notebook):
            wanted[f"{name}.png"] = png
            wanted[f"{name}.svg"] = svg.encode("utf-8")
    changed = {name: data for name, data in wanted.items() if not _holds(figures_dir / name, data)}
    stale = sorted(p.name for p in [*figures_dir.glob("*.png"), *figures_dir.glob("*.svg")] if p.name not in wanted)
    if changed or stale:
        with atomic.publishing(figures_dir, remove=stale) as staging:
            for name, data in changed.items():
                (staging / name).write_bytes(data)
    return sorted(figures_dir / name for name in wanted)


def _holds(path: Path, data: bytes) -> bool:
    """True when the file exists and holds exactly these bytes."""
    return path.is_file() and path.read_bytes() == data
