"""The monthly review's reconciliation section and its part of the review pack, on a warehouse the real
pipeline built from the test lake and the provider's records: the figures equal the marts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
from streamlit.testing.v1 import AppTest

from dashboards import formatting as fmt
from dashboards.reconciliation import ReconciliationReview, markdown
from tests.pipelines.providergen import RESEARCH_ARN, SCRIPT_ARN

MONTH = "2026-11"
HAIKU = "anthropic.claude-3-5-haiku-v1"


def _rows(warehouse: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_review_shows_gateway_logged_billed_shadow_spend_and_catalog_drift(
    open_app: Callable[[Path], AppTest], marts_warehouse: Path
) -> None:
    at = open_app(marts_warehouse)
    at.sidebar.selectbox[0].select(MONTH).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Reconciliation with the provider" in [h.value for h in at.subheader]
    text = " ".join(m.value for m in at.markdown)
    [(shadow,)] = _rows(marts_warehouse, "SELECT sum(cost_usd)::DOUBLE FROM marts.shadow_spend "
                                         "WHERE day >= DATE '2026-11-01' AND day < DATE '2026-12-01'")
    assert f"**Shadow spend:** {fmt.money(shadow)} by 2 identit(ies)" in text
    assert f"**{HAIKU}** · 2 day(s) 2026-11-13 – 2026-11-14" in text
    frames = [f.value for f in at.dataframe]
    by_model = next(f for f in frames if "billed_effective_cost_usd" in f.columns)
    [(effective,)] = _rows(marts_warehouse, "SELECT sum(billed_effective_cost_usd)::DOUBLE FROM "
                                            "marts.reconciliation_daily WHERE day >= DATE '2026-11-01'")
    assert by_model["billed_effective_cost_usd"].sum() == effective
    [(listed,)] = _rows(marts_warehouse, "SELECT sum(billed_list_cost_usd)::DOUBLE FROM "
                                         "marts.reconciliation_daily WHERE day >= DATE '2026-11-01'")
    discount = 1 - effective / listed
    assert f"list ({fmt.percent(discount)} below list)" in text and 0 < discount < 1  # a share, not ×100
    teams = next(f for f in frames if "identity_arn" in f.columns)
    assert dict(zip(teams["identity_arn"], teams["team"], strict=True)) == {
        RESEARCH_ARN: "research", SCRIPT_ARN: "unmapped"}


def test_the_pack_section_lists_models_shadow_spend_and_drift(
    open_app: Callable[[Path], AppTest], marts_warehouse: Path
) -> None:
    at = open_app(marts_warehouse)
    at.sidebar.selectbox[0].select(MONTH).run()
    pack = at.get("download_button")[0].proto.label  # the button is there; the pack text is in the preview
    assert pack == "Review pack"
    preview = " ".join(m.value for m in at.expander[0].markdown)
    assert "## Reconciliation with the provider" in preview
    assert "### Shadow spend by team" in preview and "| research |" in preview
    assert "### Catalog drift" in preview and f"- {HAIKU}: 2 day(s)" in preview
    assert f"| {HAIKU} |" in preview and "cost_mismatch" in preview


def test_a_month_without_logs_and_an_old_warehouse_say_so() -> None:
    assert "no reconciliation marts" in markdown(None)
    empty = pd.DataFrame({"logged_tokens": []})
    review = ReconciliationReview(empty, pd.DataFrame(), pd.DataFrame())
    assert "No Bedrock invocation logs cover this month" in markdown(review)
