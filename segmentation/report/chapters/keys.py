"""Cache keys: a chapter is re-executed only when its key changes.

The key covers everything its output depends on: the template, the params file, the mart files, the segment id,
the files the chapter reads beyond the mart, and the source of the code chapters run (a figure function changed →
the figures change).
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import nbformat

import segmentation
from segmentation.config.params import Params
from segmentation.core.fingerprint import fingerprint
from segmentation.mart.store import MART_FILES, file_sha256
from segmentation.report.chapters.plan import Chapter

PACKAGE_DIR = Path(segmentation.__file__).resolve().parent
IMPORT_ROOT = PACKAGE_DIR.parent  # kernels import this very package (a checkout, or site-packages)


def inputs_digest(params: Params, mart_dir: Path) -> str:
    """Hash of what every chapter depends on: params file, mart files and the package source."""
    digest = hashlib.sha256()
    digest.update(params.sha256.encode())
    for name in MART_FILES:
        digest.update(name.encode())
        digest.update(file_sha256(mart_dir / name).encode())
    digest.update(chapter_code_digest(sorted(params.chapters_dir.glob("*.ipynb"))).encode())
    return digest.hexdigest()


def chapter_code_digest(templates: Iterable[Path]) -> str:
    """Hash of the code chapter kernels run: the package modules the templates import, and everything those import.

    Only that code (not the build machinery: a change to the PDF layout re-executes nothing).
    """
    return fingerprint(sorted(template_imports(templates)))


def template_imports(templates: Iterable[Path]) -> set[str]:
    """The `segmentation` modules the code cells of these notebooks import."""
    modules: set[str] = set()
    for template in templates:
        for cell in nbformat.read(template, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:  # a cell with IPython magics: no imports of ours to find there
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules.update(a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module:
                    modules.add(node.module)
                    modules.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in modules if m.split(".")[0] == "segmentation" and _is_module(m)}


def _is_module(name: str) -> bool:
    """True when `name` is a module or package of this package (not a function imported from one)."""
    folder = IMPORT_ROOT.joinpath(*name.split("."))
    return (folder / "__init__.py").is_file() or folder.with_suffix(".py").is_file()


def chapter_key(chapter: Chapter, inputs: str) -> str:
    """The cache key of one chapter: shared inputs + its template + its parameters (the segment id) + its own files."""
    digest = hashlib.sha256()
    digest.update(inputs.encode())
    digest.update(file_sha256(chapter.template).encode())
    digest.update(json.dumps(chapter.parameters, sort_keys=True).encode())
    for path in chapter.inputs:
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()
