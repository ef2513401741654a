"""UI pieces every page shares: the month picker, the warehouse notice and CSV downloads."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import data, months
from dashboards import formatting as fmt

MONTH_KEY = "review_month"
WIDGET_KEY = "month_picker"


def _remember_month() -> None:
    st.session_state[MONTH_KEY] = st.session_state[WIDGET_KEY]


def month_picker(snap: data.Snapshot) -> str:
    """The sidebar month picker (newest first): the session's choice, else ``?month=YYYY-MM`` from the
    link, else the last complete month."""
    index = data.month_index(snap)
    options = list(reversed(index["month"].tolist()))
    default = data.default_month(snap)
    # The choice lives under a plain key (never cleaned up on a page switch) and primes the widget each run.
    if st.session_state.get(MONTH_KEY) not in options:
        linked = st.query_params.get("month")  # a shared link such as /?month=2026-10 opens on that month
        st.session_state[MONTH_KEY] = linked if linked in options else default
    st.session_state[WIDGET_KEY] = st.session_state[MONTH_KEY]
    month: str = st.sidebar.selectbox(
        "Month", options, key=WIDGET_KEY, format_func=fmt.month_label, on_change=_remember_month
    )
    latest = pd.Timestamp(index["last_day"].max()).date()
    st.sidebar.caption(f"Data through {latest:%d %b %Y} · warehouse `{snap.path}`")
    return month


def coverage(snap: data.Snapshot, month: str) -> str | None:
    """The days of ``month`` the data covers, when it is only part of the month."""
    index = data.month_index(snap).set_index("month")
    if month not in index.index:
        return "no data"
    row = index.loc[month]
    return months.partial_coverage(
        month, pd.Timestamp(row["first_day"]).date(), pd.Timestamp(row["last_day"]).date()
    )


def coverage_caption(partial: str | None) -> None:
    """Say under a page title when the data covers only part of the month."""
    if partial:
        st.caption(f"The warehouse covers {partial} of this month: figures are for those days only.")


def selected_month() -> str:
    """The month chosen in the sidebar (set by the entrypoint before any page runs)."""
    month: str = st.session_state[MONTH_KEY]
    return month


def current_snapshot() -> data.Snapshot:
    """The warehouse version the entrypoint checked for this run."""
    snap: data.Snapshot = st.session_state["snapshot"]
    return snap


def warehouse_notice(message: str) -> None:
    """What to do when there is nothing to show: never a traceback."""
    st.title("aigw review dashboard")
    st.warning(message, icon="🗄️")
    st.markdown("Quick start, from the repository root:")
    st.code(
        "aigw demo            # simulate traffic, build the warehouse, open this dashboard\n"
        "# or, step by step:\n"
        "aigw simulate --days 60\n"
        "aigw pipeline",
        language="bash",
    )
    st.caption("Set `AIGW_WAREHOUSE` (or `aigw dashboard --warehouse PATH`) to read another warehouse file.")


def csv_download(frame: pd.DataFrame, filename: str, key: str) -> None:
    """A download button for ``frame`` as CSV, written only when clicked (no cost on every rerun)."""
    st.download_button(
        "Download CSV",
        lambda: frame.to_csv(index=False),
        file_name=filename,
        mime="text/csv",
        key=key,
        icon=":material/download:",
        on_click="ignore",
    )


def loadtest_columns(*, compact: bool = False) -> dict[str, Any]:
    """Column settings for load-test runs wherever they are listed: what a playbook refuses on purpose
    (saturation's sheds, budget's stops) apart from the errors nobody wanted. ``compact``: short headers
    for a table in half of the page."""
    return {
        "run_id": st.column_config.Column("Run", width=150),
        "scenario": st.column_config.Column("Playbook", width=85),
        "verdict": st.column_config.Column("Verdict", width=65),
        "started_at": st.column_config.DatetimeColumn("Started (UTC)", format="D MMM HH:mm", width=105),
        "duration_s": st.column_config.NumberColumn("Length", format="%d s", width=65),
        "requests": st.column_config.NumberColumn("Requests", format="localized", width=75),
        "rps": st.column_config.NumberColumn("req/s", format="%.1f", width=60),
        "p95_ms": st.column_config.NumberColumn("p95", format="%d ms", width=75),
        "refused_as_designed_rate": st.column_config.NumberColumn(
            "By design" if compact else "Refused by design", format="percent", width=80 if compact else 130,
            help="Refused on purpose: saturation's sheds (429/503 with Retry-After), budget's 429 "
                 "budget_exceeded stops. Empty for runs from before errors were split."),
        "unexpected_errors": st.column_config.NumberColumn(
            "Unexpected" if compact else "Unexpected errors", format="localized",
            width=90 if compact else 130,
            help="Non-2xx answers that were not refused by design (e.g. a gateway 502/504), counted."),
        "fallback_rate": st.column_config.NumberColumn("Fallbacks", format="percent", width=80),
    }
