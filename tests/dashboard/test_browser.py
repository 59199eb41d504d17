"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright, against a local server only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pytest
import yaml
from werkzeug.serving import make_server

from segmentation.config.params import Params, load_params
from segmentation.dashboard.app import create_app
from segmentation.mart.pipeline import run
from segmentation.mart.store import CUSTOMERS
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, require_chromium, served

ROOT = Path(__file__).resolve().parents[2]
LOCAL_HOSTS = {"127.0.0.1"}
TIMEOUT_MS = 20_000

pytestmark = pytest.mark.browser



@pytest.fixture(scope="module")
def dashboard_url(small_mart: Params) -> Iterator[str]:
    """The app over the small mart, served on a free port of 127.0.0.1 in a background thread, stopped afterwards."""
    server = make_server("127.0.0.1", 0, create_app(small_mart.mart_dir, params=small_mart).server, threaded=True)
    with served(server, "dashboard-test-server") as url:
        yield url


@dataclass
class Browser:
    """A Chromium page and what it logged: console errors and every URL it requested."""

    page: Any
    console_errors: list[str] = field(default_factory=list)
    requested_urls: list[str] = field(default_factory=list)

    def wait_for_customers(self, count: int) -> None:
        """Wait until the customers card shows `count`."""
        self.page.wait_for_function(
            "(expected) => document.querySelector('#kpi-customers-value')?.innerText === expected", arg=f"{count:,}"
        )


@pytest.fixture(scope="module")
def browser(dashboard_url: str) -> Iterator[Browser]:
    """A Chromium page that records console errors and requests; closed afterwards."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = chromium.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
            session = Browser(context.new_page())
            session.page.set_default_timeout(TIMEOUT_MS)
            session.page.on("console", lambda msg: msg.type == "error" and session.console_errors.append(msg.text))
            session.page.on("pageerror", lambda exc: session.console_errors.append(str(exc)))
            session.page.on("request", lambda request: session.requested_urls.append(request.url))
            yield session
        finally:
            chromium.close()


def test_dashboard_in_browser(
    browser: Browser, dashboard_url: str, small_mart: Params, tmp_path: Path, screenshot_dir: Path
) -> None:
    """Loads cleanly, a filter moves the customers card to the pandas count, the export has that many rows, offline."""
    page = browser.page
    customers = pd.read_parquet(small_mart.mart_dir / CUSTOMERS)
    premium = customers[customers["subscription"]]

    page.goto(dashboard_url)
    page.wait_for_selector("#graph-map .choroplethlocation")  # the map drew: its shapes came from /assets
    browser.wait_for_customers(len(customers))

    page.locator("#filter-premium label", has_text="Yes").click()
    browser.wait_for_customers(len(premium))
    page.wait_for_function("window.location.search.includes('premium=yes')")
    page.wait_for_timeout(500)  # let the charts finish redrawing before the screenshot
    screenshot = screenshot_dir / "dashboard.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.read_bytes().startswith(b"\x89PNG")

    with page.expect_download() as download_info:
        page.locator("#export-button").click()
    exported = tmp_path / "export.csv"
    download_info.value.save_as(exported)
    rows = pd.read_csv(exported)
    assert len(rows) == len(premium)
    assert set(rows["customer_id"]) == set(premium["customer_id"])

    assert browser.console_errors == []
    outside = [url for url in browser.requested_urls if urlsplit(url).hostname not in LOCAL_HOSTS]
    assert outside == [], f"requests left 127.0.0.1: {outside}"


def test_shared_link_restores_filters(browser: Browser, dashboard_url: str, small_mart: Params) -> None:
    """Opening a URL with a query string sets the widgets and the numbers from it."""
    page = browser.page
    customers = pd.read_parquet(small_mart.mart_dir / CUSTOMERS)
    segment = str(customers["segment_id"].mode()[0])
    expected = customers[(customers["segment_id"] == segment) & ~customers["marketing_opt_in"]]

    page.goto(f"{dashboard_url}?segment={segment}&opt_in=no")
    browser.wait_for_customers(len(expected))
    assert page.locator("#filter-opt-in input[value='no']").is_checked()
    assert browser.console_errors == []


# Markup from the data and the params: the page must show it as text and run none of it.
HOSTILE_CATEGORY = '<a href="javascript:alert(1)">click</a>'
HOSTILE_NAME = "<img src=x onerror=alert(2)><b>Top</b>"
HOSTILE_DESCRIPTION = '<script>alert(3)</script><img src="x" onerror="alert(4)">'


@pytest.fixture(scope="module")
def hostile_dashboard_url(small_csv: Path, tmp_path_factory) -> Iterator[str]:
    """The app over a mart whose categories, segment name and description carry markup."""
    folder = tmp_path_factory.mktemp("hostile-dashboard")
    raw = pd.read_csv(small_csv, dtype=str, keep_default_na=False)
    raw.loc[raw.index % 3 == 0, "favorite_category"] = HOSTILE_CATEGORY
    raw.to_csv(folder / "customers.csv", index=False)
    settings = yaml.safe_load((ROOT / "params" / "default.yaml").read_text(encoding="utf-8"))
    settings["segments"][0].update(name=HOSTILE_NAME, description=HOSTILE_DESCRIPTION,
                                   actions=[HOSTILE_CATEGORY, "Plain second action."])
    settings.update(input=str(folder / "customers.csv"), mart_dir=str(folder / "mart"))
    (folder / "hostile.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    params = load_params(folder / "hostile.yaml")
    run(params)
    server = make_server("127.0.0.1", 0, create_app(params.mart_dir, params=params).server, threaded=True)
    with served(server, "hostile-dashboard-server") as url:
        yield url


def test_markup_in_data_and_params_shows_as_text(browser: Browser, hostile_dashboard_url: str) -> None:
    """No dialog opens, no element comes from the payloads, and the payloads read as text in tables and charts."""
    page = browser.page.context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(hostile_dashboard_url)
    page.wait_for_selector("#graph-map .choroplethlocation")
    page.wait_for_timeout(1000)  # let every chart draw
    page.locator("#graph-category text", has_text="javascript:alert(1)").first.wait_for()

    body = page.inner_text("body")
    assert HOSTILE_NAME in body and HOSTILE_DESCRIPTION in body and HOSTILE_CATEGORY in body
    chart_text = " ".join(page.locator("svg text").all_text_contents())
    assert HOSTILE_NAME in chart_text and HOSTILE_CATEGORY in chart_text
    assert page.locator("img[src='x'], svg a, a[href^='javascript']").count() == 0
    assert page.locator("b", has_text="Top").count() == 0
    assert dialogs == []
    page.close()


@pytest.fixture(scope="module")
def orders_only_dashboard_url(orders_only_mart: Params) -> Iterator[str]:
    """The app over a mart built from orders alone (no customer attributes)."""
    server = make_server("127.0.0.1", 0, create_app(orders_only_mart.mart_dir, params=orders_only_mart).server,
                         threaded=True)
    with served(server, "orders-only-dashboard-server") as url:
        yield url


def test_orders_only_dashboard_shows_no_attribute_it_lacks(browser: Browser, orders_only_dashboard_url: str,
                                                           orders_only_mart: Params, screenshot_dir: Path) -> None:
    """The line naming the missing attributes shows; their filters, charts and the marketing export do not."""
    page = browser.page.context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    customers = pd.read_parquet(orders_only_mart.mart_dir / CUSTOMERS)
    page.goto(orders_only_dashboard_url + "?premium=yes")  # a link from a mart that had premium status
    page.wait_for_function("(n) => document.querySelector('#kpi-customers-value')?.innerText === n",
                           arg=f"{len(customers):,}")
    page.wait_for_selector("#graph-rf-grid .heatmaplayer")
    assert page.locator("#unknown-attributes").inner_text().startswith("This data has no age, gender, income")
    for hidden in ("#filter-gender", "#filter-premium", "#filter-opt-in", "#filter-country", "#graph-map",
                   "#graph-premium", "#graph-category", "#graph-tickets"):
        assert not page.locator(hidden).is_visible(), hidden
    assert page.locator("#filter-segment").is_visible() and page.locator("#graph-customers").is_visible()
    assert page.locator("#export-scope input").count() == 1
    assert "no export for marketing" in page.locator("#export-note").inner_text()
    page.wait_for_timeout(500)
    page.screenshot(path=str(screenshot_dir / "dashboard-orders-only.png"), full_page=True)
    assert errors == []
    page.close()
