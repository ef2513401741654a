"""The monthly review's reconciliation: the gateway's figures against Bedrock's logs and bill, the spend
outside the gateway by team, and the catalog's price drift (marts.reconciliation_daily, shadow_spend,
reconciliation_drift; docs/reconciliation.md)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashboards import data, months
from dashboards import formatting as fmt

MARTS = ("reconciliation_daily", "shadow_spend", "reconciliation_drift")


@dataclass(frozen=True)
class ReconciliationReview:
    by_model: pd.DataFrame  # model, gateway/logged/billed tokens and costs, days ok, mismatches
    shadow: pd.DataFrame  # team, identity_arn, models, requests, tokens, cost_usd
    catalog_drift: pd.DataFrame  # model, first_day, last_day, days, billed/catalog per 1M, detail

    @property
    def logged(self) -> bool:
        return bool(not self.by_model.empty and self.by_model["logged_tokens"].sum() > 0)

    @property
    def mismatched_models(self) -> pd.DataFrame:
        return self.by_model[self.by_model["mismatches"].notna()]


def gather(snap: data.Snapshot, month: str) -> ReconciliationReview | None:
    """The month's reconciliation, or None when the warehouse predates the reconciliation marts."""
    tables = data.query(snap, "tables")
    present = set(tables.loc[tables["table_schema"] == "marts", "table_name"])
    if not set(MARTS) <= present:
        return None
    window = (months.first_day(month), months.next_month_start(month))
    drift = data.query(snap, "catalog_drift_month", window)
    for column in ("first_day", "last_day"):
        drift = drift.assign(**{column: pd.to_datetime(drift[column]).dt.date})
    return ReconciliationReview(
        by_model=data.query(snap, "reconciliation_month", window),
        shadow=data.query(snap, "shadow_spend_month", window),
        catalog_drift=drift,
    )


def summary_lines(review: ReconciliationReview) -> list[str]:
    """The section's bullet points (the page's caption and the pack's first lines)."""
    models = review.by_model
    gateway = float(models["gateway_cost_usd"].sum())
    billed_list = float(models["billed_list_cost_usd"].sum())
    effective = float(models["billed_effective_cost_usd"].sum())
    shadow = float(review.shadow["cost_usd"].sum()) if not review.shadow.empty else 0.0
    days, ok = int(models["days"].sum()), int(models["days_ok"].sum())
    mismatched = review.mismatched_models
    discount = f" ({fmt.percent(1 - effective / billed_list)} below list)" if billed_list else ""
    return [
        f"- **Gateway vs logged vs billed:** {ok} of {days} day × model rows reconcile within tolerance"
        + (f"; not within: {', '.join(mismatched['model'])}" if not mismatched.empty else ""),
        f"- **Bill:** {fmt.money(effective)} effective, {fmt.money(billed_list)} list{discount}; the "
        f"gateway's catalog put its own calls at {fmt.money(gateway)}",
        f"- **Shadow spend:** {fmt.money(shadow)} by {len(review.shadow)} identit(ies) outside the gateway"
        if not review.shadow.empty
        else "- **Shadow spend:** none: every logged call came through the gateway",
        f"- **Catalog drift:** {len(review.catalog_drift)} model(s) billed at another price than the catalog"
        if not review.catalog_drift.empty
        else "- **Catalog drift:** none: every billed unit price matches the catalog",
    ]


def _cell(value: object) -> str:
    return (
        "—"
        if value is None or (isinstance(value, float) and pd.isna(value))
        else str(value).replace("|", "/")
    )


def _tokens(value: object) -> str:
    return "—" if value is None or pd.isna(value) else f"{int(value):,}"  # type: ignore[call-overload]


def _money(value: object) -> str:
    return "—" if value is None or pd.isna(value) else fmt.money(float(value))  # type: ignore[arg-type]


def markdown(review: ReconciliationReview | None) -> str:
    """The review pack's reconciliation section."""
    lines = ["## Reconciliation with the provider", ""]
    if review is None:
        return "\n".join(
            [*lines, "The warehouse has no reconciliation marts (build them with `aigw pipeline`).", ""]
        )
    if not review.logged:
        return "\n".join([*lines, "No Bedrock invocation logs cover this month: nothing to reconcile.", ""])
    lines += [
        *summary_lines(review),
        "",
        "| Model | Gateway tokens | Logged | Billed | Catalog cost | Billed list | "
        "Billed effective | Not within tolerance |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in review.by_model.itertuples():
        lines.append(
            f"| {row.model} | {_tokens(row.gateway_tokens)} | {_tokens(row.logged_tokens)} | "
            f"{_tokens(row.billed_tokens)} | {_money(row.catalog_cost_usd)} | "
            f"{_money(row.billed_list_cost_usd)} | {_money(row.billed_effective_cost_usd)} | "
            f"{_cell(row.mismatches)} |"
        )
    lines.append("")
    if not review.shadow.empty:
        lines += [
            "### Shadow spend by team",
            "",
            "| Team | Identity | Models | Calls | Cost |",
            "|---|---|---|---|---|",
        ]
        for row in review.shadow.itertuples():
            lines.append(
                f"| {_cell(row.team)} | {_cell(row.identity_arn)} | {_cell(row.models)} | "
                f"{_tokens(row.requests)} | {_money(row.cost_usd)} |"
            )
        lines.append("")
    if not review.catalog_drift.empty:
        lines += ["### Catalog drift", ""]
        for row in review.catalog_drift.itertuples():
            lines.append(
                f"- {row.model}: {row.days} day(s) from {row.first_day} to {row.last_day}; {row.detail}"
            )
        lines.append("")
    return "\n".join(lines)
