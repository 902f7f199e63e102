"""Proxy benchmark: copyguard against the upstream alone, bare aiohttp proxies and LiteLLM.

    python -m bench.proxies [--quick] [--litellm] [--targets a,b] [--baseline-src PATH]
        [--scenarios "C16 lockstep b8,..."] [--texts DIR] [--chunk-chars N] [--py-spy DIR]

One interleaved run (round after round, every scenario, every target in turn, so drift hits
all of them alike) against one upstream, ``bench.sse_upstream``, running in this process:
chat completions of speech text (``../shared/corpora/speeches``, or ``--texts``), 4
characters an event (``--chunk-chars``),
with the events per upstream write ("burst") and the pause between writes set per scenario.
In "lockstep" saturation the upstream writes a stream's next burst once the client has
received the last one, so every target reads the same bursts; "open" saturation writes the
next burst at once (a proxy that falls behind then reads many bursts at a time, so the
slower target reads bigger batches); "whole answer" is the old saturation (a 200-event
answer written at once, so a read carries dozens of events whatever the target).
Targets (each proxy its own process, one worker):

    direct                  the upstream itself
    bytes                   ``bench.passthrough --mode bytes`` (asyncio): an aiohttp hop
    reencode                ``bench.passthrough --mode reencode`` (asyncio): SSE split and
                            orjson loads/dumps per event, one write per read: the floor
    reencode-uvloop         the same floor on uvloop
    reencode-each           the floor writing each event on its own (a write per event)
    copyguard               ``copyguard serve`` from ``--src`` (default this checkout),
                            ``event_loop = asyncio``, gutenberg catalogue, clean speech text
    copyguard-uvloop        the same with ``event_loop = uvloop``
    copyguard-base          ``copyguard serve`` from ``--baseline-src`` (before/after runs)
    copyguard-base-uvloop   the same on uvloop
    copyguard-extra         ``copyguard serve`` from ``--extra-src`` (e.g. a compiled tree)
    copyguard-block         the ``copyguard`` process, answers quoting gutenberg (cut)
    litellm                 LiteLLM's proxy (bench/.venv-litellm), a few scenarios only

CPU per upstream chunk = the proxy process's CPU time (psutil, with children) / content
events delivered (content characters / 4); chunks per read = content events / HTTP chunks
the client received (every target but ``reencode-each`` writes once per upstream read).
Each copyguard target is compared with the floor on its own event loop, in the same
scenario and run.  Writes ``proxies.json`` and
``proxies.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil
import uvloop
from aiohttp import web

from bench.loadgen import MASTER_KEY, LoadResult, run_load
from bench.report import Segment, machine, markdown, summarise
from bench.sse_upstream import BenchUpstream, Flows, clean_passages

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPORA = ROOT.parent / "shared" / "corpora"
GUTENBERG = CORPORA / "gutenberg"
LITELLM_VENV = HERE / ".venv-litellm"
CLEAN_PROMPT = "Tell me something about benchmarks."  # bench.workers (demo upstream)
FLOORS = {"asyncio": "reencode", "uvloop": "reencode-uvloop"}
COPYGUARDS = {  # target -> (which checkout, event loop)
    "copyguard": ("src", "asyncio"),
    "copyguard-uvloop": ("src", "uvloop"),
    "copyguard-base": ("baseline_src", "asyncio"),
    "copyguard-base-uvloop": ("baseline_src", "uvloop"),
    "copyguard-extra": ("extra_src", "asyncio"),
}
TARGETS = (
    "direct", "bytes", "reencode", "reencode-uvloop", "reencode-each", *COPYGUARDS,
    "copyguard-block", "litellm",
)  # fmt: skip
DEFAULT_TARGETS = ("direct", "bytes", "reencode", "copyguard", "copyguard-block")
SERVED_BY = {"copyguard-block": "copyguard"}  # targets that load a process of another target
SOME_SCENARIOS = {  # targets that run in a few scenarios only
    "litellm": {"C50 paced b1", "C16 lockstep b1", "C64 open b1"},  # 30-60x slower
    "copyguard-block": {"C50 paced b1", "C16 lockstep b1", "C16 lockstep b8"},
    "reencode-each": {"C16 lockstep b1", "C16 lockstep b8", "C32 open b1", "C32 open b8"},
}


@dataclass(frozen=True)
class Scenario:
    name: str
    concurrency: int
    burst: int  # content events per upstream write
    delay_ms: float  # pause before each write; 0 = saturation (one burst in flight)
    chunks: int  # content events per answer
    seconds: float
    stream: bool = True
    lockstep: bool = False  # the next burst once the client has the last one
    demo: bool = False  # the demo upstream's canned paragraph instead of speech text


def scenarios(t: float) -> list[Scenario]:
    """Paced C50/C200 (one event a write, 50 a second); lockstep saturation (every target
    reads the same bursts) at three concurrencies with 1 and 8 events a write; open
    saturation (reads of whatever piled up); the old whole-answer saturation (also with the
    demo's canned text); whole bodies."""
    s = t * 0.4
    lock = [
        Scenario(f"C{c} lockstep b{b}", c, b, 0.0, 200, s, lockstep=True)
        for b in (1, 8)
        for c in (4, 16, 64)
    ]
    return [
        Scenario("C50 paced b1", 50, 1, 20.0, 100, t),
        Scenario("C200 paced b1", 200, 1, 20.0, 100, t),
        *lock,
        Scenario("C16 lockstep b1 demo text", 16, 1, 0.0, 200, s, lockstep=True, demo=True),
        Scenario("C32 open b1", 32, 1, 0.0, 200, s),  # the independent check's
        Scenario("C32 open b8", 32, 8, 0.0, 200, s),
        Scenario("C64 open b1", 64, 1, 0.0, 200, s),
        Scenario("C16 whole answer", 16, 200, 0.0, 200, s),
        Scenario("C16 whole answer demo text", 16, 200, 0.0, 200, s, demo=True),
        Scenario("C32 non-stream", 32, 1, 0.0, 200, s, stream=False),
    ]


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    version: str = ""
    ps: psutil.Process = field(init=False)

    def __post_init__(self) -> None:
        self.ps = psutil.Process(self.proc.pid)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _family(self) -> list[psutil.Process]:
        return [self.ps, *self.ps.children(recursive=True)]

    def cpu(self) -> float:
        """CPU seconds of the process and its children (LiteLLM may fork)."""
        total = 0.0
        for p in self._family():
            with suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def rss(self) -> int:
        total = 0
        for p in self._family():
            with suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def gutenberg_passages(folder: Path, count: int, words: int = 60) -> list[str]:
    """``count`` passages of ``words`` words from the middle of the catalogue's books."""
    books = [p.read_text(encoding="utf-8").split() for p in sorted(folder.rglob("*.txt"))]
    out = []
    for i in range(count):
        book = books[i % len(books)]
        start = len(book) // 3 + (i // len(books)) * 997
        out.append(" ".join(book[start : start + words]))
    return out


def ask_body(ask: dict[str, Any], stream: bool) -> bytes:
    """A chat request whose user message tells ``bench.sse_upstream`` what to send."""
    message = {"role": "user", "content": orjson.dumps(ask).decode()}
    return orjson.dumps({"model": "copyguard-demo", "messages": [message], "stream": stream})


def source_of(src: Path) -> str:
    """Which commit a checkout is at (and whether its tree is clean), for the report."""
    try:
        rev = subprocess.run(
            ["git", "-C", str(src), "describe", "--always", "--dirty"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return rev


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out: Path = args.out
        self.logs = self.out / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.flows = Flows()
        texts = clean_passages(args.texts, 64, 200 * args.chunk_chars)
        self.upstream = BenchUpstream(texts, self.flows, args.chunk_chars)
        self.blocks = gutenberg_passages(args.corpora / "gutenberg", 64)
        self.segments: list[Segment] = []
        self.targets = [t for t in TARGETS if t in {"direct", *args.targets.split(",")}]
        if args.baseline_src is None:
            self.targets = [t for t in self.targets if not t.startswith("copyguard-base")]
        if args.extra_src is None:
            self.targets = [t for t in self.targets if t != "copyguard-extra"]
        for name in self.targets:  # every copyguard is compared with the floor on its loop
            loop = COPYGUARDS.get(name, ("", ""))[1]
            if loop in FLOORS and FLOORS[loop] not in self.targets:
                self.targets.insert(self.targets.index(name), FLOORS[loop])
        self.running: dict[str, Server] = {}
        self.versions: dict[str, str] = {}

    # -- processes ---------------------------------------------------------------------
    def spawn(
        self,
        name: str,
        cmd: list[str],
        env: dict[str, str] | None = None,
        cwd: Path = ROOT,
    ) -> Server:
        port = free_port()
        cmd = [c.replace("{port}", str(port)) for c in cmd]
        env = {k: v.replace("{port}", str(port)) for k, v in (env or {}).items()}
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env}, cwd=cwd
        )
        server = Server(name, proc, port)
        if self.args.pin:  # proxies on the last core, client and upstream on the others
            cores = sorted(os.sched_getaffinity(0))
            with suppress(OSError):
                os.sched_setaffinity(proc.pid, {cores[-1]})
        return server

    def start(self, upstream: str) -> None:
        py = sys.executable
        for name in self.targets:
            if name in ("direct", "copyguard-block", "litellm"):
                continue
            if name in ("bytes", "reencode", "reencode-uvloop", "reencode-each"):
                mode = "bytes" if name == "bytes" else "reencode"
                loop = "uvloop" if name.endswith("uvloop") else "asyncio"
                cmd = [py, "-m", "bench.passthrough", "--upstream", upstream, "--port", "{port}",
                       "--mode", mode, "--loop", loop]  # fmt: skip
                if name == "reencode-each":
                    cmd.append("--write-each")
                self.running[name] = self.spawn(name, cmd)
                continue
            which, loop = COPYGUARDS[name]
            src = Path(getattr(self.args, which)).resolve()
            self.versions[name] = source_of(src)
            env = {
                "PYTHONPATH": str(src),  # this checkout's ``proxy``, not the venv's editable one
                "COPYGUARD_UPSTREAM": upstream,
                "COPYGUARD_RULES": str(self.args.corpora / "gutenberg"),
                "COPYGUARD_LISTEN": "127.0.0.1:{port}",
                "COPYGUARD_CACHE_DIR": str(self.out / f"cache-{which}"),
                "COPYGUARD_WORKERS": "1",
                "COPYGUARD_EVENT_LOOP": loop,
            }
            check = subprocess.run(
                [py, "-c", "import proxy; print(proxy.__file__)"],
                env={**os.environ, **env}, cwd=src, capture_output=True, text=True, check=True,
            )  # fmt: skip
            if not check.stdout.strip().startswith(str(src)):
                raise RuntimeError(f"{name}: imports {check.stdout.strip()}, not {src}")
            cmd = [py, "-m", "proxy.cli", "serve"]
            self.running[name] = self.spawn(name, cmd, env, cwd=src)
        if "litellm" in self.targets:
            self.running["litellm"] = self.start_litellm(upstream)

    def start_litellm(self, upstream: str) -> Server:
        config = self.out / "litellm.yaml"
        config.write_text(
            "model_list:\n"
            "  - model_name: copyguard-demo\n"
            "    litellm_params:\n"
            "      model: openai/copyguard-demo\n"
            f"      api_base: {upstream}/v1\n"
            "      api_key: bench\n"
            "litellm_settings:\n"
            "  telemetry: false\n"
            "  drop_params: true\n"
        )
        env = {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_LOG": "ERROR",
            "LITELLM_TELEMETRY": "False",
            "DISABLE_SCHEMA_UPDATE": "True",
            "NO_DOCS": "True",
            "LITELLM_MASTER_KEY": MASTER_KEY,
        }
        exe = str(LITELLM_VENV / "bin" / "litellm")
        cmd = [exe, "--config", str(config), "--host", "127.0.0.1", "--port", "{port}",
               "--num_workers", "1"]  # fmt: skip
        return self.spawn("litellm", cmd, env)

    def stop(self) -> None:
        for server in self.running.values():
            server.proc.terminate()
        for server in self.running.values():
            try:
                server.proc.wait(10)
            except subprocess.TimeoutExpired:
                server.proc.kill()

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + 180
        body = ask_body({"text": 0, "chunks": 10}, stream=False)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {MASTER_KEY}"}
        async with aiohttp.ClientSession() as session:
            for name, server in self.running.items():
                while True:
                    if server.proc.poll() is not None:
                        raise RuntimeError(f"{name} exited; see {self.logs}")
                    with suppress(aiohttp.ClientError):
                        url = server.url + "/v1/chat/completions"
                        async with session.post(url, data=body, headers=headers) as r:
                            if r.status == 200:
                                await r.read()
                                break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{name} did not start; see {self.logs}")
                    await asyncio.sleep(0.3)

    # -- load ----------------------------------------------------------------------------
    def body_maker(self, target: str, scn: Scenario) -> Callable[[int], bytes]:
        def make(i: int) -> bytes:
            ask: dict[str, Any] = {"burst": scn.burst, "delay_ms": scn.delay_ms, "flow": i}
            if scn.lockstep:
                ask["lockstep"] = True
            if target == "copyguard-block":
                ask["echo64"] = base64.b64encode(
                    self.blocks[i % len(self.blocks)].encode()
                ).decode()
            else:
                ask |= {"text": i, "chunks": scn.chunks, "demo": scn.demo}
            return ask_body(ask, scn.stream)

        return make

    async def scrape(self, server: Server | None) -> dict[str, float]:
        """A copyguard's /metrics as {sample with labels: value} (others: nothing)."""
        if server is None or not server.name.startswith("copyguard"):
            return {}
        async with aiohttp.ClientSession() as s, s.get(server.url + "/metrics") as r:
            text = await r.text()
        metrics: dict[str, float] = {}
        for line in text.splitlines():
            name, _, value = line.rpartition(" ")
            if line and not line.startswith("#"):
                with suppress(ValueError):
                    metrics[name] = float(value)
        return metrics

    async def turn(self, target: str, scn: Scenario, rnd: int, upstream_url: str) -> Segment:
        server = self.running.get(SERVED_BY.get(target, target))
        url = (server.url if server else upstream_url) + "/v1/chat/completions"
        me = psutil.Process()
        metrics0 = await self.scrape(server)
        counters0 = dict(vars(self.upstream.counters))
        stalls0 = self.flows.stalls
        cpu0 = server.cpu() if server else 0.0
        mine0 = sum(me.cpu_times()[:2])
        spy = self.py_spy(target, server, scn, rnd)
        load: LoadResult = await run_load(
            url, scn.concurrency, scn.seconds, self.body_maker(target, scn),
            stream=scn.stream, flows=self.flows,
        )  # fmt: skip
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its samples on Ctrl-C
            await asyncio.to_thread(spy.wait, 30)
        cpu = server.cpu() - cpu0 if server else sum(me.cpu_times()[:2]) - mine0
        mine = sum(me.cpu_times()[:2]) - mine0
        metrics = {k: v - metrics0.get(k, 0.0) for k, v in (await self.scrape(server)).items()}
        counters = {k: v - counters0[k] for k, v in vars(self.upstream.counters).items()}
        return Segment(
            target=target,
            scenario=scn.name,
            round=rnd,
            load=load,
            cpu=cpu,
            client_cpu=mine,
            upstream=counters,
            stalls=self.flows.stalls - stalls0,
            rss=server.rss() if server else me.memory_info().rss,
            load_avg=os.getloadavg()[0],
            metrics=metrics,
        )

    def py_spy(
        self, target: str, server: Server | None, scn: Scenario, rnd: int
    ) -> subprocess.Popen[bytes] | None:
        """With ``--py-spy DIR``: sample a copyguard target's process during its turn."""
        if self.args.py_spy is None or server is None or target not in COPYGUARDS or not rnd:
            return None
        exe = Path(sys.executable).with_name("py-spy")
        name = f"{target}-{scn.name.replace(' ', '_')}-r{rnd}.txt"
        out = self.args.py_spy / name
        cmd = [str(exe), "record", "--pid", str(server.proc.pid), "--rate", "250", "--format",
               "raw", "--output", str(out), "--nonblocking"]  # fmt: skip
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def runs_in(self, target: str, scn: Scenario) -> bool:
        return target not in SOME_SCENARIOS or scn.name in SOME_SCENARIOS[target]

    async def run(self) -> dict[str, Any]:
        runner = web.AppRunner(self.upstream.app(), access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=2048).start()
        upstream_url = f"http://127.0.0.1:{port}"
        started = time.time()
        load_start = os.getloadavg()
        try:
            self.start(upstream_url)
            await self.wait_ready()
            plan = scenarios(self.args.seconds)
            if self.args.scenarios:
                plan = [s for s in plan if s.name in self.args.scenarios.split(",")]
            for target in self.targets:  # warm-up: connections, caches, lazy imports
                await self.turn(target, Scenario("warm-up", 4, 1, 0.0, 200, 0.5), 0, upstream_url)
            for rnd in range(1, self.args.rounds + 1):
                for scn in plan:
                    for target in self.targets:
                        if not self.runs_in(target, scn):
                            continue
                        t0 = time.monotonic()
                        seg = await self.turn(target, scn, rnd, upstream_url)
                        self.segments.append(seg)
                        bad = sum(1 for r in seg.load.records if r.error)
                        print(
                            f"{scn.name:17} round {rnd} {target:22} {len(seg.load.records):5}"
                            f" requests {bad:3} failed {time.monotonic() - t0:5.1f} s"
                            f" load {seg.load_avg:4.1f}",
                            flush=True,
                        )
                        await asyncio.sleep(0.2)
        finally:
            self.stop()
            await runner.cleanup()
        summary = summarise(self.segments, self.targets, FLOORS, COPYGUARDS, self.args.chunk_chars)
        summary["run"] = {
            "seconds": round(time.time() - started),
            "machine": machine(),
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
            "rounds": self.args.rounds,
            "chunk_chars": self.args.chunk_chars,
            "texts": str(self.args.texts),
            "stalls": self.flows.stalls,
            "versions": self.versions,
            "pinned": self.args.pin,
            "command": "python -m bench.proxies " + " ".join(sys.argv[1:]),
        }
        return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--corpora", type=Path, default=CORPORA, help="gutenberg/ = the rules")
    parser.add_argument("--texts", type=Path, help="clean texts (default: corpora/speeches)")
    parser.add_argument("--chunk-chars", type=int, default=4, help="characters per event")
    parser.add_argument("--seconds", type=float, default=5.0, help="turn length, paced")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s turns (smoke)")
    parser.add_argument("--targets", default=",".join(DEFAULT_TARGETS),
                        help="comma-separated subset of " + ",".join(TARGETS))  # fmt: skip
    parser.add_argument("--litellm", action="store_true", help="add the litellm target")
    parser.add_argument("--scenarios", help="comma-separated scenario names (default: all)")
    parser.add_argument("--src", type=Path, default=ROOT, help="the copyguard checkout to run")
    parser.add_argument("--baseline-src", type=Path, help="a second checkout: copyguard-base*")
    parser.add_argument("--extra-src", type=Path, help="a third checkout: copyguard-extra")
    parser.add_argument(
        "--pin", action="store_true", help="proxies on one core, client on the rest"
    )
    parser.add_argument("--py-spy", type=Path, help="profile copyguard targets' turns into DIR")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = 2.0, 1
    args.texts = args.texts or args.corpora / "speeches"
    if args.litellm:
        args.targets += ",litellm"
        if not (LITELLM_VENV / "bin" / "litellm").exists():
            print(f"no {LITELLM_VENV}: run `make bench` first", file=sys.stderr)
            sys.exit(2)
    if args.baseline_src is not None and "copyguard-base" not in args.targets:
        args.targets += ",copyguard-base"
    if args.extra_src is not None and "copyguard-extra" not in args.targets:
        args.targets += ",copyguard-extra"
    args.out.mkdir(parents=True, exist_ok=True)
    if args.py_spy is not None:
        args.py_spy.mkdir(parents=True, exist_ok=True)
    summary = uvloop.run(Bench(args).run())
    slim = {
        "run": summary["run"],
        "scenarios": {k: v["table"] for k, v in summary["scenarios"].items()},
    }
    (args.out / "proxies.json").write_text(json.dumps(slim, indent=2))
    md = markdown(summary)
    (args.out / "proxies.md").write_text(md)
    print(md)
    print(json.dumps(summary["run"], indent=2))


if __name__ == "__main__":
    main()
