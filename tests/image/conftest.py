"""The built image, run with podman (or docker): `make image-test` builds it and sets
COPYGUARD_IMAGE_TEST=1; without that (plain `make test`) every test here is skipped, saying why.

Containers use the flags this kind of machine needs (tests/image/engine.sh: runc, explicit
ulimits) and only loopback: either their own network namespace, or the host's with loopback
listeners on free ports.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
ENABLE_ENV = "COPYGUARD_IMAGE_TEST"
IMAGE = os.environ.get("COPYGUARD_IMAGE", "localhost/copyguard:latest")


def engine_name() -> str:
    """docker where an engine answers, else podman (as tests/image/engine.sh decides)."""
    given = os.environ.get("ENGINE")
    if given:
        return given
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0
    ):
        return "docker"
    return "podman"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60.0) -> float:
    """Seconds until check() held; fails the test after timeout."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.25)
    return time.monotonic() - start


@dataclass
class Engine:
    name: str
    image: str
    started: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None  # for the engine's commands (None: this process's)

    def __call__(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        proc = subprocess.run(
            [self.name, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=self.env,
        )
        if check and proc.returncode != 0:
            pytest.fail(f"{self.name} {' '.join(args)}: {proc.returncode}\n{proc.stderr}")
        return proc.stdout.strip()

    def exit_code(self, *args: str) -> int:
        return subprocess.run([self.name, *args], capture_output=True, check=False).returncode

    @property
    def limits(self) -> tuple[str, str, str]:
        """podman's runtime and ulimits here: runc, not crun (crun fails on hybrid cgroups),
        and limits within this process's own (podman's defaults are above what a container
        may get here)."""
        nofile = min(16384, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        nproc = min(4096, resource.getrlimit(resource.RLIMIT_NPROC)[1])
        runtime = os.environ.get("PODMAN_RUNTIME", "runc")
        return runtime, f"nofile={nofile}:{nofile}", f"nproc={nproc}:{nproc}"

    @property
    def run_flags(self) -> list[str]:
        if self.name != "podman":
            return ["--health-interval=1s"]  # docker runs the HEALTHCHECK on its timer only
        runtime, nofile, nproc = self.limits
        return [f"--runtime={runtime}", f"--ulimit={nofile}", f"--ulimit={nproc}"]

    def start(
        self, *args: str, env: dict[str, str] | None = None, command: list[str] | None = None
    ) -> str:
        """`run -d` the image with extra run options; removed when the test ends."""
        name = f"copyguard-test-{uuid.uuid4().hex[:10]}"
        opts = [f"--env={k}={v}" for k, v in (env or {}).items()]
        self.started.append(name)  # removed even when `run` fails after creating it
        self(
            "run", "-d", "--name", name, *self.run_flags, *opts, *args, self.image, *(command or [])
        )
        return name

    def healthy(self, name: str) -> bool:
        """The image's own HEALTHCHECK, run now (podman), or its last result (docker)."""
        if self.name == "podman":
            return self.exit_code("healthcheck", "run", name) == 0
        health = json.loads(self("inspect", "--format", "{{json .State.Health}}", name) or "null")
        return isinstance(health, dict) and health.get("Status") == "healthy"

    def logs(self, name: str) -> str:
        proc = subprocess.run(
            [self.name, "logs", name], capture_output=True, text=True, check=False
        )
        return proc.stdout + proc.stderr


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """The container engine with the built image; every container started is removed."""
    if not os.environ.get(ENABLE_ENV):
        pytest.skip(f"image tests: {ENABLE_ENV} is not set (run `make image-test`)")
    eng = Engine(engine_name(), IMAGE)
    if eng.exit_code("image", "inspect", IMAGE):
        pytest.fail(f"{IMAGE} is not built (`make image`)")
    yield eng
    for name in eng.started:
        subprocess.run([eng.name, "rm", "-f", "-t", "0", name], capture_output=True, check=False)
