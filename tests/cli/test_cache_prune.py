"""The compiled-rules cache stays bounded: `copyguard cache prune` and the automatic prune."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.cache_prune import entries, prune


def make_entries(cache: Path, sizes: list[int]) -> list[Path]:
    """Entries oldest first, each holding ``size`` bytes, one minute apart in use."""
    paths = []
    for i, size in enumerate(sizes):
        entry = cache / f"{i:032x}"
        entry.mkdir(parents=True)
        (entry / "automaton.bin").write_bytes(b"x" * size)
        os.utime(entry, (1_000_000 + 60 * i, 1_000_000 + 60 * i))
        paths.append(entry)
    return paths


@pytest.mark.parametrize(
    ("sizes", "keep", "max_bytes", "left"),
    [
        ([10, 10, 10, 10], 2, 1000, [2, 3]),  # count bound: the two most recently used
        ([10, 10, 10, 10], 10, 25, [2, 3]),  # size bound
        ([10, 10, 500], 10, 100, [0, 1]),  # a newest entry over the size limit goes alone
        ([10, 10], 0, 1000, []),
        ([10, 10, 10], 5, 1000, [0, 1, 2]),  # within both limits: nothing removed
    ],
)
def test_prune_keeps_the_newest_within_count_and_bytes(
    tmp_path: Path, sizes: list[int], keep: int, max_bytes: int, left: list[int]
) -> None:
    """Pruning removes least recently used entries beyond --keep or --max-bytes."""
    paths = make_entries(tmp_path, sizes)
    prune(tmp_path, keep, max_bytes)
    assert sorted(e.path for e in entries(tmp_path)) == [paths[i] for i in left]


def test_prune_spares_the_entry_in_use_and_leaves_other_files(tmp_path: Path) -> None:
    """The entry just loaded is never removed, and files that are not entries stay."""
    paths = make_entries(tmp_path, [10, 10, 10])
    (tmp_path / "wheels").mkdir()
    prune(tmp_path, keep=1, spare=paths[0])
    assert {e.path for e in entries(tmp_path)} == {paths[0], paths[2]}
    assert (tmp_path / "wheels").is_dir()


def test_cache_prune_command_reports_what_it_removed(tmp_path: Path) -> None:
    """`copyguard cache prune --keep 1` removes the older entries and says so."""
    paths = make_entries(tmp_path, [100, 200, 300])
    proc = subprocess.run(
        [sys.executable, "-m", "proxy.cli", "cache", "prune", "--cache-dir", str(tmp_path)]
        + ["--keep", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"removed {paths[0]} (100 bytes)" in proc.stdout
    assert f"removed {paths[1]} (200 bytes)" in proc.stdout
    assert proc.stdout.endswith(f"{tmp_path}: 1 entries, 300 bytes kept; 2 removed\n")
    assert [e.path for e in entries(tmp_path)] == [paths[2]]


def test_serving_prunes_old_entries_and_keeps_the_one_in_use(tmp_path: Path) -> None:
    """Loading rules for serving marks their entry used and prunes beyond the default limits."""
    from proxy.cache_prune import load_and_prune
    from proxy.matching.engines import cache_entry
    from proxy.rules import load_rules
    from proxy.settings import CACHE_KEEP_ENTRIES as KEEP_ENTRIES
    from tests.conftest import SAMPLE_RULES

    old = make_entries(tmp_path, [10] * (KEEP_ENTRIES + 2))
    catalogue = load_rules(SAMPLE_RULES)
    warnings: list[str] = []
    load_and_prune(catalogue, tmp_path, lambda event, **_: warnings.append(event))
    left = [e.path for e in entries(tmp_path)]
    assert left[0] == cache_entry(catalogue, tmp_path)  # built now: the most recently used
    assert left[1:] == old[::-1][: KEEP_ENTRIES - 1] and warnings == []
    os.utime(left[0], (1, 1))  # loaded again from the cache: marked used again
    _, cached = load_and_prune(catalogue, tmp_path, lambda event, **_: warnings.append(event))
    assert cached and entries(tmp_path)[0].path == left[0]
