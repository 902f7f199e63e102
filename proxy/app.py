"""Build the aiohttp applications: the proxy itself and (optionally) a separate admin one."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from proxy.dialects import Dialect, default_dialects
from proxy.handlers import guarded, passthrough
from proxy.matching.seam import Matcher
from proxy.metrics import Metrics
from proxy.reload import RELOADER, RulesReloader, reload_handler
from proxy.settings import Settings
from proxy.state import STATE, ProxyState


def make_state(
    settings: Settings,
    index: Matcher,
    registry: CollectorRegistry | None = None,
    dialects: list[Dialect] | None = None,
    load_seconds: float = 0.0,
) -> ProxyState:
    metrics = Metrics(registry or CollectorRegistry(), settings.metrics_work_labels)
    metrics.rules_loaded(index, load_seconds, time.time())
    table = {path: d for d in (dialects or default_dialects()) for path in d.paths}
    return ProxyState(settings=settings, metrics=metrics, index=index, dialects=table)


def make_app(state: ProxyState, reloader: RulesReloader | None = None) -> web.Application:
    """The proxy: guarded routes, health, metrics and /admin/reload (unless on the admin app)."""
    app = web.Application(client_max_size=state.settings.max_request_bytes)
    app[STATE] = state
    app[RELOADER] = reloader or RulesReloader(state)
    app.cleanup_ctx.append(_client_session)
    for path, dialect in state.dialects.items():
        app.router.add_post(path, guarded)
        if dialect.name in ("openai-chat", "openai-responses"):
            app.router.add_get(path + "/{id}", guarded)  # stored objects fetched back
    _add_health(app)
    if state.settings.admin_listen is None:
        app.router.add_get("/metrics", metrics_handler)
        app.router.add_post("/admin/reload", reload_handler)
    else:
        app.router.add_get("/metrics", _not_here)
        app.router.add_route("*", "/admin/reload", _not_here)
    app.router.add_route("*", "/{tail:.*}", passthrough)
    return app


def make_admin_app(state: ProxyState, reloader: RulesReloader | None = None) -> web.Application:
    """Metrics, health and /admin/reload on their own listener, away from client traffic."""
    app = web.Application()
    app[STATE] = state
    app[RELOADER] = reloader or RulesReloader(state)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_post("/admin/reload", reload_handler)
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
    body = request.app[STATE].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _not_here(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()
