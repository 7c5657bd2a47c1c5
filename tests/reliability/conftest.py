"""Fixtures of the reliability suite: the size switch (`--long`) and the figure
each test records for docs/reliability.md (see scripts/reliability_report.py)."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The helpers of the main suite (gdb_session, core_util, corpus_util) live one
# directory up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

OUT_ENV = "AFGDB_RELIABILITY_OUT"


@pytest.fixture
def long_mode(request: pytest.FixtureRequest) -> bool:
    """True under `pytest --long`: run at the sizes the issue asks for."""
    return bool(request.config.getoption("--long"))


class Figures:
    """One row of the reliability table: what was tried, how much, what came of it.

    `metrics` holds the raw numbers (inputs, disconnects, rss growth, cores lost);
    `size` and `result` are the human-readable cells the report prints."""

    def __init__(self, test_id: str) -> None:
        self.test_id = test_id
        self.row: dict[str, Any] = {}

    def record(self, *, area: str, what: str, size: str, result: str, **metrics: Any) -> None:
        self.row = {
            "test": self.test_id,
            "area": area,
            "what": what,
            "size": size,
            "result": result,
            "metrics": metrics,
        }


@pytest.fixture
def figures(request: pytest.FixtureRequest, long_mode: bool) -> Iterator[Figures]:
    """Record a row; it is written only if the test passes, so a failing test
    never leaves a good-looking figure behind."""
    fig = Figures(request.node.nodeid)
    yield fig
    out = os.environ.get(OUT_ENV)
    rep = getattr(request.node, "rep_call", None)
    if not out or not fig.row or rep is None or not rep.passed:
        return
    fig.row["mode"] = "long" if long_mode else "short"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid) + ".json"
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    (path / name).write_text(json.dumps(fig.row, indent=1, sort_keys=True))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call = rep  # type: ignore[attr-defined]
