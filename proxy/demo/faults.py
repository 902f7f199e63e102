"""Faults the demo upstream can inject into a stream, chosen by the ``x-demo-fault`` header.

Each stream fault strikes just before frame number ``at`` (0-based) of the stream; a stream
with fewer frames is never hit.  ``error-500`` is answered before any streaming starts.
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
