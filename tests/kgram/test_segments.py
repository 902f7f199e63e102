"""Catalogues change: segments beside the base, tombstones, merge, and reload in a live proxy."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from proxy.app import make_state
from proxy.build_index import build_from_rules, merge
from proxy.demo import DemoSettings
from proxy.matching.engines import load_matcher
from proxy.matching.seam import scan_once
from proxy.reload import RulesReloader
from proxy.rules import load_rules
from proxy.settings import Settings
from tests.conftest import SAMPLE_RULES
from tests.faults.test_sigterm import STARTUP, _free_port, _refused
from tests.operate.support import FERRY, ask
from tests.proxy.harness import StartStack

POEM = "poems/lighthouse-keeper"
POEM_LINE = "I count the ships that do not come, I count the gulls that never land, I keep the lamp"
EXTRA = "a quiet orchard kept its apples through the winter while the miller sang of rivers"


def _quiet(phase: str, done: int, total: int) -> None:
    pass


def _base(tmp_path: Path) -> Path:
    out = tmp_path / "base.idx"
    build_from_rules(load_rules(SAMPLE_RULES), out, processes=1, progress=_quiet)
    return out


def _delta(tmp_path: Path) -> Path:
    delta = tmp_path / "delta"
    (delta / "prose").mkdir(parents=True)
    (delta / "prose" / "orchard.txt").write_text(EXTRA + "\n")
    return delta


def _works(matcher: object, text: str) -> list[str]:
    return [f.work for f in scan_once(matcher, text)]  # type: ignore[arg-type]


async def test_reload_adds_a_segment_and_withdraws_a_work(tmp_path: Path) -> None:
    """A work added to the rules folder and one listed as withdrawn take effect at reload."""
    base, delta = _base(tmp_path), _delta(tmp_path)
    settings = Settings(index=base, rules=delta, cache_dir=None)
    matcher, _ = load_matcher(load_rules(delta), None, None, base)
    state = make_state(settings, matcher)
    before = state.index
    assert _works(before, POEM_LINE) == [POEM] and _works(before, FERRY) == []
    (delta / "poems").mkdir()
    (delta / "poems" / "ferry.txt").write_text(FERRY)
    base.with_name("base.idx.withdrawn").write_text(f"# licence ended\n{POEM}\n")
    result = await RulesReloader(state).reload("test")
    assert result["result"] == "ok" and result["changed"], result
    assert _works(state.index, POEM_LINE) == [] and _works(state.index, FERRY) == ["poems/ferry"]
    assert _works(state.index, EXTRA) == ["prose/orchard"]
    assert _works(before, POEM_LINE) == [POEM]  # a stream in flight keeps its matcher


async def test_reload_with_a_broken_index_keeps_the_old_one(tmp_path: Path) -> None:
    """An index replaced by a damaged file is refused at reload with its reason; old rules stay."""
    base = _base(tmp_path)
    settings = Settings(index=base, cache_dir=None)
    state = make_state(settings, load_matcher(None, None, None, base)[0])
    broken = tmp_path / "broken"
    broken.write_bytes(base.read_bytes()[:5000])
    broken.chmod(0o444)
    os.replace(broken, base)
    result = await RulesReloader(state).reload("test")
    assert result["result"] == "error" and "truncated" in result["reason"]
    assert _works(state.index, POEM_LINE) == [POEM]


def test_merge_folds_segment_and_tombstones_into_a_new_base(tmp_path: Path) -> None:
    """build-index --merge gives the same answers as the base with its segment and tombstones."""
    base, delta = _base(tmp_path), _delta(tmp_path)
    base.with_name("base.idx.withdrawn").write_text(f"{POEM}\n")
    layered, _ = load_matcher(load_rules(delta), None, None, base)
    merged_path = tmp_path / "merged.idx"
    info = merge(base, load_rules(delta), merged_path, processes=1, progress=_quiet)
    merged, _ = load_matcher(None, None, None, merged_path)
    assert info["works"] == 3 and {w.id for w in merged.works} == {w.id for w in layered.works}
    for text in (POEM_LINE, EXTRA, FERRY, "Once more: " + EXTRA + " and " + POEM_LINE):
        assert scan_once(merged, text) == scan_once(layered, text)
    assert merged.word_count == layered.word_count


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_serve_index_blocks_and_sighup_applies_a_tombstone(
    start_stack: StartStack, tmp_path: Path
) -> None:
    """``serve --index``: protected text is blocked; after SIGHUP a withdrawn work passes."""
    demo = await start_stack(demo=DemoSettings(rules_dir=SAMPLE_RULES, delay_ms=0))
    base, port = _base(tmp_path), _free_port()
    env = os.environ | {"COPYGUARD_UPSTREAM": demo.upstream, "COPYGUARD_WORKERS": "1"}
    env.pop("COPYGUARD_RULES", None)
    args = ["serve", "--index", str(base), "--listen", f"127.0.0.1:{port}"]
    log = (tmp_path / "stderr").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy.cli", *args, env=env, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with asyncio.timeout(STARTUP):
            while await _refused(port):  # noqa: ASYNC110 - waiting for another process
                await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as s:
            # the work asked for by name: an answer that is no echo of the request (an echo
            # is allowed by the sample policy, with an index as with the rules)
            _, finish, _ = await ask(s, url, f"Recite {POEM}")
            assert finish == "content_filter"
            base.with_name("base.idx.withdrawn").write_text(f"{POEM}\n")
            proc.send_signal(signal.SIGHUP)
            async with asyncio.timeout(STARTUP):
                while (await ask(s, url, f"Recite {POEM}"))[1] != "stop":  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
    finally:
        proc.terminate()
        await proc.wait()
        log.close()
    assert b"Traceback" not in (tmp_path / "stderr").read_bytes()
