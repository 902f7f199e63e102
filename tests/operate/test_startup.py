"""Safe defaults at start-up: where it listens, who may reach the admin endpoints, what it logs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
from pydantic import ValidationError

from proxy.settings import Settings
from tests.conftest import REPO
from tests.operate.support import wait_healthy
from tests.operate.test_serve_process import free_port
from tests.proxy.harness import StartStack


@pytest.mark.parametrize(
    ("given", "listen"),
    [
        ("8096", "127.0.0.1:8096"),  # a port alone is loopback, never every interface
        (":8096", "127.0.0.1:8096"),
        ("0.0.0.0:8096", "0.0.0.0:8096"),
        ("[::1]:8096", "[::1]:8096"),
        (" localhost:80 ", "localhost:80"),
    ],
)
def test_listen_values(given: str, listen: str) -> None:
    """`listen` and `admin_listen` take HOST:PORT or a bare PORT meaning 127.0.0.1:PORT."""
    assert Settings(listen=given).listen == listen
    assert Settings(admin_listen=given).admin_listen == listen


@pytest.mark.parametrize("given", ["", "host", "host:", "host:99999", "host:http", ":"])
def test_bad_listen_values_are_refused(given: str) -> None:
    """An address that is not HOST:PORT is a settings error, not a surprise at bind time."""
    with pytest.raises(ValidationError, match="expected HOST:PORT"):
        Settings(listen=given)


@pytest.mark.parametrize(
    ("settings", "exposure"),
    [
        ({}, "open"),
        ({"listen": "127.0.0.2:1"}, "open"),
        ({"listen": "[::1]:1"}, "open"),
        ({"listen": "localhost:1"}, "open"),
        ({"listen": "0.0.0.0:1"}, "refused"),
        ({"listen": "[::]:1"}, "refused"),
        ({"listen": "10.1.2.3:1"}, "refused"),
        ({"listen": "proxy.internal:1"}, "refused"),
        ({"listen": "0.0.0.0:1", "admin_token": "t"}, "token"),
        ({"listen": "0.0.0.0:1", "admin_listen": "127.0.0.1:2"}, "separate"),
    ],
)
def test_admin_exposure_follows_the_listen_address(settings: dict[str, Any], exposure: str) -> None:
    """Admin endpoints ride on `listen` only where no other machine can reach them unasked."""
    assert Settings(**settings).admin_on_listen == exposure


@pytest.mark.parametrize(
    ("settings", "headers", "metrics", "reload"),
    [
        ({}, {}, 200, 200),
        ({"listen": "0.0.0.0:8080"}, {}, 403, 403),
        ({"listen": "0.0.0.0:8080", "admin_token": "t"}, {}, 401, 401),
        ({"listen": "0.0.0.0:8080", "admin_token": "t"}, {"Authorization": "Bearer x"}, 401, 401),
        ({"listen": "0.0.0.0:8080", "admin_token": "t"}, {"Authorization": "Bearer t"}, 200, 200),
        ({"listen": "0.0.0.0:8080", "admin_listen": "127.0.0.1:9091"}, {}, 404, 404),
    ],
)
async def test_admin_endpoints_on_the_client_listener(
    start_stack: StartStack,
    settings: dict[str, Any],
    headers: dict[str, str],
    metrics: int,
    reload: int,
) -> None:
    """A non-loopback listen without admin_listen serves no unauthenticated admin endpoint."""
    stack = await start_stack(**settings)
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{stack.proxy}/metrics") as r:
            assert r.status == metrics
            if metrics == 403:
                assert "admin_token" in (await r.json())["error"]["message"]
        async with session.post(f"{stack.proxy}/admin/reload") as r:
            assert r.status == reload
        async with session.get(f"{stack.proxy}/healthz") as r:
            assert r.status == 200  # health stays on the client listener for probes


def _serve_logs(tmp_path: Path, upstream: str, *args: str) -> tuple[list[dict[str, Any]], int]:
    """Start `copyguard serve ARGS`, wait until it answers, stop it; its log events and pid."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYGUARD_")}
    env.update(COPYGUARD_CACHE_DIR=str(tmp_path / "cache"), COPYGUARD_WORKERS="1")
    log = tmp_path / "serve.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "proxy.cli", "serve", "--upstream", upstream]
            + ["--listen", str(port), *args],
            cwd=REPO,
            env=env,
            stderr=err,
        )
        try:
            wait_healthy(proc, port, log.read_text)
            tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children()]  # workers
            bound = {c.laddr for p in tree for c in p.net_connections("tcp")}
            assert bound == {("127.0.0.1", port)}, bound  # `--listen PORT` is loopback only
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    return events, port


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("reachable", [True, False])
def test_start_up_log_says_what_is_in_force(tmp_path: Path, reachable: bool, workers: int) -> None:
    """The first event lists upstream, rules, addresses, workers and loop; a dead upstream warns.

    With workers, the parent checks the upstream while they start, and warns once.
    """
    with socket.socket() as upstream_sock:
        upstream_sock.bind(("127.0.0.1", 0))
        if reachable:
            upstream_sock.listen()
        upstream = f"http://127.0.0.1:{upstream_sock.getsockname()[1]}"
        events, port = _serve_logs(tmp_path, upstream, "--workers", str(workers))
    by_name = {e["event"]: e for e in events}
    start = events[0]
    assert start["event"] == "starting" and start["upstream"] == upstream
    assert start["listen"] == f"http://127.0.0.1:{port}"
    assert start["admin"] == f"http://127.0.0.1:{port} (loopback)"
    assert start["rules"] == str(REPO / "rules") and start["workers"] == workers
    assert start["event_loop"] == "asyncio" and start["cache_dir"] == str(tmp_path / "cache")
    assert by_name["listening"]["address"] == f"http://127.0.0.1:{port}"
    warned = [e for e in events if e["event"] == "upstream_unreachable"]
    assert len(warned) == (0 if reachable else 1)
    if not reachable:
        warning = by_name["upstream_unreachable"]
        assert warning["upstream"] == upstream and warning["level"] == "warning"


def test_refused_admin_endpoints_are_explained_at_start() -> None:
    """Serving on every interface without admin_token or admin_listen warns, with the fix."""
    from structlog.testing import capture_logs

    from proxy.startup import log_in_force

    with capture_logs() as logs:
        log_in_force(Settings(listen="0.0.0.0:8080"))
    start, warning = logs
    assert start["admin"].startswith("not served") and start["listen"] == "http://0.0.0.0:8080"
    assert warning["event"] == "admin_endpoints_not_served" and "admin_listen" in warning["fix"]
