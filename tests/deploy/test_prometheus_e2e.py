"""A real Prometheus scrapes a real copyguard; every dashboard and alert expression must
parse and return data through Prometheus's HTTP API.

Prometheus is Debian's ``prometheus`` binary (``.ci/run`` installs it); copyguard and the demo
upstream run as ``copyguard serve`` / ``copyguard demo-upstream`` subprocesses with the sample
rules, serving clean, blocked, redacted and failing (dead upstream route) traffic.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from proxy.metrics import Metrics
from tests.conftest import SAMPLE_RULES
from tests.deploy.exprs import (
    ALERTS,
    alerts,
    dashboard_exprs,
    metric_names,
    variable_queries,
)

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
JOB = "copyguard"
# What Grafana substitutes; windows short enough for a test that lasts seconds.
GRAFANA_VARS = {"$__rate_interval": "10s", "$__interval": "2s", "$__range": "1m"}


@dataclass
class Stack:
    prometheus: str
    copyguard: str
    instance: str
    logs: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str, timeout: float = 5) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def _wait(url: str, what: str, proc: subprocess.Popen[bytes], log: Path, secs: float = 20) -> None:
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    pytest.fail(f"{what} not up after {secs} s:\n{log.read_text()[-3000:]}")


def _copyguard(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("copyguard")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from proxy.cli import main; raise SystemExit(main())", *args]


def _post(base: str, path: str, body: dict[str, Any]) -> int:
    req = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer unused"},
    )
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            r.read()
            status: int = r.status
            return status
    except urllib.error.HTTPError as e:
        e.read()
        e.close()
        return e.code


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _traffic(base: str) -> None:
    """Clean, blocked (poems: block), redacted (songs: redact) and failing requests."""
    for stream in (True, False):
        for prompt in ("Say something nice", "Recite the lighthouse poem", "Sing the river song"):
            assert (
                _post(
                    base,
                    "/v1/chat/completions",
                    {"model": "demo", "stream": stream, "messages": user(prompt)},
                )
                == 200
            )
        assert (
            _post(
                base,
                "/v1/responses",
                {"model": "demo", "stream": stream, "input": "Tell the cartographer story"},
            )
            == 200
        )
        assert (
            _post(
                base,
                "/api/chat",
                {"model": "demo", "stream": stream, "messages": user("Sing the river song")},
            )
            == 200
        )
        # /v1/messages is routed to a closed port: a 502 and an upstream connect error.
        assert (
            _post(
                base,
                "/v1/messages",
                {"model": "demo", "max_tokens": 64, "stream": stream, "messages": user("hello")},
            )
            == 502
        )


def _query(prom: str, expr: str) -> dict[str, Any]:
    url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        return dict(_get(url))
    except urllib.error.HTTPError as e:  # 400 with an error body: does not parse
        body = json.loads(e.read())
        e.close()
        return dict(body)


def _substitute(expr: str, stack: Stack) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return expr.replace("$job", JOB).replace("$instance", stack.instance)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not os.access(PROMETHEUS, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail("prometheus binary not found: .ci/run must apt-get install prometheus")
        pytest.skip(
            "prometheus binary not found: apt-get install prometheus (.ci/run does) to run "
            "the dashboard/alert expressions against a real Prometheus"
        )
    tmp = tmp_path_factory.mktemp("prom-e2e")
    demo_port, cg_port, prom_port, dead_port = (_free_port() for _ in range(4))
    procs: list[subprocess.Popen[bytes]] = []
    logs = []

    def start(name: str, cmd: list[str], env: dict[str, str] | None = None) -> Path:
        log = tmp / f"{name}.log"
        with log.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
                )
            )
        logs.append(log)
        return log

    try:
        demo = start(
            "demo",
            _copyguard(
                "demo-upstream", "--host", "127.0.0.1", "--port", str(demo_port), "--delay-ms", "1"
            ),
        )
        _wait(f"http://127.0.0.1:{demo_port}/v1/models", "demo upstream", procs[-1], demo)
        cg = start(
            "copyguard",
            _copyguard("serve"),
            {
                "COPYGUARD_UPSTREAM": f"http://127.0.0.1:{demo_port}",
                "COPYGUARD_LISTEN": f"127.0.0.1:{cg_port}",
                "COPYGUARD_RULES": str(SAMPLE_RULES),
                "COPYGUARD_CACHE_DIR": str(tmp / "cache"),
                "COPYGUARD_ROUTES": json.dumps({"/v1/messages": f"http://127.0.0.1:{dead_port}"}),
                "COPYGUARD_CONNECT_TIMEOUT": "2",
                "COPYGUARD_WORKERS": "2",  # metrics summed across worker processes
            },
        )
        base = f"http://127.0.0.1:{cg_port}"
        _wait(base + "/healthz", "copyguard", procs[-1], cg)
        config = tmp / "prometheus.yml"
        config.write_text(
            json.dumps(
                {  # JSON is YAML
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(ALERTS)],
                    "scrape_configs": [
                        {
                            "job_name": JOB,
                            "static_configs": [{"targets": [f"127.0.0.1:{cg_port}"]}],
                        }
                    ],
                }
            )
        )
        prom = f"http://127.0.0.1:{prom_port}"
        plog = start(
            "prometheus",
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--log.level=warn",
            ],
        )
        _wait(prom + "/-/ready", "prometheus", procs[-1], plog)
        _traffic(base)
        # A successful reload (result="ok") must not look like a failing one.
        assert _post(base, "/admin/reload", {}) == 200
        time.sleep(2)
        _traffic(base)  # counters move between scrapes, so rates are not all 0
        # Wait for three scrapes after the traffic.
        deadline = time.monotonic() + 20
        q = f'count_over_time(copyguard_blocked_streams_total{{job="{JOB}"}}[5s])'
        while time.monotonic() < deadline:
            result = _query(prom, q)["data"]["result"]
            if result and min(float(r["value"][1]) for r in result) >= 3:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"prometheus did not scrape copyguard:\n{plog.read_text()[-3000:]}")
        yield Stack(prom, base, f"127.0.0.1:{cg_port}", tmp)
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.fixture(scope="module")
def names(stack: Stack) -> set[str]:
    """Series names Prometheus holds, and every family copyguard's Metrics declares: a
    labelled counter has no series until it first counts (matcher failures, reloads)."""
    held = set(_get(f"{stack.prometheus}/api/v1/label/__name__/values")["data"])
    declared = set()
    for line in generate_latest(Metrics(CollectorRegistry()).registry).decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            suffixes = ("_bucket", "_sum", "_count") if kind == "histogram" else ("",)
            declared |= {name + s for s in suffixes}
    return held | declared


@pytest.mark.parametrize("title,expr", dashboard_exprs(), ids=[t for t, _ in dashboard_exprs()])
def test_dashboard_expression_returns_data(stack: Stack, title: str, expr: str) -> None:
    answer = _query(stack.prometheus, _substitute(expr, stack))
    assert answer["status"] == "success", f"{title}: {answer.get('error')}"
    assert answer["data"]["result"], f"{title}: no data for {expr}"


@pytest.mark.parametrize("alert", alerts(), ids=[a.name for a in alerts()])
def test_alert_parses_and_its_signal_returns_data(
    stack: Stack, names: set[str], alert: Any
) -> None:
    answer = _query(stack.prometheus, alert.expr)
    assert answer["status"] == "success", f"{alert.name}: {answer.get('error')}"
    signal = _query(stack.prometheus, alert.signal)
    assert signal["status"] == "success", f"{alert.name}: {signal.get('error')}"
    series = signal["data"]["result"]
    assert series, f"{alert.name}: signal returns no data: {alert.signal}"
    assert {s["metric"].get("instance") for s in series} == {stack.instance}


def test_prometheus_loads_and_evaluates_every_alert(stack: Stack) -> None:
    groups = _get(f"{stack.prometheus}/api/v1/rules")["data"]["groups"]
    rules = {r["name"]: r for g in groups for r in g["rules"]}
    assert set(rules) == {a.name for a in alerts()}
    for name, rule in rules.items():
        assert rule["health"] == "ok", f"{name}: {rule.get('lastError')}"
    # Clean, busy, fresh: nothing fires here (pending counts, `for:` has not elapsed).
    assert [n for n, r in rules.items() if r["state"] == "firing"] == []


@pytest.mark.parametrize("name,selector,label", variable_queries())
def test_dashboard_variables_find_the_target(
    stack: Stack, name: str, selector: str, label: str
) -> None:
    answer = _query(stack.prometheus, _substitute(selector, stack))
    values = {s["metric"].get(label) for s in answer["data"]["result"]}
    assert values == {JOB if label == "job" else stack.instance}, name


def test_every_metric_used_exists(names: set[str]) -> None:
    used = metric_names([e for _, e in dashboard_exprs()] + [a.expr for a in alerts()])
    missing = sorted(used - names)
    assert not missing, f"used in deploy/ but not exposed by copyguard: {missing}"
