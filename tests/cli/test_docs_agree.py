"""The README says what the program does: every setting in its table, a quick start that runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.settings import Settings
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def _table_names() -> set[str]:
    """The names in the first cell of each row of the README's settings table."""
    table = README.split("| setting | default | meaning |", 1)[1].split("\n\n", 1)[0]
    return {n for row in table.splitlines()[1:] for n in re.findall(r"`(\w+)`", row.split("|")[1])}


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme_table(name: str) -> None:
    """Each setting has a row in the README's settings table."""
    assert name in _table_names()


def test_quick_start_installs_copyguard_on_the_path() -> None:
    """The quick start's install step is a Makefile target; activating puts copyguard on PATH."""
    block = README.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands[:3] == ["make install", "source .venv/bin/activate", "copyguard --version"]
    assert re.search(r"^install: \$\(STAMP\)$", (REPO / "Makefile").read_text(), re.M)
    # what activating does: the environment's bin first on PATH (this test runs in it)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin"}
    proc = subprocess.run(
        ["/bin/sh", "-c", "copyguard --version"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stdout.startswith("copyguard "), proc.stderr
