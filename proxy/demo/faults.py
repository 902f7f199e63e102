"""Faults the demo upstream can inject, chosen by the ``x-demo-fault`` header.

Each stream fault strikes just before frame number ``at`` (0-based) of the stream; a stream
with fewer frames is never hit.  ``error-500`` is answered before any streaming starts.
Non-streamed answers get the same faults in one-body form (``fail_body``).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from proxy.demo.formats import Framing

FAULT_HEADER = "x-demo-fault"
ERROR_500 = "error-500"


class Then(enum.Enum):
    """What the stream does after a fault struck."""

    CONTINUE = "continue"  # carry on with the remaining frames
    END = "end"  # finish the HTTP body cleanly, without the remaining frames
    ABORT = "abort"  # stop writing at once; the transport is gone


FaultAction = Callable[[web.Request, web.StreamResponse, Framing], Awaitable[Then]]


@dataclass(frozen=True)
class Fault:
    """A stream fault: where it strikes and what it does."""

    at: int
    act: FaultAction


async def until_disconnected(request: web.Request, poll_s: float = 0.05) -> None:
    """Return once the client's connection is gone (works without handler cancellation)."""
    # aiohttp offers no disconnect event to wait on when handler cancellation is off.
    while (transport := request.transport) is not None and not transport.is_closing():  # noqa: ASYNC110
        await asyncio.sleep(poll_s)


async def _cut(request: web.Request, resp: web.StreamResponse, framing: Framing) -> Then:
    resp.force_close()
    return Then.END


async def _garbage(request: web.Request, resp: web.StreamResponse, framing: Framing) -> Then:
    await resp.write(framing.garbage)
    return Then.CONTINUE


async def _stall(request: web.Request, resp: web.StreamResponse, framing: Framing) -> Then:
    await until_disconnected(request)
    raise ConnectionResetError("client went away during a stall")


async def _reset(request: web.Request, resp: web.StreamResponse, framing: Framing) -> Then:
    if request.transport is not None:
        request.transport.abort()
    return Then.ABORT


STREAM_FAULTS: dict[str, Fault] = {
    "cut": Fault(at=6, act=_cut),
    "garbage": Fault(at=6, act=_garbage),
    "stall": Fault(at=1, act=_stall),
    "reset": Fault(at=6, act=_reset),
}
FAULT_NAMES = frozenset(STREAM_FAULTS) | {ERROR_500}


async def fail_body(request: web.Request, name: str, body: bytes) -> web.StreamResponse:
    """A non-streamed answer with fault ``name``: half a body, a non-JSON body, no body."""
    if name == "garbage":
        return web.Response(body=b"{this is not json", content_type="application/json")
    if name == "stall":
        await until_disconnected(request)
        return web.Response()
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.content_length = len(body)
    try:
        await resp.prepare(request)
        await resp.write(body[: len(body) // 2])
        if name == "reset" and request.transport is not None:
            request.transport.abort()
        else:
            resp.force_close()
    except ConnectionError:
        pass
    return resp
