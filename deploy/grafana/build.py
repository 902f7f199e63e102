"""Build the copyguard Grafana dashboard: ``python deploy/grafana/build.py > copyguard.json``.

This script is the source of truth; ``copyguard.json`` is its committed output
(``make dashboards`` rewrites it; a test checks that the two agree).  Every PromQL
expression below is also evaluated against a real Prometheus scraping a real copyguard
in ``tests/deploy/test_prometheus_e2e.py``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job",instance=~"$instance"'
RATE = "$__rate_interval"

_next_id = 0


def _id() -> int:
    global _next_id
    _next_id += 1
    return _next_id


def target(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    t: dict[str, Any] = {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref}
    if instant:
        t.update(instant=True, range=False, format="table")
    return t


def targets(*pairs: tuple[str, str], instant: bool = False) -> list[dict[str, Any]]:
    return [
        target(expr, legend, chr(ord("A") + i), instant) for i, (expr, legend) in enumerate(pairs)
    ]


def panel(
    kind: str,
    title: str,
    x: int,
    y: int,
    w: int,
    h: int,
    tgts: list[dict[str, Any]],
    unit: str = "short",
    description: str = "",
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": _id(),
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": options or {},
        "targets": tgts,
    }


def row(title: str, y: int) -> dict[str, Any]:
    return {
        "id": _id(),
        "type": "row",
        "title": title,
        "collapsed": False,
        "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
        "panels": [],
    }


def quantiles(metric: str, by: str = "") -> list[tuple[str, str]]:
    """p50 and p99 of a histogram, per ``by`` label (or overall)."""
    group = f"{by}, le" if by else "le"
    legend = f"{{{{{by}}}}} " if by else ""
    return [
        (
            f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{{{SEL}}}[{RATE}])))",
            f"{legend}p{int(q * 100)}",
        )
        for q in (0.5, 0.99)
    ]


def stat(
    title: str, expr: str, x: int, y: int, unit: str = "short", legend: str = "", w: int = 4
) -> dict[str, Any]:
    return panel(
        "stat",
        title,
        x,
        y,
        w,
        4,
        targets((expr, legend)),
        unit,
        options={"reduceOptions": {"calcs": ["lastNotNull"]}, "textMode": "value_and_name"},
    )


def dashboard() -> dict[str, Any]:
    global _next_id
    _next_id = 0
    ts = "timeseries"
    panels = [
        row("Traffic", 0),
        panel(
            ts,
            "Requests by route and format",
            0,
            1,
            8,
            8,
            targets(
                (
                    f"sum by (route, format) (rate(copyguard_requests_total{{{SEL}}}[{RATE}]))",
                    "{{route}} {{format}}",
                )
            ),
            "reqps",
        ),
        panel(
            ts,
            "Errors by route and format",
            8,
            1,
            8,
            8,
            targets(
                (
                    "sum by (route, format, status) "
                    f'(rate(copyguard_requests_total{{{SEL},status=~"5.."}}[{RATE}]))',
                    "{{route}} {{format}} {{status}}",
                ),
                (
                    "sum by (format, kind) "
                    f"(rate(copyguard_upstream_errors_total{{{SEL}}}[{RATE}]))",
                    "upstream {{format}} {{kind}}",
                ),
            ),
            "reqps",
            "5xx answers to clients, and upstream faults by kind",
        ),
        panel(
            ts,
            "Active streams",
            16,
            1,
            8,
            8,
            targets((f"sum by (instance) (copyguard_active_streams{{{SEL}}})", "{{instance}}")),
        ),
        row("Latency", 9),
        panel(
            ts,
            "Upstream time to headers (ttfb)",
            0,
            10,
            6,
            8,
            targets(*quantiles("copyguard_upstream_ttfb_seconds", "format")),
            "s",
        ),
        panel(
            ts,
            "Upstream duration",
            6,
            10,
            6,
            8,
            targets(*quantiles("copyguard_upstream_duration_seconds", "format")),
            "s",
        ),
        panel(
            ts,
            "Proxy-added latency per chunk",
            12,
            10,
            6,
            8,
            targets(*quantiles("copyguard_added_latency_seconds", "format")),
            "s",
            "copyguard's own time per upstream chunk: parse, match, encode",
        ),
        panel(
            ts,
            "Proxy-added latency to first token",
            18,
            10,
            6,
            8,
            targets(*quantiles("copyguard_first_token_added_seconds", "format")),
            "s",
        ),
        row("Findings", 18),
        panel(
            ts,
            "Findings by collection and action",
            0,
            19,
            8,
            8,
            targets(
                (
                    "sum by (collection, action) "
                    f"(rate(copyguard_findings_total{{{SEL}}}[{RATE}]))",
                    "{{collection}} {{action}}",
                )
            ),
            "ops",
        ),
        panel(
            "bargauge",
            "Top works (dashboard range)",
            8,
            19,
            8,
            8,
            targets(
                (
                    "topk(10, sum by (work) "
                    f"(increase(copyguard_findings_total{{{SEL}}}[$__range])))",
                    "{{work}}",
                ),
                instant=True,
            ),
            description="works beyond metrics_work_labels are counted as 'other'",
            options={"displayMode": "basic", "orientation": "horizontal"},
        ),
        panel(
            ts,
            "Blocked and redacted streams",
            16,
            19,
            8,
            8,
            targets(
                (
                    f"sum by (format) (rate(copyguard_blocked_streams_total{{{SEL}}}[{RATE}]))",
                    "blocked {{format}}",
                ),
                (
                    f"sum by (format) (rate(copyguard_redacted_streams_total{{{SEL}}}[{RATE}]))",
                    "redacted {{format}}",
                ),
            ),
            "ops",
        ),
        panel(
            ts,
            "Held-back words",
            0,
            27,
            8,
            8,
            targets(*quantiles("copyguard_held_back_words")),
            description="words held after each release while they could still become a finding",
        ),
        panel(
            ts,
            "Holdback delay",
            8,
            27,
            8,
            8,
            targets(*quantiles("copyguard_holdback_delay_seconds")),
            "s",
        ),
        panel(
            ts,
            "Matcher failures and fail-open streams",
            16,
            27,
            8,
            8,
            targets(
                (
                    "sum by (mode) "
                    f"(rate(copyguard_matcher_failures_total{{{SEL}}}[{RATE}])) or vector(0)",
                    "matcher failures {{mode}}",
                ),
                (f"sum(rate(copyguard_fail_open_total{{{SEL}}}[{RATE}]))", "fail-open"),
            ),
            "ops",
        ),
        row("Rules in force", 35),
        stat("Works", f"max(copyguard_rules_works{{{SEL}}})", 0, 36),
        stat("Words", f"max(copyguard_rules_words{{{SEL}}})", 4, 36),
        panel(
            "table",
            "Rules hash per instance",
            8,
            36,
            6,
            4,
            targets((f"copyguard_rules_info{{{SEL}}}", ""), instant=True),
            description="instances with different hashes run different rules",
            options={"showHeader": True},
        ),
        stat(
            "Last (re)load",
            f"max(copyguard_rules_last_success_timestamp_seconds{{{SEL}}}) * 1000",
            14,
            36,
            "dateTimeFromNow",
            w=4,
        ),
        stat(
            "Reload errors (dashboard range)",
            f'sum(increase(copyguard_rules_reload_total{{{SEL},result="error"}}[$__range]))'
            " or vector(0)",
            18,
            36,
            w=3,
        ),
        stat("Load time", f"max(copyguard_rules_load_seconds{{{SEL}}})", 21, 36, "s", w=3),
    ]
    return {
        "uid": "copyguard",
        "title": "copyguard",
        "description": "copyguard: traffic, latency it adds, findings, rules in force",
        "tags": ["copyguard"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "refresh": 1,
                },
                {
                    "name": "job",
                    "label": "Job",
                    "type": "query",
                    "datasource": DS,
                    "query": "label_values(copyguard_rules_works, job)",
                    "definition": "label_values(copyguard_rules_works, job)",
                    "refresh": 2,
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "current": {},
                    "sort": 1,
                },
                {
                    "name": "instance",
                    "label": "Instance",
                    "type": "query",
                    "datasource": DS,
                    "query": 'label_values(copyguard_rules_works{job=~"$job"}, instance)',
                    "definition": 'label_values(copyguard_rules_works{job=~"$job"}, instance)',
                    "refresh": 2,
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "current": {},
                    "sort": 1,
                },
            ]
        },
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
