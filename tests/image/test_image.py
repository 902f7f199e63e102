"""The image as users run it: healthy on whatever port COPYGUARD_LISTEN says, non-root, the
mounted rules in force, clean answers unchanged and protected ones cut, SIGTERM drains.

The model server is the demo upstream from the same image (`copyguard demo-upstream`), both
containers on the host's network with loopback listeners on free ports.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from openai import OpenAI

from proxy.demo.answers import echo64
from proxy.matching.engines import load_matcher
from proxy.matching.normalize import words
from proxy.rules import load_rules
from proxy.scan import scan_text
from tests.conftest import SAMPLE_RULES
from tests.image.conftest import Engine, free_port, http_ok, wait_for

GRACE = 20.0
MIN_WORDS = 12  # the default policy
CLEAN = (
    "Tides follow the moon because its gravity pulls harder on the near side of the Earth "
    "than on the far side, which stretches the oceans into two bulges."
)
# A work only the mounted rules folder holds (the image bakes in the samples instead).
WORK_TITLE = "The Salt Road Almanac"
WORK = (
    "Before the salt road reached the northern marshes the carters slept beside their wagons "
    "and counted the frogs instead of the miles, and every spring the ledger of the toll house "
    "recorded a different number of bridges, as if the river rebuilt itself each winter out of "
    "spite and left the surveyors to argue about which of them had drawn the honest map."
)
LIGHTHOUSE = (SAMPLE_RULES / "poems" / "lighthouse-keeper.txt").read_text().split("---\n")[2]


def ask(base: str, text: str, stream: bool) -> tuple[str, str]:
    """(text, finish_reason) an openai SDK client gets when the demo model echoes `text`
    (sent base64-encoded: a passage the request itself carries may be echoed back)."""
    with OpenAI(base_url=base + "/v1", api_key="sk-image", max_retries=0, timeout=60) as c:
        kwargs = {"model": "demo", "messages": [{"role": "user", "content": echo64(text)}]}
        if not stream:
            resp = c.chat.completions.create(**kwargs)  # type: ignore[call-overload]
            return resp.choices[0].message.content or "", str(resp.choices[0].finish_reason)
        out, finish = "", ""
        for chunk in c.chat.completions.create(stream=True, **kwargs):  # type: ignore[call-overload]
            for choice in chunk.choices:
                out += choice.delta.content or ""
                finish = choice.finish_reason or finish
        return out, finish


@dataclass(frozen=True)
class Guarded:
    upstream: str
    proxy: str
    name: str  # copyguard's container
    rules: Path


def mounted_rules(root: Path) -> Path:
    """A rules folder readable by the image's uid 10001, holding only WORK."""
    rules = root / "rules"
    (rules / "prose").mkdir(parents=True)
    (rules / "prose" / "salt-road.txt").write_text(f"---\ntitle: {WORK_TITLE}\n---\n{WORK}\n")
    for p in [root, rules, rules / "prose"]:
        p.chmod(0o755)
    (rules / "prose" / "salt-road.txt").chmod(0o644)
    return rules


def start_pair(engine: Engine, rules: Path, delay_ms: int = 5, workers: int = 1) -> Guarded:
    """The demo upstream and copyguard (mounted rules) from the image, on host loopback."""
    up_port, port = free_port(), free_port()
    engine.start(
        "--network=host",
        "--entrypoint=copyguard",
        command=[
            "demo-upstream",
            "--host",
            "127.0.0.1",
            "--port",
            str(up_port),
            "--delay-ms",
            str(delay_ms),
        ],
    )
    upstream = f"http://127.0.0.1:{up_port}"
    wait_for(lambda: http_ok(upstream + "/v1/models"), "demo upstream")
    name = engine.start(
        "--network=host",
        f"--volume={rules}:/rules:ro",
        env={
            "COPYGUARD_LISTEN": f"127.0.0.1:{port}",
            "COPYGUARD_UPSTREAM": upstream,
            "COPYGUARD_WORKERS": str(workers),
            "COPYGUARD_GRACE_PERIOD": str(GRACE),
        },
    )
    proxy = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_ok(proxy + "/readyz"), f"copyguard /readyz\n{engine.logs(name)}")
    return Guarded(upstream, proxy, name, rules)


@pytest.fixture(scope="module")
def guarded(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    """copyguard in front of the demo upstream, both from the image, for this module."""
    yield start_pair(engine, mounted_rules(tmp_path_factory.mktemp("image")))


@pytest.mark.parametrize("listen", [None, "0.0.0.0:9091", "127.0.0.1:9092", "[::]:9093"], ids=str)
def test_healthcheck_follows_listen(engine: Engine, listen: str | None) -> None:
    """The image's HEALTHCHECK passes on the default port and on whatever COPYGUARD_LISTEN
    names; probing the default port when another is set fails (so the check can fail)."""
    env = {"COPYGUARD_LISTEN": listen} if listen else {}
    name = engine.start("--network=none", env=env)
    took = wait_for(lambda: engine.healthy(name), f"healthy\n{engine.logs(name)}")
    print(f"\n[health/{listen or 'default'}] healthy after {took:.1f} s")
    if listen and not listen.startswith("[::]"):
        probe = "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"
        assert engine.exit_code("exec", name, "python", "-c", probe) != 0


def test_runs_as_non_root(engine: Engine, guarded: Guarded) -> None:
    """The image's user is 10001 and every copyguard process in the container runs as it."""
    assert engine("image", "inspect", "--format", "{{.Config.User}}", engine.image) == "10001:10001"
    pids = engine("exec", guarded.name, "sh", "-c", "ls -d /proc/[0-9]* | cut -d/ -f3").split()
    uids = {}
    for pid in pids:
        status = engine("exec", guarded.name, "cat", f"/proc/{pid}/status", check=False)
        cmd = engine("exec", guarded.name, "cat", f"/proc/{pid}/cmdline", check=False)
        if "copyguard" in cmd:
            uids[pid] = next(x.split()[1:] for x in status.splitlines() if x.startswith("Uid:"))
    assert uids, pids
    assert all(u == ["10001"] * 4 for u in uids.values()), uids


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_clean_answer_unchanged(guarded: Guarded, stream: bool) -> None:
    """A clean answer reaches an SDK client through the container exactly as directly."""
    direct = ask(guarded.upstream, CLEAN, stream)
    assert direct == (CLEAN, "stop")
    assert ask(guarded.proxy, CLEAN, stream) == direct


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_mounted_rules_in_force(guarded: Guarded, stream: bool) -> None:
    """The mounted work is cut (content_filter, no min_words run reaches the client); the
    baked-in sample it replaced passes, so the mount, not the image's /rules, is in force."""
    index = load_matcher(load_rules(guarded.rules), None)[0]
    answer = f"{CLEAN} {WORK}"
    assert ask(guarded.upstream, answer, stream) == (answer, "stop")
    text, finish = ask(guarded.proxy, answer, stream)
    mode = "stream" if stream else "whole"
    print(
        f"\n[protected/{mode}] {len(words(text))} of {len(words(answer))} words reached the client"
    )
    assert finish == "content_filter"
    assert scan_text(index, text) == []
    assert answer.startswith(text)
    assert len(words(text)) >= len(words(CLEAN)) - MIN_WORDS  # the clean start arrives
    assert ask(guarded.proxy, LIGHTHOUSE, stream) == ask(guarded.upstream, LIGHTHOUSE, stream)
    with urllib.request.urlopen(guarded.proxy + "/metrics", timeout=5) as resp:
        metrics = resp.read().decode()
    assert 'work="prose/salt-road"' in metrics, metrics[:2000]


def test_sigterm_drains_then_exits_zero(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """SIGTERM during a stream: the stream finishes whole, then the container exits 0 within
    the grace period (supervisor and two workers)."""
    pair = start_pair(
        engine, mounted_rules(tmp_path_factory.mktemp("drain")), delay_ms=40, workers=2
    )
    long_clean = " ".join([CLEAN] * 3)  # ~100 chunks of 4 characters: ~4 s at 40 ms
    result: dict[str, tuple[str, str]] = {}
    first = threading.Event()

    def stream() -> None:
        with OpenAI(
            base_url=pair.proxy + "/v1", api_key="sk-image", max_retries=0, timeout=60
        ) as c:
            out, finish = "", ""
            for chunk in c.chat.completions.create(
                model="demo",
                messages=[{"role": "user", "content": f"echo: {long_clean}"}],
                stream=True,
            ):
                for choice in chunk.choices:
                    out += choice.delta.content or ""
                    finish = choice.finish_reason or finish
                first.set()
            result["got"] = (out, finish)

    reader = threading.Thread(target=stream)
    reader.start()
    assert first.wait(30)
    start = time.monotonic()
    engine("kill", "--signal", "TERM", pair.name)
    code = engine("wait", pair.name, timeout=GRACE + 30)
    took = time.monotonic() - start
    reader.join(30)
    print(f"\n[sigterm] exited {code} {took:.1f} s after SIGTERM (grace period {GRACE:.0f} s)")
    assert result["got"] == (long_clean, "stop")
    assert code == "0", engine.logs(pair.name)
    assert took < GRACE
