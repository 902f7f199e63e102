"""Build the aiohttp applications: the proxy itself and (optionally) a separate admin one."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from proxy.dialects import Dialect, default_dialects
from proxy.handlers import STATE, ProxyState, guarded, passthrough
from proxy.matching.index import MatchIndex
from proxy.metrics import Metrics
from proxy.settings import Settings


def make_state(
    settings: Settings,
    index: MatchIndex,
    registry: CollectorRegistry | None = None,
    dialects: list[Dialect] | None = None,
    load_seconds: float = 0.0,
) -> ProxyState:
    metrics = Metrics(registry or CollectorRegistry(), settings.metrics_work_labels)
    metrics.rules_works.set(len(index.works))
    metrics.rules_words.set(index.word_count)
    metrics.rules_load_seconds.set(load_seconds)
    metrics.rules_loaded_at.set(time.time())
    metrics.rules_info.info({"hash": index.content_hash[:16], "rules": str(settings.rules)})
    table = {path: d for d in (dialects or default_dialects()) for path in d.paths}
    return ProxyState(settings=settings, metrics=metrics, index=index, dialects=table)


def make_app(state: ProxyState) -> web.Application:
    """The proxy: guarded routes, health, metrics (unless on the admin app), and the rest."""
    app = web.Application(client_max_size=state.settings.max_request_bytes)
    app[STATE] = state
    app.cleanup_ctx.append(_client_session)
    for path in state.dialects:
        app.router.add_post(path, guarded)
    _add_health(app)
    if state.settings.admin_listen is None:
        app.router.add_get("/metrics", metrics_handler)
    else:
        app.router.add_get("/metrics", _not_here)
    app.router.add_route("*", "/{tail:.*}", passthrough)
    return app


def make_admin_app(state: ProxyState) -> web.Application:
    """Metrics and health on their own listener, away from client traffic."""
    app = web.Application()
    app[STATE] = state
    app.router.add_get("/metrics", metrics_handler)
    _add_health(app)
    return app


async def _client_session(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    settings = state.settings
    timeout = aiohttp.ClientTimeout(
        total=None, connect=settings.connect_timeout, sock_connect=settings.connect_timeout
    )
    connector = aiohttp.TCPConnector(limit=0, enable_cleanup_closed=True)
    state.session = aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=True,
        trust_env=False,
        skip_auto_headers=("User-Agent",),
    )
    yield
    await state.session.close()
    state.session = None


def _add_health(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when the rules are loaded and the upstream answers at all (any HTTP status)."""
    state = request.app[STATE]
    checks = {"rules": state.index is not None, "upstream": False}
    if state.session is not None:
        try:
            timeout = aiohttp.ClientTimeout(total=2)
            url = state.settings.upstream + "/"
            async with state.session.get(url, timeout=timeout, allow_redirects=False):
                checks["upstream"] = True
        except (aiohttp.ClientError, TimeoutError):
            pass
    ok = all(checks.values())
    return web.json_response({"ready": ok, **checks}, status=200 if ok else 503)


async def metrics_handler(request: web.Request) -> web.Response:
    body = generate_latest(request.app[STATE].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _not_here(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()
