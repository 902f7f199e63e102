"""``copyguard serve``: load the rules, start the listeners, stop gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time

import structlog
from aiohttp import web

from proxy.app import make_admin_app, make_app, make_state
from proxy.index_cache import load_or_build
from proxy.logs import configure_logging
from proxy.rules import load_rules
from proxy.settings import Settings, host_port

log = structlog.get_logger("copyguard")


async def serve(settings: Settings, ready: asyncio.Event | None = None) -> None:
    """Run the proxy until SIGTERM/SIGINT (or cancellation), then drain and stop."""
    started = time.perf_counter()
    catalogue = await asyncio.to_thread(load_rules, settings.rules)
    index, cached = await asyncio.to_thread(load_or_build, catalogue, settings.cache_dir)
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
    runners = [web.AppRunner(make_app(state), handler_cancellation=True, access_log=None)]
    listens = [settings.listen]
    if settings.admin_listen:
        runners.append(web.AppRunner(make_admin_app(state), access_log=None))
        listens.append(settings.admin_listen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        for runner, listen in zip(runners, listens, strict=True):
            await runner.setup()
            host, port = host_port(listen)
            await web.TCPSite(runner, host, port, shutdown_timeout=settings.grace_period).start()
            log.info("listening", address=f"http://{listen}")
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("stopping", grace_period=settings.grace_period)
    finally:
        for runner in runners:
            await runner.cleanup()
        log.info("stopped")


def run(settings: Settings) -> None:
    configure_logging(settings.log_level)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional on some platforms
        asyncio.run(serve(settings))
    else:
        uvloop.run(serve(settings))
