"""What crosses the proxy: which headers, to which upstream URL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from multidict import CIMultiDict
from yarl import URL

# RFC 9110 hop-by-hop headers, plus those the proxy recomputes itself.
HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Proxy-Connection",
        "Host",
        "Content-Length",
    )
)
# Headers a client could use to steer a proxy elsewhere: never forwarded as given.
STEERING = frozenset(
    (
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-forwarded-port",
        "x-real-ip",
    )
)


def request_headers(
    headers: Mapping[str, str], guarded: bool, request_id: str, peer: str | None
) -> CIMultiDict[str]:
    """Headers for the upstream request: end-to-end ones, credentials included."""
    out: CIMultiDict[str] = CIMultiDict()
    connection = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
    for name, value in _items(headers):
        low = name.lower()
        if low in HOP_BY_HOP or low in connection or low in STEERING:
            continue
        if guarded and low == "accept-encoding":
            continue
        out.add(name, value)
    if guarded:
        out["Accept-Encoding"] = "identity"  # scanned bodies must be plain text
    out["X-Request-Id"] = request_id
    if peer:
        out["X-Forwarded-For"] = peer
    return out


def response_headers(headers: Mapping[str, str], rewritten: bool) -> CIMultiDict[str]:
    """Headers for the client: end-to-end ones; body-describing ones dropped if we rewrite."""
    out: CIMultiDict[str] = CIMultiDict()
    connection = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
    for name, value in _items(headers):
        low = name.lower()
        if low in HOP_BY_HOP or low in connection:
            continue
        if rewritten and low in ("content-encoding", "content-md5", "etag"):
            continue
        out.add(name, value)
    return out


def upstream_url(base: str, path_qs: str) -> URL:
    """The configured upstream plus the request's own path and query, nothing else.

    Only the path and query of the request target are used, so absolute-form targets
    and Host headers cannot point the proxy at another server.
    """
    target = URL(path_qs if path_qs.startswith("/") else "/" + path_qs)
    root = URL(base)
    path = root.path.rstrip("/") + target.path if root.path not in ("", "/") else target.path
    return root.with_path(path, encoded=False).with_query(target.query)


def _items(headers: Mapping[str, str]) -> Iterable[tuple[str, str]]:
    items = getattr(headers, "items", None)
    return items() if items is not None else []
