"""Checks across turns and requests, as a request goes through: before and after the answer.

``prepare`` reads the conversation the request carries and the key's spent works (one store
round trip) and gives the guard its ``Extraction``; ``settle`` counts what the answer gave
to the key's budget and reports the conversation's totals per work.  No aiohttp here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import structlog

from proxy.budget.identity import client_key
from proxy.budget.ledger import takes
from proxy.budget.service import BudgetMetrics, Budgets, open_store
from proxy.budget.store import MemoryStore, StoreError
from proxy.budget.watch import Extraction
from proxy.dialects import Dialect
from proxy.guard import ResponseGuard
from proxy.matching.context import MAX_SEED_CHARS, analyse, carried, size_of
from proxy.matching.engines import short_runs
from proxy.matching.seam import Finding, Matcher, scan_once
from proxy.recent import RESPONSES, IdSniffer, with_previous
from proxy.settings import Settings
from proxy.state import ProxyState

log = structlog.get_logger("copyguard")
_INLINE_SCAN = 16 << 10  # characters of answer counted on the event loop itself
_WARNED: set[str] = set()  # engines already warned about


def make_budgets(settings: Settings, metrics: BudgetMetrics) -> Budgets | None:
    """The budgets of one process, or None with ``budget_store = "off"``."""
    if settings.budget_store == "off":
        return None
    fallback = MemoryStore(settings.budget_window, settings.budget_max_keys)
    store = open_store(settings.budget_store, settings.budget_window, settings.budget_max_keys)
    return Budgets(store, fallback, settings.fail_mode, metrics)


async def short_matcher(index: Matcher, settings: Settings) -> Matcher | None:
    """The short-run matcher of ``index``, built in a thread the first time (None: the engine
    has none, and budgets and context checks are off for it)."""
    found = short_runs(index, settings.budget_min_run, build=False)
    if found is None:
        found = await asyncio.to_thread(short_runs, index, settings.budget_min_run)
        if found is None and type(index).__name__ not in _WARNED:
            _WARNED.add(type(index).__name__)
            log.warning("no_short_run_matcher", engine=type(index).__name__)
    return found


async def prepare(
    index: Matcher,
    state: ProxyState,
    dialect: Dialect,
    payload: Mapping[str, Any],
    headers: Mapping[str, str],
) -> tuple[str, Extraction, Dialect]:
    """The client's key, the guard's inputs and the dialect to answer with (Responses: one
    that notes the response id); ``StoreError`` if the store is down (closed)."""
    settings, budgets = state.settings, state.budgets
    key = client_key(headers, settings.key_header)
    conversation = dialect.conversation(payload)
    if dialect.name == RESPONSES:
        conversation = with_previous(conversation, payload, state.recent)
        dialect = IdSniffer(dialect)
    if budgets is None and not conversation:
        return key, Extraction(), dialect
    short = await short_matcher(index, settings)
    if short is None:
        return key, Extraction(), dialect
    spent = await budgets.spent(key) if budgets is not None else frozenset()
    if not conversation:
        return key, Extraction(short=short, spent=spent), dialect
    if size_of(conversation) > _INLINE_SCAN:  # a long conversation: read off the event loop
        seed, carried = await asyncio.to_thread(analyse, short, conversation, index.max_min_words)
    else:
        seed, carried = analyse(short, conversation, index.max_min_words)
    extraction = Extraction(
        seed=seed, short=short, spent=spent, carried=tuple(carried), conversation=conversation
    )
    return key, extraction, dialect


async def settle(
    index: Matcher,
    state: ProxyState,
    key: str,
    guard: ResponseGuard,
    info: dict[str, Any],
    dialect: Dialect,
) -> None:
    """Count the answer into the key's budget; totals and budget blocks into ``info``; for
    Responses, remember the protected pieces under the response id."""
    budgets = state.budgets
    x = guard.extraction
    taken: list[Finding] = []
    pieces = [x.seed] if x.seed else []
    sniffed = dialect.response_id if isinstance(dialect, IdSniffer) else None
    if x.short is not None and (budgets is not None or sniffed):
        for text, watched in guard.outputs():
            if watched is not None:
                found = watched
            elif len(text) > _INLINE_SCAN:  # a long answer: counted without holding the loop
                found = await asyncio.to_thread(scan_once, x.short, text)
            else:
                found = scan_once(x.short, text) if text else []
            taken += found
            pieces += [text[f.start : f.end] for f in sorted(found, key=lambda f: f.start)]
    if sniffed:
        state.recent.remember(sniffed, " ".join(pieces)[-MAX_SEED_CHARS:])
    totals = carried([*x.carried, *taken])
    if totals and x.conversation:
        info["conversation_words"] = totals  # distinct protected words per work, all turns
    over = {work for (_, _, work), why in guard.reasons.items() if why == "budget"}
    if budgets is not None:
        for work in over:
            budgets.metrics.blocks.labels(index.work_by_id[work].collection).inc()
        if over:
            info["budget_blocked"] = sorted(over)
    if budgets is None or not taken:
        return
    limits = {f.work: index.work_by_id[f.work].rule.budget_words for f in taken}
    try:
        counts = await budgets.add(key, takes(taken, x.carried, limits))
    except StoreError as e:
        log.warning("budget_store_failed", op="add", error=str(e))
        info["budget_error"] = str(e)
        return
    if counts:
        info["budget_words"] = counts
