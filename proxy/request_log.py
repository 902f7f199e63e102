"""One ``request`` log line and one ``copyguard_requests_total`` count per request, however it ends.

A client that hangs up is logged with ``client_disconnected: true`` and status 499 (nginx's
"client closed request"), whether the hang-up surfaced as a failed write or, with aiohttp's
handler cancellation, as the handler being cancelled.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable
from typing import Any

import structlog
from aiohttp import web

from proxy.state import ProxyState

log = structlog.get_logger("copyguard")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
CLIENT_CLOSED = 499


def request_id(request: web.Request) -> str:
    """The client's ``X-Request-Id`` when it is a sane token, else a new one."""
    given = request.headers.get("X-Request-Id", "")
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def client_gone(info: dict[str, Any]) -> None:
    """Note that the client hung up before the response ended."""
    info["client_disconnected"] = True
    info["status"] = CLIENT_CLOSED


async def logged(
    request: web.Request,
    state: ProxyState,
    rid: str,
    labels: tuple[str, str],
    info: dict[str, Any],
    handle: Awaitable[web.StreamResponse],
) -> web.StreamResponse:
    """Await ``handle``, then log ``info`` as the request's line and count it under ``labels``."""
    started = time.perf_counter()
    info["request_id"] = rid  # also bound for the handler's own events
    with structlog.contextvars.bound_contextvars(request_id=rid):
        try:
            return await handle
        except asyncio.CancelledError:
            transport = request.transport
            if transport is None or transport.is_closing():
                client_gone(info)
            else:  # the server stopped it (shutdown past the grace period)
                info["cancelled"] = True
            raise
        finally:
            info["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
            status = info.setdefault("status", CLIENT_CLOSED)
            state.metrics.requests.labels(*labels, str(status)).inc()
            log.info("request", **info)
