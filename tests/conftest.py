"""Shared fixtures: a small generated customer file and a mart built from it by the real pipeline."""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from segmentation.config.params import ORDER_CHECKS, QUALITY_CHECKS, Params, load_params
from segmentation.mart.pipeline import run
from segmentation.mart.store import owner_record
from segmentation.synthetic.generate import write_customers

ROOT = Path(__file__).resolve().parents[1]
SMALL_ROWS = 2_000
CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright cannot download its own browser here
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def served(server, name: str) -> Iterator[str]:
    """Run a socket server (werkzeug or http.server) in a background thread; yield its URL; stop it afterwards."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """A static file handler that does not log every request to stderr."""

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's signature
        """Log nothing."""


@contextmanager
def served_folder(folder: Path, name: str) -> Iterator[str]:
    """Serve a folder's files (a built site) from 127.0.0.1 on a free port; yield its URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    with served(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler), name) as url:
        yield url


def site_pages(site: Path) -> list[Path]:
    """A built site's pages (not the theme's Jinja macro files that Sphinx copies into _static)."""
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)


def pytest_addoption(parser: pytest.Parser) -> None:
    """--screenshots DIR: where the browser tests save their screenshots (make screenshots: docs/img)."""
    parser.addoption("--screenshots", metavar="DIR", type=Path, default=None,
                     help="save the browser tests' screenshots in DIR instead of each test's temporary folder")


@pytest.fixture
def screenshot_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Where a browser test saves its screenshot: --screenshots DIR, else its tmp_path (so tests change no file)."""
    folder = request.config.getoption("screenshots") or tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def require_chromium() -> None:
    """Skip without a browser, except in CI, where a missing browser is a failure."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


# A code: no space, so never a sentence (ids, check and insight ids, policies, ISO dates, hashes, versions)
CODE = re.compile(r"[\w.:+-]*")


def free_text(value: object, allowed: frozenset[str] | set[str] = frozenset(), where: str = "") -> list[str]:
    """Every string in a JSON value that is neither a code nor one of `allowed` (the params' segment names, the
    data-quality check descriptions of the params module, paths the run was given), as 'where: value'."""
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in free_text(item, allowed, f"{where}.{key}")]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in free_text(item, allowed, f"{where}[{i}]")]
    if isinstance(value, str) and not CODE.fullmatch(value) and value not in allowed:
        return [f"{where}: {value!r}"]
    return []


def configured_text(params: Params) -> set[str]:
    """Text a mart may copy from the configuration: segment names, check descriptions, the paths of the run."""
    paths = {str(p) for p in (params.path, params.input_path, params.mart_dir) if p is not None}
    paths |= set(owner_record(params.path, params.mart_dir).values())  # the params file, as the manifest records it
    descriptions = {description for _, description in (*QUALITY_CHECKS.values(), *ORDER_CHECKS.values())}
    return {seg.name for seg in params.all_segments} | descriptions | paths


def params_copy(source: Path, folder: Path, **overrides) -> Path:
    """A copy of a params file in `folder`, with top-level keys replaced (e.g. input, mart_dir)."""
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    raw.setdefault("chapters", str(ROOT / "chapters"))  # the checkout's chapters, wherever the test runs
    raw.update({k: str(v) if isinstance(v, Path) else v for k, v in overrides.items()})
    path = folder / source.name
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory) -> Path:
    """A 2,000-customer file from the generator (seed 7)."""
    folder = tmp_path_factory.mktemp("raw")
    return write_customers(folder / "customers.csv", rows=SMALL_ROWS, seed=7)


def built_mart(folder: Path, params_file: str, **overrides) -> Params:
    """A copy of params/`params_file` in `folder` with these keys replaced, its mart (folder/mart) built."""
    params = load_params(params_copy(ROOT / "params" / params_file, folder, mart_dir=folder / "mart", **overrides))
    run(params)
    return params


@pytest.fixture(scope="session")
def small_mart(tmp_path_factory, small_csv) -> Params:
    """Params (a copy of params/default.yaml) whose mart is already built from the small file."""
    return built_mart(tmp_path_factory.mktemp("mart"), "default.yaml", input=small_csv)


@pytest.fixture(scope="session")
def small_mart_rfm11(tmp_path_factory, small_csv) -> Params:
    """The same small file segmented with params/rfm11.yaml."""
    return built_mart(tmp_path_factory.mktemp("mart11"), "rfm11.yaml", input=small_csv)


@pytest.fixture(scope="session")
def orders_only_mart(tmp_path_factory) -> Params:
    """Params whose mart is built from orders alone (no customer file): the CDNOW purchase log, 23,570 customers."""
    orders = ROOT / "tests" / "fixtures" / "cdnow" / "cdnow_orders.csv.gz"
    return built_mart(tmp_path_factory.mktemp("orders-only"), "default.yaml", input=None,
                      transactions={"path": str(orders)}, reference_date="1998-07-01")


@pytest.fixture(scope="session")
def small_mart_gbp(tmp_path_factory, small_csv) -> Params:
    """The small file segmented with params/default.yaml set to `currency: GBP`."""
    return built_mart(tmp_path_factory.mktemp("mart_gbp"), "default.yaml", input=small_csv, currency="GBP")
