"""What the handlers of one app share: settings, metrics, the matcher in force, the dialects."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aiohttp import web

from proxy.dialects import Dialect
from proxy.matching.seam import Matcher
from proxy.metrics import Metrics
from proxy.settings import Settings


@dataclass
class ProxyState:
    """Everything the handlers share; lives under ``STATE`` in the app.

    ``index`` is swapped whole by a reload; a request reads it once, when it starts.
    """

    settings: Settings
    metrics: Metrics
    index: Matcher
    dialects: dict[str, Dialect]
    session: aiohttp.ClientSession | None = None


STATE = web.AppKey("copyguard_state", ProxyState)
