"""Fingerprints of the package's own code: a module, everything it imports from the package, and their data files.

A cached output (the mart, a chapter, the site) is up to date only while the code that shaped it is unchanged. Which
code that is follows from the imports, not from a list kept by hand: the closure below walks every `import` of a
`segmentation` module (at any depth, in functions too) and adds the data files of each package it reaches.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

PACKAGE = "segmentation"
PACKAGE_DIR = Path(__file__).resolve().parents[1]
DATA_SUFFIXES = {".json", ".yaml", ".yml", ".csv"}  # files a package reads at run time (not code, not build output)


def module_path(module: str) -> Path:
    """The source file of a `segmentation` module or package."""
    parts = module.split(".")[1:]
    folder = PACKAGE_DIR.joinpath(*parts)
    return folder / "__init__.py" if folder.is_dir() else folder.with_suffix(".py")


@cache
def imported_modules(module: str) -> frozenset[str]:
    """The `segmentation` modules that `module`'s source imports directly (parent packages included)."""
    path = module_path(module)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node.module, node.level, is_package)
            found.add(base)
            # `from package import name`: name may be a submodule
            found.update(f"{base}.{alias.name}" for alias in node.names)
    modules = set()
    for name in found:
        if name == PACKAGE or name.startswith(PACKAGE + "."):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
                candidate = ".".join(parts[:i])
                if _exists(candidate):
                    modules.add(candidate)
    modules.discard(module)
    return frozenset(modules)


def closure(roots: Iterable[str]) -> frozenset[str]:
    """`roots` and every `segmentation` module they import, transitively."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(imported_modules(module))
    return frozenset(seen)


def source_files(roots: Iterable[str]) -> list[Path]:
    """The files of the closure of `roots`: module sources, plus the data files of every package folder in it."""
    files = {module_path(m) for m in closure(roots)}
    for path in list(files):
        if path.name == "__init__.py":
            files.update(p for p in path.parent.iterdir() if p.is_file() and p.suffix in DATA_SUFFIXES)
    return sorted(files)


def fingerprint(roots: Iterable[str]) -> str:
    """SHA-256 over the closure's files, each named by its path inside the package."""
    digest = hashlib.sha256()
    for path in source_files(roots):
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _absolute(module: str, name: str | None, level: int, is_package: bool) -> str:
    """The absolute module named by `from <level dots><name> import …` inside `module`."""
    if level == 0:
        return name or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _exists(module: str) -> bool:
    """True when `module` is a module or package of this package's source tree."""
    parts = module.split(".")[1:]
    folder = PACKAGE_DIR.joinpath(*parts)
    return (folder / "__init__.py").is_file() or folder.with_suffix(".py").is_file()
