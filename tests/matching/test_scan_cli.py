"""`copyguard scan`: JSON lines out, exit codes, one-line reasons."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_RULES


def scan(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy.cli", "scan", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


POEM_LINE = "I count the ships that do not come, I count the gulls that never land, I keep the lamp"


def test_jsonl_mode_gives_one_line_per_input_in_order(tmp_path: Path) -> None:
    """With --jsonl each input line yields one output line with its id and findings."""
    lines = [{"id": "a", "text": "hello there"}, {"id": 2, "text": "Well: " + POEM_LINE}]
    proc = scan(
        "--rules",
        str(SAMPLE_RULES),
        "--no-cache",
        "--jsonl",
        "-",
        stdin="\n".join(json.dumps(x) for x in lines),
    )
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0
    assert [o["id"] for o in out] == ["a", 2] and out[0]["findings"] == []
    (finding,) = out[1]["findings"]
    assert finding["work"] == "poems/lighthouse-keeper" and finding["start"] == 6
    assert finding["end"] == len("Well: " + POEM_LINE) and finding["words"] == 19
    assert set(finding) >= {"work", "title", "start", "end", "words", "source_start", "source_end"}


def test_files_are_scanned_one_line_each(tmp_path: Path) -> None:
    """Plain files are inputs too; the id is the file name."""
    f = tmp_path / "out.txt"
    f.write_text(POEM_LINE)
    proc = scan("--rules", str(SAMPLE_RULES), "--no-cache", str(f))
    assert proc.returncode == 0 and json.loads(proc.stdout)["id"] == str(f)


def test_min_words_override(tmp_path: Path) -> None:
    """--min-words raises the bar: a 20-word run is not a finding at 25."""
    proc = scan(
        "--rules", str(SAMPLE_RULES), "--no-cache", "--min-words", "25", "-", stdin=POEM_LINE
    )
    assert json.loads(proc.stdout)["findings"] == []


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--rules", "/nonexistent"], "not a directory"),
        (["--rules", str(SAMPLE_RULES), "/no/such/file"], "no such file"),
        (["--rules", str(SAMPLE_RULES), "--min-words", "0"], "--min-words"),
        (["--rules", str(SAMPLE_RULES), "--bogus"], "unrecognized arguments"),
        (["--bogus"], "unrecognized arguments"),
        ([], "give --rules, --index or both"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], reason: str) -> None:
    """Bad arguments or rules: exit 2 and a one-line reason on stderr, no traceback."""
    proc = scan(*args)
    assert proc.returncode == 2
    assert reason in proc.stderr and "Traceback" not in proc.stderr


def test_bad_rules_exit_2(tmp_path: Path) -> None:
    """A broken rules folder is reported with file and line, exit 2."""
    (tmp_path / "w.jsonl").write_text("{bad\n")
    proc = scan("--rules", str(tmp_path), "-", stdin="x")
    assert proc.returncode == 2 and "w.jsonl:1: bad JSON" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_boilerplate_runs_are_listed_with_their_counts(tmp_path: Path) -> None:
    """scan --boilerplate lists each work's boilerplate run and how many works share it."""
    notice = "printed for the members of the society of friends of the lighthouse museum"
    for i, own in enumerate(["one keeper kept the lamp", "two keepers kept the log"]):
        (tmp_path / f"w{i}.txt").write_text(f"{notice}. {own}.")
    (tmp_path / "policy.toml").write_text("min_words = 6\n[boilerplate]\nmin_works = 2\n")
    proc = scan("--rules", str(tmp_path), "--no-cache", "--boilerplate")
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0
    assert [(o["boilerplate"], o["words"], o["shared_by_works"]) for o in lines] == [
        ("w0", len(notice.split()), 2),
        ("w1", len(notice.split()), 2),
    ]
