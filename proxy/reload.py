"""Reload the rules while serving: SIGHUP, ``POST /admin/reload`` or a change under the folder.

The new matcher is built off the event loop and then swapped in with one assignment
(``state.index = new``).  Each request takes ``state.index`` once, when it starts, so new
requests get the new rules and streams in flight finish on the rules they started with.
Rules that do not load leave the old ones in force; the reason (``file:line: ...``) is logged,
returned and counted (``copyguard_rules_reload_total{result="error"}``).
"""

from __future__ import annotations

import asyncio
import hmac
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from proxy.cache_prune import load_and_prune
from proxy.rules import RulesError, load_rules
from proxy.state import STATE, ProxyState

log = structlog.get_logger("copyguard")

WATCH_DEBOUNCE_MS = 500
FANOUT_TIMEOUT = 600.0  # seconds a worker's /admin/reload waits for the reload it asked for


class RulesReloader:
    """Reloads ``state.index`` from ``state.settings.rules``, one reload at a time.

    In a worker of ``copyguard serve --workers N`` (``parent_pid`` given), ``request`` asks
    the parent, which warms the shared cache and sends SIGHUP to every worker; the answer is
    this worker's result of that reload.
    """

    def __init__(self, state: ProxyState, parent_pid: int | None = None) -> None:
        self.state = state
        self.parent_pid = parent_pid
        self._lock = asyncio.Lock()
        self._waiters: list[asyncio.Future[dict[str, Any]]] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    async def reload(self, trigger: str = "api") -> dict[str, Any]:
        """Load the rules folder again; swap the matcher in if it loads, else keep the old."""
        async with self._lock:
            waiters, self._waiters = self._waiters, []
            result = await self._reload(trigger)
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(result)
        return result

    async def _reload(self, trigger: str) -> dict[str, Any]:
        state = self.state
        settings, metrics = state.settings, state.metrics
        started = time.perf_counter()
        try:
            folder = settings.rules_folder
            catalogue = await asyncio.to_thread(load_rules, folder) if folder else None
            if (
                catalogue is not None
                and settings.index is None
                and catalogue.content_hash == state.index.content_hash
            ):
                index, cached = state.index, True
            else:  # with an index: map it again (it may have been renamed over), rebuild tombstones
                index, cached = await asyncio.to_thread(
                    load_and_prune, catalogue, settings.cache_dir, log.warning, settings.index
                )
        except (RulesError, OSError) as e:
            metrics.rules_reloads.labels("error").inc()
            log.error("rules_reload_failed", trigger=trigger, reason=str(e))
            return {"result": "error", "reason": str(e)}
        except Exception as e:  # a builder bug must not take the old rules down with it
            metrics.rules_reloads.labels("error").inc()
            log.exception("rules_reload_failed", trigger=trigger, reason=repr(e))
            return {"result": "error", "reason": f"internal error: {e!r}"}
        changed = index is not state.index
        state.index = index  # the swap: requests starting from now on use the new matcher
        seconds = time.perf_counter() - started
        metrics.rules_reloads.labels("ok").inc()
        metrics.rules_loaded(index, seconds, time.time())
        result = {
            "result": "ok",
            "changed": changed,
            "works": len(index.works),
            "words": index.word_count,
            "hash": index.content_hash[:16],
        }
        log.info(
            "rules_reloaded", trigger=trigger, cached=cached, seconds=round(seconds, 3), **result
        )
        return result

    def spawn(self, trigger: str) -> None:
        """Start a reload from a signal handler or watcher (the task is kept until done)."""
        task = asyncio.get_running_loop().create_task(self.reload(trigger))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def request(self) -> dict[str, Any]:
        """A reload asked for over HTTP: here, or in every worker through the parent."""
        if self.parent_pid is None:
            return await self.reload("api")
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        os.kill(self.parent_pid, signal.SIGHUP)
        async with asyncio.timeout(FANOUT_TIMEOUT):
            result = await waiter
        return {**result, "workers": "all"}

    async def watch(self, on_change: Callable[[], Awaitable[None]] | None = None) -> None:
        """Reload whenever files under the rules folder change (debounced); runs until cancelled."""
        await watch_folder(self.state.settings.rules, on_change or self._changed)

    async def _changed(self) -> None:
        await self.reload("watch")


async def watch_folder(folder: Path, on_change: Callable[[], Awaitable[None]]) -> None:
    """Call ``on_change`` after each burst of changes under ``folder``."""
    from watchfiles import awatch

    log.info("watching_rules", folder=str(folder))
    async for changes in awatch(folder, debounce=WATCH_DEBOUNCE_MS, recursive=True):
        log.info("rules_changed", files=len(changes))
        await on_change()


RELOADER = web.AppKey("copyguard_reloader", RulesReloader)


def bearer_ok(request: web.Request) -> bool:
    """Whether the request carries ``admin_token`` as its bearer token (always, if unset)."""
    token = request.app[STATE].settings.admin_token
    if token is None:
        return True
    given = request.headers.get("Authorization", "")
    expected = f"Bearer {token.get_secret_value()}"
    return hmac.compare_digest(given.encode(), expected.encode())


async def reload_handler(request: web.Request) -> web.Response:
    """``POST /admin/reload``: 200 with the rules now in force, or 422 with the reason."""
    if not bearer_ok(request):
        return web.json_response(
            {"result": "error", "reason": "unauthorized"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        result = await request.app[RELOADER].request()
    except TimeoutError:
        return web.json_response({"result": "error", "reason": "reload timed out"}, status=504)
    return web.json_response(result, status=200 if result["result"] == "ok" else 422)
