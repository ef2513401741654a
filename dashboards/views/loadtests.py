"""Load tests: every playbook run with its verdict, measures over time and its report in the lake."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboards import charts, data, months, review_data, tables, widgets
from dashboards import formatting as fmt
from gateway_shim.telemetry.storage import LakeLocation, default_lake_url


def lake_url() -> str:
    """Where the reports are: the lake URL as given (s3://...), or a local lake as an absolute path."""
    url = default_lake_url()
    return url if "://" in url else str(Path(url).resolve())


@st.cache_data(ttl=600, show_spinner=False)
def locust_report(summary_path: str) -> bytes | None:
    """Locust's HTML report kept beside the run's summary.json in the lake, if there is one."""
    try:
        return LakeLocation.parse(default_lake_url()).read_bytes(
            summary_path.removesuffix("summary.json") + "report.html")
    except (OSError, ValueError):
        return None


snap = widgets.current_snapshot()
month = widgets.selected_month()
every_run = data.loadtest_runs(snap)

st.title("Load tests")
if every_run.empty:
    st.info(
        "No load-test runs in `marts.loadtest_runs`. Run one with `aigw loadtest fallback`, "
        "then `aigw pipeline`."
    )
    st.stop()

lake = lake_url()
runs = every_run.assign(
    started_at=pd.to_datetime(every_run["started_at"], utc=True),
    report=[f"{lake.rstrip('/')}/{path}" for path in every_run["source_path"]],
)
# as the review counts them: the month under review also counts the runs since it ended
this_month = review_data.runs_for_review(runs, month, data.default_month(snap))
since = len(this_month) > len(review_data.runs_in(this_month, month))
cols = st.columns([1, 1, 1, 2])  # the latest run's name and verdict need the room
counted = f"since {months.first_day(month):%-d %b}" if since else fmt.month_label(month)
cols[0].metric("Runs", len(this_month), border=True, delta=counted, delta_color="off", delta_arrow="off")
cols[1].metric("Passed", int((this_month["verdict"] == "pass").sum()), border=True)
cols[2].metric("Failed", int((this_month["verdict"] == "fail").sum()), border=True)
latest = runs.sort_values("started_at").iloc[-1]
cols[3].metric(
    "Latest run",
    f"{latest['scenario']}: {latest['verdict']}",
    border=True,
    delta=f"{latest['started_at']:%d %b %Y %H:%M} UTC",
    delta_color="off",
)

st.plotly_chart(charts.loadtest_panels(runs), width="stretch")

st.subheader("Runs")
only_month = st.toggle(f"Only {fmt.month_label(month)}{' and since' if since else ''}", value=False,
                       key="only_month")
table = this_month if only_month else runs
# The columns that fit 1280 px; the CSV download has every column, the report path included.
SHOWN = ["started_at", "scenario", "verdict", "requests", "p95_ms", "refused_as_designed_rate",
         "unexpected_errors", "fallback_rate", "run_id"]
st.dataframe(table[SHOWN], hide_index=True, width="stretch", column_config=widgets.loadtest_columns())
widgets.csv_download(table.drop(columns=["details", "source_path"]), "aigw-loadtests.csv", "runs_csv")

st.subheader("Criteria of one run")
run_id = st.selectbox("Run", table["run_id"], key="criteria_run")
chosen = table[table["run_id"] == run_id].iloc[0]
st.caption(f"Report in the lake: `{chosen['report']}`")
html = locust_report(str(chosen["source_path"]))
if html is None:
    st.caption("No Locust HTML report for this run (runs before reports were kept have none).")
else:
    st.download_button("Locust's HTML report", html, file_name=f"{run_id}-locust.html", mime="text/html",
                       icon=":material/download:", key="locust_html")
try:
    criteria = tables.criteria(json.loads(chosen["details"] or "[]"))
except (TypeError, ValueError, AttributeError):
    criteria = pd.DataFrame()
if criteria.empty:
    st.info("This run recorded no criteria.")
else:
    st.dataframe(
        criteria,
        hide_index=True,
        width="stretch",
        column_config={
            "name": st.column_config.Column("Criterion", width=240),
            "threshold": st.column_config.Column("Threshold", width=300),
            "measured": st.column_config.Column("Measured", width=150),
            "passed": st.column_config.CheckboxColumn("Passed", width=65),
            "source": st.column_config.Column("Source", width=90),
        },
    )
