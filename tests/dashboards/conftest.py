"""Fixtures for the dashboard tests: a warehouse built in the test by the real pipeline, and AppTest on
the real entrypoint."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from dagster import BetaWarning
from streamlit.testing.v1 import AppTest

from gateway_shim.telemetry.storage import LakeLocation
from pipelines.run import run_pipeline
from tests.pipelines import lakegen
from tests.pipelines.providergen import write_provider_records

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"
PAGES = ("views/review.py", "views/showback.py", "views/slo.py", "views/drift.py", "views/loadtests.py")


@pytest.fixture(scope="session")
def dashboard_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the test lake (``lake/``) and the warehouse (``warehouse.duckdb``) go, known before either is
    built so a server can be started while they are."""
    return tmp_path_factory.mktemp("dashboard")


@pytest.fixture(scope="session")
def test_lake(dashboard_folder: Path) -> lakegen.Lake:
    """The pipelines' test lake (20 Oct – 20 Nov 2026: a policy change, an outage, two load tests), with
    the provider's invocation logs and bill (shadow spend, a catalog drift)."""
    lake = lakegen.build_lake(LakeLocation.parse(str(dashboard_folder / "lake")), dashboard_folder)
    write_provider_records(lake)
    return lake


@pytest.fixture(scope="session")
def marts_warehouse(test_lake: lakegen.Lake, dashboard_folder: Path) -> Path:
    """A warehouse materialised from that lake by the real Dagster pipeline."""
    warehouse = dashboard_folder / "warehouse.duckdb"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)  # dagster: backfill_policy is beta
        outcome = run_pipeline(
            lake_url=test_lake.location.url,
            warehouse_path=str(warehouse),
            config_path=str(test_lake.config_path),
        )
    assert outcome.success, outcome.failures
    return warehouse


@pytest.fixture
def open_app(monkeypatch: pytest.MonkeyPatch, test_lake: lakegen.Lake) -> Callable[[Path], AppTest]:
    """Run the real entrypoint against the warehouse at a path (its first run already done)."""

    def run(warehouse: Path) -> AppTest:
        monkeypatch.setenv("AIGW_WAREHOUSE", str(warehouse))
        monkeypatch.setenv("AIGW_LAKE", test_lake.location.url)
        return AppTest.from_file(APP, default_timeout=60).run()

    return run
