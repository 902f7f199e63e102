"""The layer lint: ruff's banned-api rule keeps I/O, the event loop and logging out of the core."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).with_name("ruff")


def _ruff(path: str, source: str) -> str:
    """Ruff's findings for ``source`` as if it were the file at ``path`` (nothing written)."""
    done = subprocess.run(
        [str(RUFF), "check", "--no-cache", "--select", "TID251", "--stdin-filename", path, "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    return done.stdout


@pytest.mark.parametrize("layer", ["proxy/matching", "proxy/matching/aho", "proxy/dialects"])
@pytest.mark.parametrize(
    "line", ["import asyncio", "from aiohttp import web", "import structlog.stdlib"]
)
def test_the_pure_layers_cannot_import_io(layer: str, line: str) -> None:
    """asyncio, aiohttp and structlog are banned in matching/ and dialects/."""
    module = line.split()[1].split(".")[0]
    assert f"`{module}` is banned" in _ruff(f"{layer}/probe.py", f"{line}\n")


def test_the_handlers_may_import_them() -> None:
    """The ban is per layer: the transport code imports aiohttp as it must."""
    assert "TID251" not in _ruff("proxy/probe.py", "import asyncio\nfrom aiohttp import web\n")


def test_dialects_cannot_reach_the_matcher() -> None:
    """A dialect talks to the guard it is given, never to the matcher."""
    assert "is banned" in _ruff("proxy/dialects/probe.py", "from proxy.matching import seam\n")
