"""`copyguard scan`: JSON lines or a readable report, exit codes, one-line reasons."""

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


@pytest.mark.parametrize(
    ("line", "want_id", "reason"),
    [
        ('{"id": "x7"}', "x7", 'no "text" string'),
        ('{"id": "x8", "text": 3}', "x8", 'no "text" string'),
        ('{"text": "hello"}', None, 'no "id"'),
        ("[1, 2]", None, "expected"),
        ("{bad", None, "bad JSON"),
    ],
)
def test_unusable_jsonl_lines_are_errors_that_keep_their_id(
    line: str, want_id: str | None, reason: str
) -> None:
    """A jsonl line that cannot be scanned is an error line, with its id when it has one; exit 1."""
    proc = scan("--rules", str(SAMPLE_RULES), "--no-cache", "--jsonl", "-", stdin=line + "\n")
    (out,) = [json.loads(x) for x in proc.stdout.splitlines()]
    assert proc.returncode == 1
    assert out["id"] == want_id and reason in out["error"] and "-:1:" in out["error"]


@pytest.mark.parametrize(
    "data", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"caf\xe9 latin-1", b"text\x00with NUL"]
)
def test_binary_input_is_an_error_not_a_clean_result(tmp_path: Path, data: bytes) -> None:
    """A binary or non-UTF-8 file is reported as unreadable (exit 1), never as 'no findings'."""
    f = tmp_path / "blob.bin"
    f.write_bytes(data)
    proc = scan("--rules", str(SAMPLE_RULES), "--no-cache", str(f))
    (out,) = [json.loads(x) for x in proc.stdout.splitlines()]
    assert proc.returncode == 1 and "findings" not in out
    assert out["id"] == str(f) and str(f) in out["error"]


def test_top_level_work_has_no_collection(tmp_path: Path) -> None:
    """A work at the top of the rules folder reports collection null, not an empty string."""
    (tmp_path / "ode.txt").write_text(POEM_LINE)
    proc = scan("--rules", str(tmp_path), "--no-cache", "-", stdin=POEM_LINE)
    (finding,) = json.loads(proc.stdout)["findings"]
    assert finding["work"] == "ode" and finding["collection"] is None


def test_text_format_shows_findings_excerpts_and_a_summary(tmp_path: Path) -> None:
    """--format text: each finding with work, title, offsets and the excerpt, then the tables."""
    clean, dirty = tmp_path / "clean.txt", tmp_path / "dirty.txt"
    clean.write_text("nothing protected here")
    dirty.write_text("Well: " + POEM_LINE)
    files = (str(clean), str(dirty))
    proc = scan("--rules", str(SAMPLE_RULES), "--no-cache", "--format", "text", *files)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{dirty}: 1 finding"
    assert "poems/lighthouse-keeper “The Lighthouse Keeper's Ledger” (poems, block)" in lines[1]
    assert "characters 6-92, 19 words" in lines[1]
    assert lines[2].strip() == "“I count the ships that do not … that never land, I keep the lamp”"
    assert "2 inputs scanned, 1 with findings, 1 finding" in proc.stdout
    assert "findings by work" in proc.stdout and "findings by collection" in proc.stdout
    assert str(clean) not in proc.stdout  # clean inputs only count in the summary


def test_json_is_the_default_when_piped() -> None:
    """Without --format, output that is not a terminal gets JSON lines (scripts keep working)."""
    proc = scan("--rules", str(SAMPLE_RULES), "--no-cache", "-", stdin=POEM_LINE)
    assert json.loads(proc.stdout)["id"] == "-"


def test_progress_bar_goes_to_stderr(tmp_path: Path) -> None:
    """--progress draws a byte-counting bar on stderr; stdout stays clean JSON."""
    f = tmp_path / "big.jsonl"
    f.write_text("\n".join(json.dumps({"id": i, "text": "plain words"}) for i in range(2000)))
    proc = scan("--rules", str(SAMPLE_RULES), "--no-cache", "--jsonl", "--progress", str(f))
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 2000
    size = f.stat().st_size
    assert "scanning" in proc.stderr and f"{size / 1000:.1f}/{size / 1000:.1f} kB" in proc.stderr


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
