"""copyguard installed outside the checkout (as the Dockerfile and users do) serves by default.

Offline stand-in for ``pip install .`` into a fresh environment: the package is built from
a copy of the checkout and installed into a new venv; only its dependencies are borrowed
from the test environment (a plain path entry, so the checkout's editable install is not).
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.operate.support import wait_healthy
from tests.operate.test_serve_process import free_port

SKIP = shutil.ignore_patterns(
    ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests", "bench"
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with copyguard built from a copy of the checkout; its bin directory."""
    root = tmp_path_factory.mktemp("installed")
    src = root / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=SKIP)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (purelib / "borrowed-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
        + ["--no-build-isolation", str(src)],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
    )
    assert proc.returncode == 0, proc.stderr
    assert "deprecated" not in proc.stderr.lower(), proc.stderr  # point 10: no licence warning
    return venv / "bin"


def run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYGUARD_")}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(bin_dir / "copyguard"), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
    )


def test_installed_copy_ships_the_sample_rules(installed: Path, tmp_path: Path) -> None:
    """The default rules folder is inside the installed package and checks clean."""
    proc = run(installed, "serve", "--print-settings", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rules = next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("rules"))
    assert rules.startswith(str(installed.parent)) and "site-packages" in rules
    assert not rules.startswith(str(REPO))
    check = run(installed, "check-rules", rules, cwd=tmp_path)
    assert check.returncode == 0 and "3 works" in check.stdout, check.stderr
    version = run(installed, "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("copyguard ")


def test_installed_copy_serves_without_rules(installed: Path, tmp_path: Path) -> None:
    """`copyguard serve` with no --rules, outside the checkout, starts and answers /healthz."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYGUARD_")}
    env.update(
        COPYGUARD_LISTEN=f"127.0.0.1:{port}",
        COPYGUARD_WORKERS="1",
        COPYGUARD_CACHE_DIR=str(tmp_path / "cache"),
    )
    proc = subprocess.Popen(
        [str(installed / "copyguard"), "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_healthy(proc, port, lambda: "copyguard serve did not come up")
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
