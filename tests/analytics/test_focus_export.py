"""``aigw export focus``: the month's showback as FOCUS 1.0 rows, summing to the cost marts, with
allocation in Tags and x_ columns, and passing the FinOps Foundation's focus-validator."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from aigw.cli import main
from analytics.warehouse import connect_read_only
from gateway_shim.telemetry.storage import LakeLocation
from tests.pipelines.conftest import run
from tests.pipelines.lakegen import Lake, small_lake

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / ".venv-focus" / "bin" / "focus-validator"
# focus-validator 1.0.0's "1.0" rule set still names five columns as FOCUS 1.0-preview did; it is fed
# a copy of the export with these aliases added (the export itself keeps the 1.0 names).
VALIDATOR_ALIASES = {
    "InvoiceIssuer": "InvoiceIssuerName",
    "Provider": "ProviderName",
    "Publisher": "PublisherName",
    "ResourceID": "ResourceId",
    "ChargeType": "ChargeCategory",
}

UNITS = {"input": "Tokens", "cache_read": "Tokens", "cache_write": "Tokens", "output": "Tokens",
         "request": "Requests", "image": "Images"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, Path]:
    """Three days with every part of the price at work: prompt-cache reads and writes, reasoning,
    images (Haiku's per-image price), a per-request fee on every model, unpriced CountTokens calls,
    and calls that ended without an answer: charged (hung-up streams, withheld answers) or not
    (failed without the provider's usage)."""
    folder = tmp_path_factory.mktemp("focus")
    location = LakeLocation.parse(str(folder / "lake"))
    lake = small_lake(location, folder, days=3, per_hour=20, priced_extras=True)
    warehouse = folder / "warehouse.duckdb"
    assert run(lake, warehouse).success
    return lake, warehouse


def _export(built: tuple[Lake, Path], out: Path, month: str = "2026-11") -> str:
    lake, warehouse = built
    result = CliRunner().invoke(
        main,
        [
            "export",
            "focus",
            "--month",
            month,
            "--out",
            str(out),
            "--warehouse",
            str(warehouse),
            "--config",
            str(lake.config_path),
        ],
    )
    assert result.exit_code == 0, result.output
    return result.output


def _usd(value: float | None) -> Decimal:
    return Decimal(str(value or 0))


def _parts(event: dict[str, Any], lake: Lake) -> dict[str, Decimal]:
    """One event's charges by cost part, priced exactly from the test's catalog (not the warehouse)."""
    usd = event["estimated_cost_usd"]
    served = event["outcome"] == "ok" and event["input_tokens"] + event["output_tokens"] > 0
    if not event["model_name"] or usd is None or not (usd > 0 or served):
        return {}  # refused, failed without usage (cost 0) or recorded unpriced (CountTokens): no charge
    price = lake.v2.price_on(event["model_name"], event["ts"].date())
    assert price is not None
    read, write = event.get("cache_read_tokens") or 0, event.get("cache_write_tokens") or 0
    return {
        "input": (event["input_tokens"] - read - write) * _usd(price.input_per_mtok) / 1_000_000,
        "cache_read": read * _usd(price.cache_read_per_mtok or price.input_per_mtok) / 1_000_000,
        "cache_write": write * _usd(price.cache_write_per_mtok or price.input_per_mtok) / 1_000_000,
        "output": event["output_tokens"] * _usd(price.output_per_mtok) / 1_000_000,
        "request": _usd(price.per_request_usd),
        "image": (event.get("input_images") or 0) * _usd(price.input_image_usd),
    }


def test_the_export_sums_to_the_showback_per_tenant_and_part_and_to_the_events_priced_independently(
    built: tuple[Lake, Path], tmp_path: Path
) -> None:
    lake, warehouse = built
    out = tmp_path / "focus.parquet"
    assert "FOCUS 1.0 rows for 2026-11" in _export(built, out)
    rows = pq.read_table(out).to_pylist()
    exported: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        exported[(row["SubAccountId"], row["x_CostPart"])] += row["BilledCost"]
        assert row["ListCost"] == row["PricingQuantity"] * row["ListUnitPrice"]  # exact
        assert row["BilledCost"] == row["EffectiveCost"] == row["ListCost"] == row["ContractedCost"]
    wanted: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for event in lake.events:
        for part, usd in _parts(event, lake).items():
            wanted[(event["tenant_id"], part)] += usd
    assert dict(exported) == {key: usd for key, usd in wanted.items() if usd}  # exact
    for part in ("input", "cache_read", "cache_write", "output", "request", "image"):
        assert sum(usd for (_, p), usd in exported.items() if p == part) > 0, f"no {part} charge"
    # The same totals as the showback, per tenant and per part: what a FinOps analyst compares.
    with connect_read_only(warehouse) as connection:
        showback = connection.sql(
            "SELECT tenant_id, usd_sum(cost_usd), usd_sum(input_cost_usd), usd_sum(cached_input_cost_usd),"
            " usd_sum(output_cost_usd + reasoning_cost_usd), usd_sum(request_cost_usd),"
            " usd_sum(image_cost_usd) FROM marts.showback_monthly"
            " WHERE month = DATE '2026-11-01' GROUP BY tenant_id"
        ).fetchall()
    assert {tenant for tenant, *_ in showback} == {tenant for tenant, _ in exported}
    for tenant, total, input_usd, cached_usd, output_usd, request_usd, image_usd in showback:
        mine = {part: usd for (t, part), usd in exported.items() if t == tenant}
        for figure, parts in (
            (total, mine),
            (input_usd, ["input"]),
            (cached_usd, ["cache_read", "cache_write"]),
            (output_usd, ["output"]),
            (request_usd, ["request"]),
            (image_usd, ["image"]),
        ):
            assert float(sum(mine.get(p, Decimal(0)) for p in parts)) == pytest.approx(figure, abs=1e-9)


def test_allocation_is_in_tags_and_x_columns_after_the_focus_columns(
    built: tuple[Lake, Path], tmp_path: Path
) -> None:
    out = tmp_path / "focus.parquet"
    _export(built, out)
    table = pq.read_table(out)
    names = table.column_names
    first_custom = min(i for i, n in enumerate(names) if n.startswith("x_"))
    assert all(n.startswith("x_") for n in names[first_custom:])
    rows = table.to_pylist()
    tenants = {e["tenant_id"] for e in built[0].events if e["model_name"]}
    assert {r["x_Tenant"] for r in rows} == tenants
    for row in rows:
        tags = json.loads(row["Tags"])
        assert tags["aigw:tenant"] == row["x_Tenant"] == row["SubAccountId"]
        assert tags["aigw:team"] == row["x_Team"]
        assert tags.get("aigw:app") == row["x_App"] and tags.get("aigw:workflow") == row["x_Workflow"]
        assert row["ChargePeriodStart"].date() == row["ChargePeriodEnd"].date() - dt.timedelta(days=1)
        assert row["ConsumedUnit"] == row["PricingUnit"] == UNITS[row["x_CostPart"]]
        assert row["SkuId"].endswith("/" + row["x_CostPart"])
        assert row["ServiceCategory"] == "AI and Machine Learning"
    assert {r["ServiceName"] for r in rows if r["x_GatewayProvider"] == "bedrock"} == {"Amazon Bedrock"}


def test_the_csv_export_passes_focus_validator_with_no_failed_rule(
    built: tuple[Lake, Path], tmp_path: Path
) -> None:
    assert VALIDATOR.is_file(), f"{VALIDATOR} missing: `make install` creates it (see the Makefile)"
    out = tmp_path / "focus.csv"
    _export(built, out)
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    aliased = tmp_path / "focus-for-validator.csv"
    with open(aliased, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], *VALIDATOR_ALIASES])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, **{alias: row[name] for alias, name in VALIDATOR_ALIASES.items()}})
    site = next((ROOT / ".venv-focus" / "lib").glob("python*/site-packages"))
    # Run from site-packages: the validator reads its currency-code list by a path relative to the cwd.
    result = subprocess.run(
        [str(VALIDATOR), "--data-file", str(aliased), "--validate-version", "1.0"],
        cwd=site,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    failed = [line for line in output.splitlines() if "failed:" in line]
    assert not failed and "Validation succeeded" in output, output[-3000:]


def test_a_broken_export_is_caught_by_the_validator(built: tuple[Lake, Path], tmp_path: Path) -> None:
    """The validator run above can fail: a copy without BillingCurrency is rejected."""
    out = tmp_path / "focus.csv"
    _export(built, out)
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    broken = tmp_path / "broken.csv"
    with open(broken, "w", newline="") as handle:
        fields = [f for f in [*rows[0], *VALIDATOR_ALIASES] if f != "BillingCurrency"]
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, **{alias: row[name] for alias, name in VALIDATOR_ALIASES.items()}})
    site = next((ROOT / ".venv-focus" / "lib").glob("python*/site-packages"))
    result = subprocess.run(
        [str(VALIDATOR), "--data-file", str(broken), "--validate-version", "1.0"],
        cwd=site,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "BillingCurrency_Required failed:" in result.stdout + result.stderr


def test_bad_arguments_are_named(built: tuple[Lake, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    warehouse = str(built[1])
    bad_month = runner.invoke(
        main,
        ["export", "focus", "--month", "2026-13", "--out", str(tmp_path / "a.csv"), "--warehouse", warehouse],
    )
    assert bad_month.exit_code == 2 and "month 13 is not 01..12" in bad_month.output
    bad_suffix = runner.invoke(
        main,
        [
            "export",
            "focus",
            "--month",
            "2026-11",
            "--out",
            str(tmp_path / "a.json"),
            "--warehouse",
            warehouse,
        ],
    )
    assert bad_suffix.exit_code == 2 and ".parquet or .csv" in bad_suffix.output
    empty = runner.invoke(
        main,
        [
            "export",
            "focus",
            "--month",
            "2025-01",
            "--out",
            str(tmp_path / "a.csv"),
            "--warehouse",
            warehouse,
            "--config",
            str(built[0].config_path),
        ],
    )
    assert empty.exit_code == 1 and "no cost rows for 2025-01" in empty.output
