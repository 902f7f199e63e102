"""Helpers shared by the fault tests: tolerant readers, leak checks, a bounded client."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from proxy.scan import scan_text
from tests.conftest import SAMPLE_RULES
from tests.proxy.harness import index_for, strings_by_path
from tests.proxy.routes import ROUTES

POEM = "poems/lighthouse-keeper"
IDS = [r.name for r in ROUTES]
DEADLINE = 10.0  # no request in these tests may take longer: a hang fails, it never blocks


async def post(
    url: str, body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """POST and read the whole answer, failing (not hanging) after ``DEADLINE`` seconds."""
    async with asyncio.timeout(DEADLINE), aiohttp.ClientSession() as session:
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with session.post(url, headers=headers, **kwargs) as resp:
            return resp.status, dict(resp.headers), await resp.read()


def split_events(body: bytes, ndjson: bool) -> list[bytes]:
    """The raw events of an SSE body (separator kept) or the lines of an NDJSON body."""
    sep = b"\n" if ndjson else b"\n\n"
    parts = body.split(sep)
    return [p + sep for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def objects(body: bytes) -> list[Any]:
    """Every JSON value a client could parse from an SSE or NDJSON body (the rest skipped)."""
    text = body.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    if "data:" in text:
        blocks = [
            "\n".join(
                line[5:].removeprefix(" ") for line in block.split("\n") if line.startswith("data:")
            )
            for block in text.split("\n\n")
        ]
    else:
        blocks = text.split("\n")
    out = []
    for block in blocks:
        try:
            out.append(orjson.loads(block))
        except orjson.JSONDecodeError:
            continue
    return out


def is_error(obj: Any) -> bool:
    """The format's error event: OpenAI/Ollama ``{"error": ...}``, typed ``{"type": "error"}``."""
    return isinstance(obj, dict) and ("error" in obj or obj.get("type") == "error")


def ends_with_error(body: bytes) -> bool:
    """The last JSON event is the format's error (OpenAI's ``[DONE]`` may follow it)."""
    objs = objects(body)
    return bool(objs) and is_error(objs[-1])


def assert_no_protected_run(body: bytes) -> None:
    """No min_words run of a sample work in any field, nor across a field's events."""
    index = index_for(SAMPLE_RULES)
    objs = objects(body)
    for path, text in strings_by_path(objs).items():
        assert scan_text(index, text) == [], path
    # and in the bytes as a client's parser never sees them (comments, unknown fields)
    assert scan_text(index, body.decode("utf-8", "replace")) == [], "raw bytes"
    assert b"Traceback" not in body
