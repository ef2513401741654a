"""Every SQL block in docs/analysts.md runs on a pipeline-built warehouse and answers something."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analytics.query import run_query
from tests.pipelines.conftest import Built

DOC = Path(__file__).resolve().parents[2] / "docs" / "analysts.md"
QUERIES = re.findall(r"```sql\n(.*?)```", DOC.read_text(), re.S)


def test_the_doc_has_eleven_questions_a_bonus_and_four_on_reconciliation() -> None:
    assert len(QUERIES) == 16


@pytest.mark.parametrize("query", QUERIES, ids=[f"query{i + 1}" for i in range(len(QUERIES))])
def test_doc_query_runs_and_returns_rows(built: Built, query: str) -> None:
    result = run_query(query, path=str(built.warehouse), timeout_s=30, max_rows=1000)
    assert result.table.num_rows > 0
