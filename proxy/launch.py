"""``copyguard serve``: one process, or a parent supervising N workers (``proxy.workers``).

Kept apart from ``proxy.serve`` (one process's listeners) so that serve and workers do not
import each other: both are chosen from here, and only the one chosen is imported (a parent
that supervises workers never loads the handlers or the matcher itself).
"""

from __future__ import annotations

import asyncio

from proxy.logs import configure_logging
from proxy.settings import Settings
from proxy.sighup import defer_sighup
from proxy.startup import check_upstreams, log_in_force


def run(settings: Settings) -> int:
    """Serve until SIGTERM/SIGINT; the exit status."""
    configure_logging(settings.log_level)
    defer_sighup()
    log_in_force(settings)
    if settings.workers > 1:  # the supervisor checks the upstreams once workers are spawned
        from proxy.workers import supervise

        return asyncio.run(supervise(settings))
    check_upstreams(settings)
    from proxy.serve import run_loop, serve

    run_loop(settings, serve(settings))
    return 0
