"""End to end: `aigw dashboard` as a subprocess, every page loaded in headless Chromium, no exception on
screen, screenshots kept in test-artifacts/dashboard/."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import Browser, Page

from dashboards import formatting as fmt
from dashboards.screenshot import (
    ChromiumMissing,
    chromium,
    clipped_metrics,
    first_exception,
    fit_to_content,
    save_screenshot,
    scrolling_tables,
    settle,
)
from tests.helpers import LOCALHOST, free_port, wait_for_port

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
PAGES = {"review": "", "showback": "showback", "slo": "slo", "drift": "drift", "loadtests": "loadtests"}
TITLES = {"review": "Monthly review", "showback": "Showback", "slo": "SLO", "drift": "Policy drift",
          "loadtests": "Load tests"}  # fmt: skip


@pytest.fixture(scope="module")
def dashboard_url(dashboard_folder: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """`aigw dashboard --port P --warehouse W` in its own process group, stopped after the module.

    The server starts first and the pipeline builds the warehouse while it boots (a page is only
    requested once both are ready).
    """
    port = free_port()
    log_path = dashboard_folder / "dashboard.log"
    env = {**os.environ, "AIGW_LAKE": str(dashboard_folder / "lake")}
    command = [sys.executable, "-m", "aigw", "dashboard", "--port", str(port), "--host", LOCALHOST,
               "--warehouse", str(dashboard_folder / "warehouse.duckdb")]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        request.getfixturevalue("marts_warehouse")
        wait_for_port(LOCALHOST, port, timeout=60)
        yield f"http://{LOCALHOST}:{port}/"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    assert "Traceback" not in log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        with chromium() as launched:
            yield launched
    except ChromiumMissing as missing:
        pytest.fail(str(missing))


@pytest.fixture(scope="module")
def app_page(dashboard_url: str, browser: Browser) -> Iterator[Page]:
    """One tab on the app, opened on its landing page; the tests move through it as a user would."""
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.goto(dashboard_url, wait_until="domcontentloaded")
    settle(page, TITLES["review"])
    yield page
    page.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_loads_in_chromium_without_exception(
    app_page: Page, dashboard_url: str, name: str
) -> None:
    app_page.locator(f'[data-testid="stSidebarNav"] a[href="{dashboard_url}{PAGES[name]}"]').click()
    settle(app_page, TITLES[name])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    app_page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert first_exception(app_page) is None


@pytest.mark.parametrize("width", [1280, 1600])
def test_no_metric_is_clipped_and_no_table_scrolls_at_common_widths(
    dashboard_url: str, browser: Browser, width: int
) -> None:
    """Each page at the full height of its content: every metric's value, label and delta fits its box
    (a value cut to '$790…' would have a scroll width larger than its box) and every table's columns fit
    the table (no sideways scrolling); screenshots kept."""
    page = browser.new_page(viewport={"width": width, "height": 1000})
    clipped: dict[str, list[str]] = {}
    scrolling: dict[str, list[str]] = {}
    try:
        # the checks can fail: a metric value made too long for its box, a table given 5000 px of content
        page.goto(dashboard_url, wait_until="domcontentloaded")
        settle(page, TITLES["review"])
        page.locator('[data-testid="stMetricValue"] div').first.evaluate(
            "value => { value.textContent = '$1,234,567,890,123.45 and more' }")
        assert "$1,234,567,890,123.45 and more" in clipped_metrics(page)
        page.locator('[data-testid="stDataFrame"] .dvn-scroller').first.evaluate(
            "grid => { const wide = document.createElement('div'); wide.style.width = '5000px';"
            " wide.style.height = '1px'; grid.appendChild(wide) }")
        assert scrolling_tables(page), "a table 5000 px wide inside must be reported as scrolling"
        for name, path in PAGES.items():
            page.goto(f"{dashboard_url}{path}", wait_until="domcontentloaded")
            settle(page, TITLES[name])
            fit_to_content(page, width)
            settle(page, TITLES[name])
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
            if cut := clipped_metrics(page):
                clipped[name] = cut
            if wide := scrolling_tables(page):
                scrolling[name] = wide
    finally:
        page.close()
    assert not clipped, f"clipped at {width} px: {clipped}"
    assert not scrolling, f"tables scrolling sideways at {width} px: {scrolling}"


def test_review_in_the_browser_shows_the_marts_spend(
    app_page: Page, dashboard_url: str, marts_warehouse: Path
) -> None:
    with duckdb.connect(str(marts_warehouse), read_only=True) as con:
        row = con.execute(
            "SELECT sum(cost_usd) FROM marts.showback_monthly WHERE strftime(month, '%Y-%m') = '2026-10'"
        ).fetchone()
    assert row is not None
    app_page.locator(f'[data-testid="stSidebarNav"] a[href="{dashboard_url}"]').click()
    settle(app_page, TITLES["review"])
    spend = app_page.locator('[data-testid="stMetric"]').first.locator('[data-testid="stMetricValue"]')
    assert spend.inner_text().strip() == fmt.money(float(row[0]))


def test_save_screenshot_keeps_a_month_link_whole_at_the_width_asked(
    browser: Browser, dashboard_url: str, tmp_path: Path
) -> None:
    path = save_screenshot(browser, f"{dashboard_url}?month=2026-10", "Monthly review · October 2026",
                           tmp_path / "review.png", width=1300)  # fmt: skip
    header = path.read_bytes()[:24]
    width, height = struct.unpack(">II", header[16:24])
    assert header.startswith(b"\x89PNG") and width == 1300 and height > 1000
