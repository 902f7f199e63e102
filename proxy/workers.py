"""``copyguard serve --workers N``: a small parent process and N workers on one port.

The parent serves no traffic.  It compiles the rules once into the shared cache (in a short
child process, so the parent itself stays small), then starts N workers with
``python -m proxy.workers``; each loads the matcher from the cache and binds the listen
address with SO_REUSEPORT, so the kernel spreads connections over them.  Settings reach a
worker pickled on its standard input.

- metrics: ``PROMETHEUS_MULTIPROC_DIR`` is a fresh temporary directory shared by the workers;
  every worker's ``/metrics`` adds up all of them;
- SIGHUP (or a worker's ``POST /admin/reload``, which sends SIGHUP here, or a change under the
  rules folder with ``watch_rules``): warm the cache for the new rules, then SIGHUP every worker;
- SIGTERM/SIGINT: SIGTERM every worker, wait for them to drain (``grace_period``), then stop;
- a worker that dies after it was up is started again; one that dies while starting stops all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import shutil
import signal
import sys
import tempfile
import time
from typing import Any

import structlog

from proxy.matching.index_files import IndexFileError, check_index, trust, verified
from proxy.metrics import MULTIPROC_ENV
from proxy.settings import Settings
from proxy.startup import check_upstreams

log = structlog.get_logger("copyguard")

STARTUP_SECONDS = 10.0  # a worker that exits sooner is a failed start, not a crash to recover
IN_PROCESS_CHARS = 1 << 20  # smaller catalogues are compiled in the parent, larger in a child
KILL_AFTER = 10.0  # seconds past grace_period before a worker that will not stop is killed


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics_dir = tempfile.mkdtemp(prefix="copyguard-metrics-")
        self.env = {**os.environ, MULTIPROC_ENV: self.metrics_dir}
        given = {"parent": os.getpid(), "settings": settings.model_dump()}
        self.payload = pickle.dumps(given, protocol=pickle.HIGHEST_PROTOCOL)
        # Second message to a worker: the index files this parent checksummed (None: the
        # index was refused).  Sent once the check is done, which runs while workers import.
        self.verdict: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.workers: dict[int, asyncio.subprocess.Process] = {}  # slot -> process
        self.started: dict[int, float] = {}
        self.stop = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def _child(self, *args: str) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "proxy.workers",
            *args,
            stdin=asyncio.subprocess.PIPE,
            env=self.env,
        )
        assert proc.stdin is not None
        proc.stdin.write(self.payload)
        await proc.stdin.drain()
        if args:  # the cache warmer maps no index
            proc.stdin.close()
        else:
            self.spawn(self._send_verdict(proc.stdin))
        return proc

    async def _send_verdict(self, stdin: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):  # a worker that already died
            stdin.write(await self.verdict)
            await stdin.drain()
        stdin.close()

    async def check_index(self) -> bool:
        """Checksum the index (the workers wait for it before they map it); False if refused."""
        index = self.settings.index
        try:
            if index is not None:
                await asyncio.to_thread(check_index, index)
        except IndexFileError as e:
            log.error("index_refused", reason=str(e))
            print(f"copyguard serve: {e}", file=sys.stderr)
            self.verdict.set_result(pickle.dumps(None))
            return False
        self.verdict.set_result(pickle.dumps(verified(), protocol=pickle.HIGHEST_PROTOCOL))
        return True

    async def prebuild(self) -> bool:
        """Compile the rules into the shared cache, so that the workers only load them."""
        folder = self.settings.rules_folder
        if self.settings.cache_dir is None or folder is None:
            return True  # nothing to share: every worker compiles (or maps) its own
        from proxy.cache_prune import load_and_prune
        from proxy.matching.engines import is_cached
        from proxy.rules import RulesError, load_rules

        try:  # reading the folder is quick; compiling is what a child process is for
            catalogue = await asyncio.to_thread(load_rules, folder)
        except (RulesError, OSError) as e:
            log.warning("rules_invalid", reason=str(e))
            return False
        if is_cached(catalogue, self.settings.cache_dir):
            return True
        if sum(len(w.text) for w in catalogue.works) < IN_PROCESS_CHARS:
            await asyncio.to_thread(load_and_prune, catalogue, self.settings.cache_dir, log.warning)
            return True  # small: quicker here than starting a Python process
        del catalogue
        proc = await self._child("--prebuild")
        return await proc.wait() == 0

    async def start_worker(self, slot: int) -> None:
        proc = await self._child()
        self.workers[slot] = proc
        self.started[slot] = time.monotonic()
        log.info("worker_started", slot=slot, pid=proc.pid)

    def signal_workers(self, sig: signal.Signals) -> None:
        for proc in self.workers.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)

    async def reload(self, trigger: str) -> None:
        async with self._reload_lock:
            log.info("reload_requested", trigger=trigger, workers=len(self.workers))
            await self.prebuild()  # on failure the workers keep their rules and say why
            self.signal_workers(signal.SIGHUP)

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, lambda: self.spawn(self.reload("sighup")))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        try:
            return await self._run()
        finally:
            await self._shutdown()
            for task in self._tasks:
                task.cancel()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)

    async def _run(self) -> int:
        n = self.settings.workers
        log.info("supervisor_starting", workers=n, metrics_dir=self.metrics_dir)
        if not await self.prebuild():
            log.error("prebuild_failed")
            return 1
        for slot in range(n):
            await self.start_worker(slot)
        # both while the workers import: an upstream that drops the connection attempt
        # would otherwise hold their start for the check's whole timeout
        checked, _ = await asyncio.gather(
            self.check_index(), asyncio.to_thread(check_upstreams, self.settings)
        )
        if not checked:
            return 2
        if self.settings.watch_rules:
            from proxy.reload import watch_folder

            self.spawn(watch_folder(self.settings.rules, lambda: self.reload("watch")))
        stopping = loop_task(self.stop.wait())
        while not self.stop.is_set():
            waits = {loop_task(p.wait()): slot for slot, p in self.workers.items()}
            done, _ = await asyncio.wait({stopping, *waits}, return_when=asyncio.FIRST_COMPLETED)
            for task in waits:
                if task not in done:
                    task.cancel()
            if self.stop.is_set():
                break
            for task in done - {stopping}:
                slot = waits[task]
                proc = self.workers[slot]
                self._forget(proc.pid)
                up = time.monotonic() - self.started[slot]
                log.error("worker_exited", slot=slot, pid=proc.pid, status=proc.returncode, up=up)
                if up < STARTUP_SECONDS:
                    log.error("worker_failed_to_start", slot=slot)
                    return 1
                await self.start_worker(slot)
        log.info("stopping", grace_period=self.settings.grace_period)
        return 0

    def _forget(self, pid: int) -> None:
        from prometheus_client import multiprocess

        with contextlib.suppress(OSError):
            multiprocess.mark_process_dead(pid, self.metrics_dir)  # type: ignore[no-untyped-call]

    async def _shutdown(self) -> None:
        self.signal_workers(signal.SIGTERM)
        live = [p for p in self.workers.values() if p.returncode is None]
        if live:
            waiting = asyncio.gather(*(p.wait() for p in live))
            try:
                async with asyncio.timeout(self.settings.grace_period + KILL_AFTER):
                    await waiting
            except TimeoutError:
                self.signal_workers(signal.SIGKILL)
                await asyncio.gather(*(p.wait() for p in live))
        log.info("stopped")


def loop_task(coro: Any) -> asyncio.Task[Any]:
    return asyncio.get_running_loop().create_task(coro)


async def supervise(settings: Settings) -> int:
    """Run N workers until SIGTERM/SIGINT; the exit status."""
    return await Supervisor(settings).run()


def _prebuild(settings: Settings) -> int:
    from proxy.cache_prune import load_and_prune
    from proxy.rules import RulesError, load_rules

    started = time.perf_counter()
    try:
        folder = settings.rules_folder or settings.rules
        index, cached = load_and_prune(load_rules(folder), settings.cache_dir, log.warning)
    except (RulesError, OSError) as e:
        log.error("prebuild_failed", reason=str(e))
        return 1
    seconds = round(time.perf_counter() - started, 3)
    log.info("rules_cache_ready", cached=cached, seconds=seconds, hash=index.content_hash[:16])
    return 0


def _die_with_parent() -> None:
    """On Linux, have the kernel send SIGTERM when the parent dies (even by SIGKILL)."""
    if sys.platform != "linux":
        return  # serve() also polls for a lost parent
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def main(argv: list[str]) -> int:
    """A worker (or with ``--prebuild``, the cache warmer); settings pickled on stdin."""
    from proxy.sighup import defer_sighup

    defer_sighup()  # a SIGHUP before the loop is up must not kill the worker
    given = pickle.load(sys.stdin.buffer)
    parent: int = given["parent"]
    _die_with_parent()
    if os.getppid() != parent:
        return 1  # the parent died while this process started
    settings = Settings(**given["settings"])
    from proxy.logs import configure_logging

    configure_logging(settings.log_level)
    if argv[:1] == ["--prebuild"]:
        return _prebuild(settings)
    from proxy.serve import run_loop, serve

    try:  # imported meanwhile; now the parent's word on the index (see Supervisor.verdict)
        files = pickle.load(sys.stdin.buffer)
    except EOFError:
        return 1  # the parent died
    if files is None:
        return 1  # the parent refused the index and says why
    trust(files)
    structlog.contextvars.bind_contextvars(worker=os.getpid())
    run_loop(settings, serve(settings, parent_pid=parent))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
