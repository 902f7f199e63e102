"""``copyguard serve``: load the rules, start the listeners, stop gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Coroutine
from typing import Any

import structlog
from aiohttp import web

from proxy.app import make_admin_app, make_app, make_state
from proxy.cache_prune import load_and_prune
from proxy.reload import RulesReloader
from proxy.rules import load_rules
from proxy.settings import Settings, host_port
from proxy.sighup import take_deferred_sighup

log = structlog.get_logger("copyguard")
LISTEN_BACKLOG = 2048


async def serve(
    settings: Settings, ready: asyncio.Event | None = None, parent_pid: int | None = None
) -> None:
    """Run the proxy until SIGTERM/SIGINT (or cancellation), then drain and stop.

    SIGHUP reloads the rules.  ``parent_pid``: this is one of several workers (see
    ``proxy.workers``) sharing the listen port; reloads are coordinated by that parent.
    """
    started = time.perf_counter()
    folder = settings.rules_folder
    catalogue = await asyncio.to_thread(load_rules, folder) if folder else None
    index, cached = await asyncio.to_thread(
        load_and_prune, catalogue, settings.cache_dir, log.warning, settings.index
    )
    load_seconds = time.perf_counter() - started
    log.info(
        "rules_loaded",
        works=len(index.works),
        words=index.word_count,
        cached=cached,
        seconds=round(load_seconds, 3),
        hash=index.content_hash[:16],
    )
    state = make_state(settings, index, load_seconds=load_seconds)
    del catalogue, index  # a reload replaces state.index: hold no other reference to the first
    reloader = RulesReloader(state, parent_pid)
    app = make_app(state, reloader)
    if parent_pid is not None:
        app.on_response_prepare.append(_worker_header)
    grace = settings.grace_period  # on the runner: TCPSite(shutdown_timeout=) is deprecated
    runners = [
        web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=grace)
    ]
    listens = [settings.listen]
    if settings.admin_listen:
        runners.append(
            web.AppRunner(make_admin_app(state, reloader), access_log=None, shutdown_timeout=grace)
        )
        listens.append(settings.admin_listen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError):
        loop.add_signal_handler(signal.SIGHUP, reloader.spawn, "sighup")
    if take_deferred_sighup():
        reloader.spawn("sighup")
    background = []
    if settings.watch_rules and parent_pid is None:  # with workers, the parent watches
        background.append(loop.create_task(reloader.watch()))
    if parent_pid is not None:
        background.append(loop.create_task(_stop_if_orphaned(parent_pid, stop)))
    try:
        for role, runner, listen in zip(("clients", "admin"), runners, listens, strict=False):
            await runner.setup()
            host, port = host_port(listen)
            site = web.TCPSite(
                runner,
                host,
                port,
                reuse_port=parent_pid is not None,
                # aiohttp's default of 128 overflows when hundreds of clients connect at
                # once, and the overflow shows up as connection resets.
                backlog=LISTEN_BACKLOG,
            )
            await site.start()
            # The address actually bound (a port of 0 is chosen by the kernel).
            for bound in runner.addresses:
                shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
                log.info(
                    "listening",
                    address=f"http://{shown}:{bound[1]}",
                    serves=role,
                )
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("stopping", grace_period=settings.grace_period)
    finally:
        for task in background:
            task.cancel()
        for runner in runners:
            await runner.cleanup()
        log.info("stopped")


async def _worker_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["X-Copyguard-Worker"] = str(os.getpid())


async def _stop_if_orphaned(parent_pid: int, stop: asyncio.Event) -> None:
    """A worker whose parent is gone (killed outright) stops rather than serve on alone."""
    while os.getppid() == parent_pid:  # noqa: ASYNC110 - nothing to wait on: poll
        await asyncio.sleep(1.0)
    log.warning("parent_gone", parent=parent_pid)
    stop.set()


def run_loop(settings: Settings, main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on the configured event loop (uvloop when it is installed and chosen)."""
    if settings.event_loop == "uvloop":
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is optional on some platforms
            pass
        else:
            uvloop.run(main)
            return
    asyncio.run(main)
