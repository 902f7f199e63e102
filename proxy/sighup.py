"""SIGHUP while a process starts: noted, not fatal, and acted on once the loop is up.

Apart from ``proxy.reload`` so that a supervising parent can install it without importing
the proxy's handlers.
"""

from __future__ import annotations

import signal

_deferred_sighup = False


def defer_sighup() -> None:
    """Until the event loop takes over SIGHUP, note it (its default action would kill us)."""

    def note(signum: int, frame: object) -> None:
        global _deferred_sighup
        _deferred_sighup = True

    signal.signal(signal.SIGHUP, note)


def take_deferred_sighup() -> bool:
    """Whether a SIGHUP arrived while starting up (then the rules are loaded once more)."""
    global _deferred_sighup
    seen, _deferred_sighup = _deferred_sighup, False
    return seen
