"""Server time of every dashboard page on a year of marts, measured with Streamlit's AppTest.

    .venv/bin/python benchmarks/dashboard.py [--days 365] [--workflows 4] [--repeat 5]

Builds a warehouse of synthetic marts (tests/dashboards/fake_marts.py: cost_daily, slo_daily,
slo_alerts, policy_drift and loadtest_runs synthesised, showback_monthly and budget_status by the
pipeline's own SQL), then runs each page of the real app in a fresh session: cold (every Streamlit
cache cleared, so each query hits DuckDB) and warm (a rerun with the caches filled, what the next
visitor gets). A first run of each AppTest is not timed: it is AppTest's own setup (a scan of
installed packages for components), which a server does once at start. The budget is 1.5 s per page;
the last column is the cold median over it.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.dashboards import fake_marts  # noqa: E402

APP = ROOT / "dashboards" / "app.py"
PAGES = ("views/review.py", "views/showback.py", "views/slo.py", "views/drift.py", "views/loadtests.py")
BUDGET_S = 1.5


def _timed_run(at: AppTest) -> float:
    started = time.perf_counter()
    at.run(timeout=60)
    elapsed = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"page raised: {at.exception[0].value}")
    return elapsed


def _clear_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


def measure(page: str, repeat: int) -> tuple[list[float], list[float]]:
    """(cold seconds, warm seconds) of ``page`` over ``repeat`` fresh sessions."""
    cold, warm = [], []
    for _ in range(repeat):
        at = AppTest.from_file(APP, default_timeout=60)
        at.run(timeout=60)  # AppTest's own first-run setup (a component scan) is no server time
        _clear_caches()
        at.switch_page(page)
        cold.append(_timed_run(at))
        warm.append(_timed_run(at))
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--workflows", type=int, default=4, help="workflows per app (cost_daily rows grow with it)"
    )
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # no "missing ScriptRunContext" chatter from pages run outside a server
    with tempfile.TemporaryDirectory() as folder:
        warehouse = Path(folder) / "warehouse.duckdb"
        started = time.perf_counter()
        start = date(2026, 11, 25) - timedelta(days=args.days)
        fake_marts.build(warehouse, start=start, days=args.days, workflows=args.workflows)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            sizes = {
                name: con.execute(f"SELECT count(*) FROM marts.{name}").fetchone()[0]  # type: ignore[index]
                for name in ("cost_daily", "slo_daily", "policy_drift", "loadtest_runs", "slo_alerts")
            }
        print(
            f"warehouse: {args.days} days from {start}, built in {time.perf_counter() - started:.1f} s; rows "
            + ", ".join(f"{name} {count:,}" for name, count in sizes.items())
        )
        os.environ["AIGW_WAREHOUSE"] = str(warehouse)
        AppTest.from_file(APP, default_timeout=60).run(timeout=60)  # imports (plotly, pandas) out of the way
        print(f"{'page':<22} {'cold median':>12} {'cold max':>10} {'warm median':>12} {'cold/budget':>12}")
        for page in PAGES:
            cold, warm = measure(page, args.repeat)
            print(
                f"{page:<22} {statistics.median(cold):>10.3f} s {max(cold):>8.3f} s "
                f"{statistics.median(warm):>10.3f} s {statistics.median(cold) / BUDGET_S:>12.2f}"
            )


if __name__ == "__main__":
    main()
