"""The PromQL in deploy/: read from the committed files, so tests never drift from them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO

DASHBOARD = REPO / "deploy" / "grafana" / "copyguard.json"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    signal: str  # the expression left of the final comparison


def dashboard_exprs(path: Path = DASHBOARD) -> list[tuple[str, str]]:
    """(panel title / refId, expr) for every target of every panel."""
    board: dict[str, Any] = json.loads(path.read_text())
    out = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            out.append((f"{panel['title']} / {target['refId']}", target["expr"]))
    return out


def variable_queries(path: Path = DASHBOARD) -> list[tuple[str, str, str]]:
    """(name, selector, label) of every ``label_values(selector, label)`` variable."""
    board: dict[str, Any] = json.loads(path.read_text())
    out = []
    for var in board["templating"]["list"]:
        if var["type"] != "query":
            continue
        m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", var["query"])
        assert m, f"variable {var['name']}: unsupported query {var['query']!r}"
        out.append((var["name"], m.group(1), m.group(2)))
    return out


def _closes_at_end(expr: str) -> bool:
    """Whether the opening parenthesis at 0 closes at the last character."""
    depth = 0
    for i, ch in enumerate(expr):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return i == len(expr) - 1
    return False


def alerts(path: Path = ALERTS) -> list[Alert]:
    """Every alert, split as ``(<signal>) <op> <number>`` (the convention in alerts.yml)."""
    doc = yaml.safe_load(path.read_text())
    out = []
    for group in doc["groups"]:
        for rule in group["rules"]:
            expr = " ".join(rule["expr"].split())
            m = re.fullmatch(r"(\(.*\))\s*(?:>|<|>=|<=|==|!=)\s*[-+0-9.e]+", expr)
            assert m and _closes_at_end(m.group(1)), (
                f"{rule['alert']}: expr is not '(<signal>) <op> <threshold>': {expr}"
            )
            out.append(Alert(rule["alert"], expr, m.group(1)[1:-1]))
    return out


def metric_names(exprs: list[str]) -> set[str]:
    return {name for e in exprs for name in re.findall(r"\bcopyguard_[a-z_]+", e)}
