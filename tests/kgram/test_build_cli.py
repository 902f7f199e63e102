"""``copyguard build-index`` and ``scan --index``: progress, atomic output, one-line reasons."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.build_index import build_from_rules
from proxy.rules import iter_works, load_rules
from tests.conftest import SAMPLE_RULES

POEM_LINE = "I count the ships that do not come, I count the gulls that never land, I keep the lamp"


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def test_build_then_scan_finds_what_scan_with_rules_finds(tmp_path: Path) -> None:
    """An index built from the sample rules gives the same scan output as the rules folder."""
    out = tmp_path / "sample.idx"
    built = cli("build-index", "--rules", str(SAMPLE_RULES), "--out", str(out))
    assert built.returncode == 0, built.stderr
    assert "build_progress phase='words'" in built.stderr  # not a terminal: log lines
    assert out.stat().st_mode & 0o222 == 0  # read-only: replaced by rename only
    text = "Well: " + POEM_LINE
    by_index = cli("scan", "--index", str(out), "-", stdin=text)
    by_rules = cli("scan", "--rules", str(SAMPLE_RULES), "--no-cache", "-", stdin=text)
    assert by_index.returncode == 0, by_index.stderr
    assert json.loads(by_index.stdout) == json.loads(by_rules.stdout)
    assert json.loads(by_index.stdout)["findings"][0]["work"] == "poems/lighthouse-keeper"


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["build-index", "--out", "x.idx"], "give --rules"),
        (["build-index", "--rules", "/nonexistent", "--out", "x.idx"], "not a directory"),
        (["scan", "-"], "give --rules, --index or both"),
        (["scan", "--index", "/nonexistent.idx", "-"], "cannot open the index"),
    ],
)
def test_bad_command_lines_get_one_line(args: list[str], reason: str) -> None:
    """Missing or wrong arguments: exit 2 and one line naming the problem."""
    proc = cli(*args)
    assert proc.returncode == 2 and reason in proc.stderr and proc.stderr.count("\n") == 1


def test_an_interrupted_build_leaves_the_previous_index(tmp_path: Path) -> None:
    """A build stopped part way leaves the old file untouched and no temporary files."""
    out = tmp_path / "sample.idx"
    catalogue = load_rules(SAMPLE_RULES)
    build_from_rules(catalogue, out, processes=1, progress=lambda *a: None)
    before = out.read_bytes()

    def interrupt(phase: str, done: int, total: int) -> None:
        if phase == "windows":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_from_rules(catalogue, out, processes=1, progress=interrupt)
    assert out.read_bytes() == before and sorted(tmp_path.iterdir()) == [out]


@pytest.mark.parametrize("processes", [1, 2])
def test_a_folder_read_file_by_file_gives_the_same_index(tmp_path: Path, processes: int) -> None:
    """Works streamed from the folder (on a pool or not) build the file built from them loaded."""
    whole, streamed = tmp_path / "whole.idx", tmp_path / "streamed.idx"
    build_from_rules(load_rules(SAMPLE_RULES), whole, processes=1, progress=lambda *a: None)
    bare = load_rules(SAMPLE_RULES, texts=False)
    assert all(w.text == "" for w in bare.works)
    build_from_rules(
        bare,
        streamed,
        processes=processes,
        progress=lambda *a: None,
        texts=iter_works(SAMPLE_RULES),
        total=0 if processes == 1 else 1 << 30,  # a large total takes the pool
    )
    assert streamed.read_bytes() == whole.read_bytes()
