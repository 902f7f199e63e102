"""The guarded request handler: forward, then scan and rewrite the answer (HTTP in, HTTP out)."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import aiohttp
import orjson
import structlog
from aiohttp import web

from proxy.budget.store import StoreError
from proxy.dialects import Dialect, DialectError, StrayText, StreamRewriter
from proxy.extraction import prepare, settle
from proxy.forwarding import request_headers, response_headers, upstream_url
from proxy.guard import ResponseGuard, withholds_unread
from proxy.matching.catalogue import Action
from proxy.metrics import Metrics
from proxy.observer import MetricsObserver
from proxy.request_log import client_gone, logged, request_id
from proxy.settings import Settings
from proxy.state import STATE, ProxyState

log = structlog.get_logger("copyguard")
WITHHELD = "copyguard withheld protected text the model server sent outside the answer's text"


def _error(dialect: Dialect, status: int, message: str, rid: str) -> web.Response:
    return web.Response(
        status=status,
        body=dialect.error_body(status, message),
        content_type="application/json",
        headers={"X-Request-Id": rid},
    )


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The request body, or None if it is larger than ``limit``."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def guarded(request: web.Request) -> web.StreamResponse:
    """A route whose responses carry model output: scan and rewrite them."""
    state = request.app[STATE]
    # Stored objects fetched back (GET /v1/responses/{id}) carry output text as well.
    route = request.match_info.route.resource
    path = route.canonical.removesuffix("/{id}") if route is not None else request.path
    dialect = state.dialects[path]
    rid = request_id(request)
    info: dict[str, Any] = {"route": request.path, "format": dialect.name, "stream": None}
    labels = (request.path, dialect.name)
    handle = _guarded(request, state, dialect, rid, info)
    return await logged(request, state, rid, labels, info, handle)


async def _guarded(
    request: web.Request, state: ProxyState, dialect: Dialect, rid: str, info: dict[str, Any]
) -> web.StreamResponse:
    settings, metrics = state.settings, state.metrics
    body = await _read_body(request, settings.max_request_bytes)
    if body is None:
        info["status"] = 413
        return _error(dialect, 413, f"request body over {settings.max_request_bytes} bytes", rid)
    info["bytes_in"] = len(body)
    try:
        if request.method == "GET":
            payload: dict[str, Any] = {}
            stream = request.query.get("stream", "").lower() == "true"
        else:
            payload = orjson.loads(body)
            if not isinstance(payload, dict):
                raise DialectError("the request body must be a JSON object")
            stream = dialect.wants_stream(payload)
    except (orjson.JSONDecodeError, DialectError) as e:
        info["status"] = 400
        msg = str(e) if isinstance(e, DialectError) else "the request body is not valid JSON"
        return _error(dialect, 400, msg, rid)
    info["stream"] = stream
    index = state.index  # the matcher in force when the request started, for all of it
    try:
        key, extraction, dialect = await prepare(index, state, dialect, payload, request.headers)
    except StoreError:
        info["status"] = 503
        return _error(dialect, 503, "copyguard could not check this client's budget", rid)
    if settings.log_content:
        info["request_body"] = body.decode("utf-8", "replace")
    assert state.session is not None
    url = upstream_url(settings.upstream_for(request.path), request.path_qs)
    headers = request_headers(request.headers, True, rid, request.remote)
    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(settings.first_byte_timeout):
            upstream = await state.session.request(
                request.method, url, data=body or None, headers=headers, allow_redirects=False
            )
    except TimeoutError:
        metrics.upstream_errors.labels(dialect.name, "timeout").inc()
        info["status"] = 504
        return _error(dialect, 504, "the model server did not answer in time", rid)
    except aiohttp.ClientError as e:
        metrics.upstream_errors.labels(dialect.name, "connect").inc()
        info["status"], info["upstream_error"] = 502, type(e).__name__
        return _error(dialect, 502, "the model server could not be reached", rid)
    ttfb = time.perf_counter() - t0
    metrics.upstream_ttfb.labels(dialect.name).observe(ttfb)
    info["upstream_status"], info["ttfb_ms"] = upstream.status, round(ttfb * 1000, 2)
    try:
        observer = MetricsObserver(metrics, dialect.name)
        strict = settings.holdback == "strict"
        guard = ResponseGuard(index, observer, strict=strict, extraction=extraction)
        if stream and not dialect.answers_as_stream(upstream.content_type):
            stream = False  # a whole answer to a stream request: guarded as the whole it is
        try:
            resp: web.StreamResponse
            if upstream.status >= 300:
                metrics.upstream_errors.labels(
                    dialect.name, f"http_{upstream.status // 100}xx"
                ).inc()
                resp = await _relay(state, dialect, guard, upstream, rid, info)
            elif stream:
                resp = await _stream(
                    request, state, dialect, guard, observer, upstream, payload, rid, info
                )
            else:
                resp = await _whole(state, dialect, guard, upstream, rid, info)
        finally:
            observer.done(guard)
        _account(metrics, dialect, guard, info)
        await settle(index, state, key, guard, info, dialect)
        return resp
    finally:
        # release() pools a connection whose body was read to the end and closes any
        # other, so an unfinished response still stops the model.
        upstream.release()
        metrics.upstream_duration.labels(dialect.name).observe(time.perf_counter() - t0)


def _account(
    metrics: Metrics, dialect: Dialect, guard: ResponseGuard, info: dict[str, Any]
) -> None:
    if guard.findings:
        info["findings"] = [
            {k: v for k, v in guard.finding_json(key, f).items() if k != "title"}
            for key, f in guard.findings
        ]
    actions = {f.action for _, f in guard.findings}
    if guard.any_blocked:
        metrics.blocked.labels(dialect.name).inc()
        info["blocked"] = True
    if Action.REDACT in actions:
        metrics.redacted.labels(dialect.name).inc()


async def _relay(
    state: ProxyState,
    dialect: Dialect,
    guard: ResponseGuard,
    upstream: aiohttp.ClientResponse,
    rid: str,
    info: dict[str, Any],
) -> web.Response:
    """Upstream errors and redirects go back unchanged, unless they quote protected text.

    They carry no model output, but nothing from upstream reaches a client unread: a body
    whose text holds a run of a work that blocks or redacts is replaced by the format's
    error, with the upstream's status.
    """
    try:
        body = await _read_whole(upstream, state.settings)
    except TimeoutError:
        info["status"] = 504
        return _error(dialect, 504, "the model server stopped answering", rid)
    except (DialectError, aiohttp.ClientError) as e:
        info["status"], info["upstream_error"] = 502, str(e)[:200]
        return _error(dialect, 502, "the model server's answer broke off or is too large", rid)
    info["status"], info["bytes_out"] = upstream.status, len(body)
    if withholds_unread(guard, body):
        message = "the model server's error quoted protected text; copyguard withheld it"
        return _error(dialect, upstream.status, message, rid)
    headers = response_headers(upstream.headers, rewritten=True)
    headers["X-Request-Id"] = rid
    return web.Response(status=upstream.status, reason=upstream.reason, body=body, headers=headers)


async def _read_whole(upstream: aiohttp.ClientResponse, settings: Settings) -> bytes:
    """The upstream body, within ``read_timeout``; ``DialectError`` if over ``max_body_bytes``."""
    limit, body = settings.max_body_bytes, bytearray()
    async with asyncio.timeout(settings.read_timeout):
        # read(n) returns what has arrived so far: a body sent in pieces is read to its end
        while chunk := await upstream.content.read(limit + 1 - len(body)):
            body += chunk
            if len(body) > limit:
                raise DialectError(f"upstream body over {limit} bytes")
    return bytes(body)


async def _whole(
    state: ProxyState,
    dialect: Dialect,
    guard: ResponseGuard,
    upstream: aiohttp.ClientResponse,
    rid: str,
    info: dict[str, Any],
) -> web.Response:
    settings = state.settings
    try:
        body = await _read_whole(upstream, settings)
        try:
            out = dialect.rewrite_body(body, guard)
        except DialectError:
            raise
        except Exception as e:  # a matcher bug: the failure policy decides
            _matcher_failed(state, e, info)
            if settings.fail_mode == "closed":
                info["status"] = 500
                return _error(dialect, 500, "copyguard could not check this response", rid)
            out = body  # open: the answer goes back unscanned (counted)
    except TimeoutError:
        state.metrics.upstream_errors.labels(dialect.name, "timeout").inc()
        info["status"] = 504
        return _error(dialect, 504, "the model server stopped answering", rid)
    except StrayText:
        info["status"] = 502
        return _error(dialect, 502, WITHHELD, rid)
    except (DialectError, aiohttp.ClientError) as e:
        state.metrics.upstream_errors.labels(dialect.name, "malformed").inc()
        info["status"], info["upstream_error"] = 502, str(e)[:200]
        return _error(dialect, 502, "the model server sent a malformed response", rid)
    headers = response_headers(upstream.headers, rewritten=out is not body)
    headers["X-Request-Id"] = rid
    report = guard.report()
    if report is not None:
        headers["X-Copyguard-Findings"] = str(len(report["findings"]))
    info["status"], info["bytes_out"] = upstream.status, len(out)
    return web.Response(status=upstream.status, body=out, headers=headers)


async def _stream(
    request: web.Request,
    state: ProxyState,
    dialect: Dialect,
    guard: ResponseGuard,
    observer: MetricsObserver,
    upstream: aiohttp.ClientResponse,
    payload: dict[str, Any],
    rid: str,
    info: dict[str, Any],
) -> web.StreamResponse:
    settings, metrics = state.settings, state.metrics
    headers = response_headers(upstream.headers, rewritten=True)
    headers["X-Request-Id"] = rid
    resp = web.StreamResponse(status=upstream.status, headers=headers)
    rewriter: StreamRewriter = dialect.stream_rewriter(guard, payload, settings.max_event_bytes)
    first: float | None = None
    sent = 0
    unscanned = False  # fail-open struck: the rest of the upstream bytes pass as they are
    metrics.active_streams.inc()
    info["status"] = upstream.status
    try:
        await resp.prepare(request)
        loop = asyncio.get_running_loop()
        reader = upstream.content
        # The deadline is moved at most every `slack` seconds, not on every read (a timer
        # reschedule costs more than the rest of a read's bookkeeping): silence ends the
        # stream after between read_timeout and read_timeout + slack seconds.
        slack, moved = settings.read_timeout / 8, -math.inf
        async with asyncio.timeout(None) as deadline:
            while True:
                if (now := loop.time()) - moved > slack:
                    deadline.reschedule(now + settings.read_timeout + slack)
                    moved = now
                t = time.perf_counter()
                unread = b""  # the event under way before this read: fail-open resumes there
                try:
                    chunk = await reader.readany()
                    t = time.perf_counter()
                    if first is None:
                        first = t
                    if unscanned:
                        out = chunk
                    else:
                        unread = rewriter.unread()
                        out = rewriter.feed(chunk) if chunk else rewriter.flush()
                except StrayText:
                    out, chunk = _fail(rewriter, WITHHELD), b""
                except (DialectError, aiohttp.ClientError) as e:
                    kind = "malformed" if isinstance(e, DialectError) else "disconnected"
                    metrics.upstream_errors.labels(dialect.name, kind).inc()
                    info["upstream_error"] = f"{kind}: {str(e)[:200]}"
                    out = (
                        b"" if unscanned else _fail(rewriter, "the model server's stream broke off")
                    )
                    chunk = b""
                except Exception as e:  # a matcher bug: the failure policy decides
                    _matcher_failed(state, e, info)
                    if settings.fail_mode == "open":  # the unsent part of the stream, unscanned
                        out, unscanned = unread + chunk, True
                    else:
                        out = _fail(rewriter, "copyguard could not check this response")
                        chunk = b""
                observer.chunk(time.perf_counter() - t)
                if out:
                    if sent == 0 and first is not None:
                        metrics.first_token_latency.labels(dialect.name).observe(
                            time.perf_counter() - first
                        )
                    sent += len(out)
                    await resp.write(out)
                if not chunk or (rewriter.finished and not unscanned):
                    break
    except TimeoutError:
        metrics.upstream_errors.labels(dialect.name, "timeout").inc()
        info["upstream_error"] = "timeout between chunks"
        if not unscanned:
            await resp.write(_fail(rewriter, "the model server stopped answering"))
    except (ConnectionResetError, aiohttp.ClientConnectionResetError):
        client_gone(info)
        return resp
    finally:
        metrics.active_streams.dec()
        info["bytes_out"] = sent
    await resp.write_eof()
    return resp


def _fail(rewriter: StreamRewriter, message: str) -> bytes:
    try:
        return rewriter.fail(message)
    except Exception:  # a broken rewriter must still end the client's stream
        log.exception("rewriter_fail_failed")
        return b""


def _matcher_failed(state: ProxyState, error: Exception, info: dict[str, Any]) -> None:
    """Log and count a matcher failure; the caller applies ``fail_mode``."""
    log.error("matcher_failed", error_type=type(error).__name__, mode=state.settings.fail_mode)
    state.metrics.matcher_failures.labels(state.settings.fail_mode).inc()
    info["matcher_error"] = type(error).__name__
    if state.settings.fail_mode == "open":
        state.metrics.fail_open.inc()
