"""The monthly review page's reconciliation section (Streamlit): gateway vs logged vs billed per model,
shadow spend by team and identity, and the catalog's price drift."""

from __future__ import annotations

import streamlit as st

from dashboards.reconciliation import ReconciliationReview, summary_lines


def render(review: ReconciliationReview | None) -> None:
    st.subheader("Reconciliation with the provider")
    if review is None:
        st.info("This warehouse has no reconciliation marts yet: rebuild it with `aigw pipeline`.")
        return
    if not review.logged:
        st.info("No Bedrock invocation logs cover this month: nothing to reconcile (docs/reconciliation.md).")
        return
    st.markdown("\n".join(summary_lines(review)))
    st.dataframe(
        review.by_model.fillna({"mismatches": ""})[
            [
                "model",
                "gateway_tokens",
                "logged_gateway_tokens",
                "logged_tokens",
                "billed_tokens",
                "catalog_cost_usd",
                "billed_effective_cost_usd",
                "mismatches",
            ]
        ],
        hide_index=True,
        width="stretch",
        column_config={  # the widths fit the page at 1280 px (the bill at list prices: the line above)
            "model": st.column_config.Column("Model", width=235),
            "gateway_tokens": st.column_config.NumberColumn("Gateway tokens", format="localized", width=105),
            "logged_gateway_tokens": st.column_config.NumberColumn(
                "Logged (gateway)", format="localized", width=115,
                help="Tokens the provider logged for the gateway's own calls."),
            "logged_tokens": st.column_config.NumberColumn("Logged (all)", format="localized", width=95),
            "billed_tokens": st.column_config.NumberColumn("Billed", format="localized", width=85),
            "catalog_cost_usd": st.column_config.NumberColumn("Catalog cost", format="dollar", width=95),
            "billed_effective_cost_usd": st.column_config.NumberColumn(
                "Billed net", format="dollar", width=80, help="Billed effective cost, after discounts."),
            "mismatches": st.column_config.Column("Off tolerance", width=105,
                                                      help="Days × checks not within tolerance."),
        },
    )
    left, right = st.columns(2)
    with left:
        st.markdown("**Shadow spend by team**")
        if review.shadow.empty:
            st.success("Every logged Bedrock call came through the gateway.")
        else:
            st.dataframe(
                review.shadow,
                hide_index=True,
                width="stretch",
                column_config={  # half the page at 1280 px: the identity is cut, the CSV has it whole
                    "team": st.column_config.Column("Team", width=90),
                    "identity_arn": st.column_config.Column("Identity", width=140),
                    "requests": st.column_config.NumberColumn("Calls", format="localized", width=65),
                    "tokens": st.column_config.NumberColumn("Tokens", format="localized", width=90),
                    "cost_usd": st.column_config.NumberColumn("Cost", format="dollar", width=65,
                                                              help="At the billed rate."),
                },
                column_order=["team", "identity_arn", "requests", "tokens", "cost_usd"],
            )
    with right:
        st.markdown("**Catalog drift**")
        if review.catalog_drift.empty:
            st.success("Every billed unit price matches the catalog.")
        else:
            for row in review.catalog_drift.itertuples():
                st.markdown(
                    f":red-badge[price_catalog_drift] **{row.model}** · {row.days} day(s) "
                    f"{row.first_day} – {row.last_day}: {row.detail}"
                )
