"""What the handlers of one app share: settings, metrics, the matcher in force, the dialects."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from proxy.budget.service import Budgets
from proxy.dialects import Dialect
from proxy.matching.seam import Matcher
from proxy.metrics import Metrics
from proxy.recent import RecentReplies
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
    budgets: Budgets | None = None  # per-key budgets (None: budget_store = "off")
    recent: RecentReplies = field(default_factory=RecentReplies)  # previous_response_id


STATE = web.AppKey("copyguard_state", ProxyState)
