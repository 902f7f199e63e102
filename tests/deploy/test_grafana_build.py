"""deploy/grafana/copyguard.json is exactly what deploy/grafana/build.py prints."""

from __future__ import annotations

import importlib.util
import json

from tests.conftest import REPO
from tests.deploy.exprs import DASHBOARD, dashboard_exprs

BUILD = REPO / "deploy" / "grafana" / "build.py"


def test_committed_dashboard_is_the_build_output() -> None:
    spec = importlib.util.spec_from_file_location("grafana_build", BUILD)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert DASHBOARD.read_text() == module.render(), "run `make dashboards` and commit"


def test_dashboard_is_templated() -> None:
    board = json.loads(DASHBOARD.read_text())
    names = [v["name"] for v in board["templating"]["list"]]
    assert names == ["datasource", "job", "instance"]
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    for title, expr in dashboard_exprs():
        assert 'job=~"$job",instance=~"$instance"' in expr, title
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
