"""aigw review dashboard: the Streamlit entrypoint (`aigw dashboard`, or `streamlit run dashboards/app.py`).

Checks the warehouse once per run, then hands over to the selected page; a missing or empty
warehouse gets a notice naming the command to run instead of any page.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards import data, widgets

PAGES_DIR = Path(__file__).with_name("pages")

st.set_page_config(page_title="aigw · monthly review", page_icon="📊", layout="wide")

navigation = st.navigation(
    [
        st.Page(PAGES_DIR / "review.py", title="Monthly review", icon="📋", default=True),
        st.Page(PAGES_DIR / "showback.py", title="Showback", icon="💵", url_path="showback"),
        st.Page(PAGES_DIR / "slo.py", title="SLO", icon="⏱️", url_path="slo"),
        st.Page(PAGES_DIR / "drift.py", title="Policy drift", icon="🧭", url_path="drift"),
        st.Page(PAGES_DIR / "loadtests.py", title="Load tests", icon="🏋️", url_path="loadtests"),
    ]
)

snapshot = data.snapshot()
issue = data.problem(snapshot)
if issue is not None or snapshot is None:
    widgets.warehouse_notice(issue or "No warehouse.")
    st.stop()

st.session_state["snapshot"] = snapshot
widgets.month_picker(snapshot)
navigation.run()
