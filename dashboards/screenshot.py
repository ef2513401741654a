"""The running app in Debian's headless Chromium, driven by `playwright` (a dev dependency).

Shared by the browser test and `scripts/review_screenshot.py`: a screenshot is only worth keeping once
Streamlit has finished the page (no grey placeholders, every chart drawn) and no exception is on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
MAIN = '[data-testid="stMain"]'
"""Streamlit's scrolling main area."""
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


class ChromiumMissing(RuntimeError):
    """Debian's chromium is not installed."""


class PageException(RuntimeError):
    """The page shows a Streamlit exception."""


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless (no `playwright install`: the system browser is used)."""
    if not CHROMIUM.exists():
        raise ChromiumMissing(
            f"{CHROMIUM} is missing: `make browser` (or apt-get install -y chromium) installs it"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def settle(page: Page, title: str) -> None:
    """Wait until ``title``'s page ran, no placeholder is left and every chart is drawn."""
    page.wait_for_selector(f"h1:has-text('{title}')", timeout=45_000)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=45_000)
    page.wait_for_selector('[data-testid="stMetric"]', timeout=30_000)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid^=\"stSkeleton\"]').length === 0"
        " && [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
        ".every(chart => chart.querySelector('.main-svg'))",
        timeout=30_000,
    )


def fit_to_content(page: Page, width: int, attempts: int = 3) -> None:
    """Grow the window to the height of the page's content: the app scrolls inside its main area, not
    the document, so a `full_page` screenshot alone would stop at the window's bottom."""
    main = page.locator(MAIN)
    for _ in range(attempts):
        height = int(main.evaluate("main => Math.ceil(main.scrollHeight)"))
        if height <= main.evaluate("main => main.clientHeight"):
            return
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_function(
            "([selector, height]) => document.querySelector(selector).clientHeight >= height",
            arg=[MAIN, height],
            timeout=5_000,
        )


CLIPPED = """() => [...document.querySelectorAll(
    '[data-testid="stMetricValue"], [data-testid="stMetricLabel"], [data-testid="stMetricDelta"]')]
  .filter(box => [box, ...box.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1))
  .map(box => box.innerText.trim())"""
"""Metric values, labels and deltas whose text does not fit their box (cut off or shown with '…')."""


def clipped_metrics(page: Page) -> list[str]:
    """The full text of every metric value, label or delta the page shows only in part."""
    clipped: list[str] = page.evaluate(CLIPPED)
    return clipped


SCROLLING = """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')]
  .map(frame => [frame, frame.querySelector('.dvn-scroller')])
  .filter(([frame, scroller]) => scroller && scroller.scrollWidth > scroller.clientWidth + 1)
  .map(([frame, scroller]) => [...frame.querySelectorAll('[role="columnheader"]')]
    .map(h => h.innerText.trim()).filter(Boolean).join(' | ')
    + ` (${scroller.scrollWidth} px in ${scroller.clientWidth} px)`)"""
"""Tables (Streamlit's data grid) whose columns are wider than the table: they scroll sideways."""


def scrolling_tables(page: Page) -> list[str]:
    """The column headers of every table on the page that scrolls horizontally, with its widths."""
    scrolling: list[str] = page.evaluate(SCROLLING)
    return scrolling


def first_exception(page: Page) -> str | None:
    """The text of the first Streamlit exception element on the page, if any."""
    exceptions = page.locator('[data-testid="stException"]')
    return exceptions.first.inner_text() if exceptions.count() else None


def save_screenshot(browser: Browser, url: str, title: str, path: Path, *, width: int = 1500) -> Path:
    """Open ``url`` in a new tab ``width`` px wide, wait for ``title``'s page and save all of it as a PNG.

    Raises `PageException` (after saving, so it can be looked at) when the page shows an exception.
    """
    page = browser.new_page(viewport={"width": width, "height": 1000})
    try:
        page.goto(url, wait_until="domcontentloaded")
        settle(page, title)
        fit_to_content(page, width)
        settle(page, title)
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        error = first_exception(page)
    finally:
        page.close()
    if error is not None:
        raise PageException(f"{url} shows an exception: {error}")
    return path
