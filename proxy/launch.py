"""``copyguard serve``: one process, or a parent supervising N workers (``proxy.workers``).

Kept apart from ``proxy.serve`` (one process's listeners) so that serve and workers do not
import each other: both are chosen from here.
"""

from __future__ import annotations

import asyncio

from proxy.logs import configure_logging
from proxy.reload import defer_sighup
from proxy.serve import run_loop, serve
from proxy.settings import Settings
from proxy.workers import supervise


def run(settings: Settings) -> int:
    """Serve until SIGTERM/SIGINT; the exit status."""
    configure_logging(settings.log_level)
    defer_sighup()
    if settings.workers > 1:
        return asyncio.run(supervise(settings))
    run_loop(settings, serve(settings))
    return 0
