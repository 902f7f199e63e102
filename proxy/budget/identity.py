"""Who is asking: a hash of the client's API key, or a header a gateway in front sets."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

ANONYMOUS = "anonymous"


def client_key(headers: Mapping[str, str], key_header: str | None) -> str:
    """A short stable hash naming the client (the raw key is never kept or logged).

    With ``key_header`` set (a gateway's user id), that header alone names the client;
    otherwise ``Authorization`` or ``x-api-key``.  Requests with none share one budget.
    """
    if key_header:
        raw = headers.get(key_header, "")
    else:
        raw = headers.get("Authorization", "") or headers.get("x-api-key", "")
    if not raw:
        return ANONYMOUS
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()[:32]
