"""Every path that carries no model output: forwarded untouched, bodies streamed both ways."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from aiohttp import web

from proxy.forwarding import request_headers, response_headers, upstream_url
from proxy.request_log import client_gone, logged, request_id
from proxy.state import STATE, ProxyState

FORMAT = "passthrough"


async def passthrough(request: web.Request) -> web.StreamResponse:
    """Forward the request to the upstream and its answer back, logged like every request."""
    state = request.app[STATE]
    rid = request_id(request)
    info: dict[str, Any] = {"route": request.path, "format": FORMAT, "method": request.method}
    if request.content_length is not None:
        info["bytes_in"] = request.content_length
    # "other", not the path: any path reaches here, and metric labels must stay bounded.
    labels = ("other", FORMAT)
    return await logged(request, state, rid, labels, info, _forward(request, state, rid, info))


async def _forward(
    request: web.Request, state: ProxyState, rid: str, info: dict[str, Any]
) -> web.StreamResponse:
    assert state.session is not None
    url = upstream_url(state.settings.upstream_for(request.path), request.path_qs)
    headers = request_headers(request.headers, False, rid, request.remote)
    data = request.content if request.body_exists else None
    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(state.settings.first_byte_timeout):
            upstream = await state.session.request(
                request.method, url, data=data, headers=headers, allow_redirects=False
            )
    except (TimeoutError, aiohttp.ClientError) as e:
        info["status"], info["upstream_error"] = 502, type(e).__name__
        return web.json_response(
            {"error": {"message": "the upstream could not be reached", "type": "upstream_error"}},
            status=502,
            headers={"X-Request-Id": rid},
        )
    info["upstream_status"] = info["status"] = upstream.status
    info["ttfb_ms"] = round((time.perf_counter() - t0) * 1000, 2)
    sent = 0
    try:
        decoded = "Content-Encoding" in upstream.headers
        resp = web.StreamResponse(
            status=upstream.status,
            reason=upstream.reason,
            headers=response_headers(upstream.headers, rewritten=decoded),
        )
        resp.headers["X-Request-Id"] = rid
        await resp.prepare(request)
        try:
            async for chunk in upstream.content.iter_any():
                await resp.write(chunk)
                sent += len(chunk)
            await resp.write_eof()
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            client_gone(info)
        except (TimeoutError, aiohttp.ClientError) as e:  # the upstream broke off mid-body
            info["upstream_error"] = type(e).__name__
        return resp
    finally:
        info["bytes_out"] = sent
        upstream.close()
