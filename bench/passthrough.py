"""A bare aiohttp reverse proxy: the baselines copyguard is measured against (benchmark only).

    python -m bench.passthrough --upstream http://127.0.0.1:9100 --port 9201 [--mode bytes]
        [--loop asyncio|uvloop]

``--mode bytes`` forwards the upstream's bytes as they arrive, parsing nothing: the cost of
an aiohttp proxy hop.  ``--mode reencode`` splits the stream into SSE events and passes the
JSON of each ``data:`` line through ``orjson.loads`` and ``orjson.dumps`` (whole bodies too):
the least any proxy that looks at the content must do, the floor for copyguard's CPU.
Like copyguard it writes once per upstream read (``--write-each``: once per event, which
makes its cost per event grow with the events a read carries).  ``--loop`` picks the event loop (the
benchmark runs the floor on the same loop as the copyguard it is compared with).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator

import aiohttp
import orjson
from aiohttp import web

_HOP = frozenset(
    ("connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade", "te")
)
SESSION = web.AppKey("session", aiohttp.ClientSession)
UPSTREAM = web.AppKey("upstream", str)
MODE = web.AppKey("mode", str)
EACH = web.AppKey("each", bool)


class SseReencoder:
    """Re-encodes the JSON of every complete ``data:`` event; other bytes pass unchanged."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> bytes:
        buf = self._pending + data
        cut = buf.rfind(b"\n\n")
        if cut < 0:
            self._pending = buf
            return b""
        self._pending = buf[cut + 2 :]
        out = []
        for event in buf[: cut + 2].split(b"\n\n")[:-1]:
            if event.startswith(b"data: {"):
                event = b"data: " + orjson.dumps(orjson.loads(event[6:]))
            out.append(event)
            out.append(b"\n\n")
        return b"".join(out)

    def flush(self) -> bytes:
        rest, self._pending = self._pending, b""
        return rest


async def _forward(request: web.Request) -> web.StreamResponse:
    app = request.app
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
    body = await request.read()
    url = app[UPSTREAM] + request.path_qs
    async with app[SESSION].request(request.method, url, data=body, headers=headers) as up:
        out_headers = {k: v for k, v in up.headers.items() if k.lower() not in _HOP}
        reencode = app[MODE] == "reencode"
        if "text/event-stream" not in up.headers.get("Content-Type", ""):
            data = await up.read()
            if reencode and data[:1] == b"{":
                data = orjson.dumps(orjson.loads(data))
            return web.Response(status=up.status, body=data, headers=out_headers)
        resp = web.StreamResponse(status=up.status, headers=out_headers)
        await resp.prepare(request)
        sse = SseReencoder() if reencode else None
        async for chunk in up.content.iter_any():
            out = chunk if sse is None else sse.feed(chunk)
            if not out:
                continue
            # ``each``: a write per event, so a burst costs as many writes as it has events
            for piece in out.split(b"\n\n")[:-1] if app[EACH] else (out,):
                await resp.write(piece + b"\n\n" if app[EACH] else piece)
        if sse is not None and (rest := sse.flush()):
            await resp.write(rest)
        await resp.write_eof()
        return resp


async def _session(app: web.Application) -> AsyncIterator[None]:
    connector = aiohttp.TCPConnector(limit=0)
    app[SESSION] = aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=None), auto_decompress=False
    )
    yield
    await app[SESSION].close()


def make_app(upstream: str, mode: str, each: bool = False) -> web.Application:
    app = web.Application()
    app[EACH] = each
    app[UPSTREAM] = upstream.rstrip("/")
    app[MODE] = mode
    app.cleanup_ctx.append(_session)
    app.router.add_route("*", "/{tail:.*}", _forward)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["bytes", "reencode"], default="bytes")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--write-each", action="store_true", help="one write per event")
    args = parser.parse_args()
    loop: asyncio.AbstractEventLoop
    if args.loop == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    app = make_app(args.upstream, args.mode, args.write_each)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None, loop=loop)


if __name__ == "__main__":
    main()
