"""Index files: refused with a one-line reason when truncated, corrupt, foreign or stale."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from proxy.matching.catalogue import Catalogue, Policy, Rule, Work
from proxy.matching.kgram.layout import IndexFileError, open_index
from proxy.matching.seam import scan_once
from tests.kgram.support import build_kgram

TEXT = "the keeper climbs the winding stair to light the lamp for ships that never come home"


def _built(tmp_path: Path) -> Path:
    catalogue = Catalogue((Work("poem", TEXT),), Policy(Rule(min_words=6)), "h")
    build_kgram(catalogue, tmp_path / "i.idx")
    return tmp_path / "i.idx"


def _rewrite(path: Path, change: Callable[[bytearray], bytes | bytearray]) -> None:
    data = change(bytearray(path.read_bytes()))
    path.chmod(0o644)
    path.write_bytes(data)
    path.chmod(0o444)


def _flip(at: int) -> Callable[[bytearray], bytearray]:
    def change(b: bytearray) -> bytearray:
        b[at if at >= 0 else len(b) + at] ^= 0xFF
        return b

    return change


CASES: dict[str, tuple[Callable[[bytearray], bytes | bytearray], str]] = {
    "truncated": (lambda b: b[: len(b) // 2], "truncated"),
    "extended": (lambda b: b + b"\0", "truncated or extended"),
    "data byte": (_flip(4100), "data checksum"),
    "metadata byte": (_flip(-3), "metadata checksum"),
    "foreign": (lambda b: b"PK\x03\x04" + b[4:], "not a copyguard index"),
    "empty": (lambda b: b"", "not a copyguard index"),
    "stale": (lambda b: b[:8] + struct.pack("<I", 0) + b[12:], "format 0"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_files_are_refused_with_a_reason(tmp_path: Path, case: str) -> None:
    """Each kind of damage gives IndexFileError naming the file and the reason, on one line."""
    path = _built(tmp_path)
    change, reason = CASES[case]
    _rewrite(path, change)
    with pytest.raises(IndexFileError) as e:
        open_index(path)
    assert reason in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_writable_index_is_refused(tmp_path: Path) -> None:
    """A mapped file must be replaced by rename, never rewritten: writable files are refused."""
    path = _built(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o444
    path.chmod(0o644)
    with pytest.raises(IndexFileError, match="read-only"):
        open_index(path)


def test_a_renamed_replacement_leaves_the_old_mapping_working(tmp_path: Path) -> None:
    """A matcher keeps answering from its mapping after a new file is renamed over the path."""
    path = _built(tmp_path)
    from proxy.matching.kgram.engine import KgramMatcher

    old = KgramMatcher(open_index(path))
    other = Catalogue((Work("other", "a b c d e f g h i j k l"),), Policy(Rule(6)), "h2")
    build_kgram(other, tmp_path / "new.idx")
    os.replace(tmp_path / "new.idx", path)
    assert [f.work for f in scan_once(old, TEXT)] == ["poem"]
    assert [w.id for w in KgramMatcher(open_index(path)).works] == ["other"]


def test_scan_refuses_a_bad_index_without_a_traceback(tmp_path: Path) -> None:
    """``copyguard scan --index`` on a corrupt file: exit 2, one line on stderr."""
    path = _built(tmp_path)
    _rewrite(path, _flip(4100))
    proc = subprocess.run(
        [sys.executable, "-m", "proxy.cli", "scan", "--index", str(path), "-"],
        input=TEXT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "data checksum" in proc.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_refuses_a_corrupt_index_before_serving(tmp_path: Path, workers: str) -> None:
    """``serve --index`` on a corrupt file exits 2 with the reason, with one process or workers.

    With workers the parent checksums the file while they start; none of them may serve it.
    """
    path = _built(tmp_path)
    _rewrite(path, _flip(4100))
    args = ["serve", "--index", str(path), "--listen", "127.0.0.1:0", "--workers", workers]
    env = {**os.environ, "COPYGUARD_UPSTREAM": "http://127.0.0.1:9", "TMPDIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "proxy.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
    )
    said = [line for line in proc.stderr.splitlines() if line.startswith("copyguard serve:")]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout
    assert len(said) == 1 and "data checksum" in said[0] and str(path) in said[0]
    assert '"event": "listening"' not in proc.stdout + proc.stderr
