"""aigw review dashboard: the Streamlit entrypoint (`aigw dashboard`, or `streamlit run dashboards/app.py`).

Checks the warehouse once per run, then hands over to the selected page; a missing or empty
warehouse gets a notice naming the command to run instead of any page.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import streamlit as st

from dashboards import data, widgets

VIEWS = Path(__file__).with_name("views")  # not "pages/": Streamlit would treat that as a v1 multipage app

st.set_page_config(page_title="aigw · monthly review", page_icon=":material/monitoring:", layout="wide")
# Less space on top, and 1.5rem instead of 5rem at the sides: at 1280 px the tables get 110 px more.
st.html("<style>[data-testid='stMainBlockContainer'] "
        "{ padding-top: 2.5rem; padding-left: 1.5rem; padding-right: 1.5rem; }</style>")

navigation = st.navigation(
    [
        st.Page(VIEWS / "review.py", title="Monthly review", icon=":material/summarize:", default=True),
        st.Page(VIEWS / "showback.py", title="Showback", icon=":material/payments:", url_path="showback"),
        st.Page(VIEWS / "slo.py", title="SLO", icon=":material/speed:", url_path="slo"),
        st.Page(VIEWS / "drift.py", title="Policy drift", icon=":material/policy:", url_path="drift"),
        st.Page(VIEWS / "loadtests.py", title="Load tests", icon=":material/bolt:", url_path="loadtests"),
    ]
)

snapshot = data.snapshot()
issue = data.problem(snapshot)
if issue is not None or snapshot is None:
    widgets.warehouse_notice(issue or "No warehouse.")
    st.stop()

st.session_state["snapshot"] = snapshot
try:
    widgets.month_picker(snapshot)
    navigation.run()
except duckdb.Error as error:  # marts from another pipeline version: say so rather than show a traceback
    widgets.warehouse_notice(
        f"The marts in `{snapshot.path}` do not have the shape this dashboard reads ({error}). "
        "Rebuild them with `aigw pipeline`."
    )
