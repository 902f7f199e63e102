"""What ``copyguard serve`` says as it starts: the settings in force, and an unreachable upstream.

Logged once, by the process the operator started (the parent when there are workers), so
that the first lines of a log say which upstream, rules, addresses and loop are in force.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import structlog

from proxy.settings import Settings

log = structlog.get_logger("copyguard")
UPSTREAM_CHECK_SECONDS = 2.0


def admin_address(settings: Settings) -> str:
    """Where /metrics and /admin/reload are served, in words an operator can act on."""
    exposure = settings.admin_on_listen
    if exposure == "separate":
        return f"http://{settings.admin_listen}"
    if exposure == "open":
        return f"http://{settings.listen} (loopback)"
    if exposure == "token":
        return f"http://{settings.listen} (admin_token required)"
    return "not served (listen is not loopback and no admin_token or admin_listen is set)"


def log_in_force(settings: Settings) -> None:
    """One ``starting`` event with the settings an operator checks first."""
    log.info(
        "starting",
        upstream=settings.upstream,
        routes=settings.routes or None,
        rules=str(settings.rules),
        listen=f"http://{settings.listen}",
        admin=admin_address(settings),
        workers=settings.workers,
        event_loop=settings.event_loop,
        fail_mode=settings.fail_mode,
        cache_dir=str(settings.cache_dir) if settings.cache_dir else None,
        watch_rules=settings.watch_rules,
    )
    if settings.admin_on_listen == "refused":
        log.warning(
            "admin_endpoints_not_served",
            listen=settings.listen,
            reason="listen is reachable from other machines and nothing would authenticate "
            "/metrics or /admin/reload there",
            fix="set admin_listen (e.g. 127.0.0.1:9091) or admin_token",
        )


def check_upstreams(settings: Settings, timeout: float = UPSTREAM_CHECK_SECONDS) -> list[str]:
    """Warn about each upstream that does not accept a TCP connection now; the unreachable ones.

    Only a warning: the model server may start after copyguard (``/readyz`` reports it).
    """
    unreachable = []
    for url in dict.fromkeys([settings.upstream, *settings.routes.values()]):
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname or "", port), timeout=timeout):
                pass
        except OSError as e:
            unreachable.append(url)
            log.warning("upstream_unreachable", upstream=url, error=e.strerror or type(e).__name__)
    return unreachable
