"""Helpers shared by the fault tests: tolerant readers, leak checks, a bounded client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import orjson

from proxy.scan import scan_text
from tests.conftest import SAMPLE_RULES
from tests.proxy.harness import index_for, strings_by_path
from tests.proxy.routes import ROUTES

POEM = "poems/lighthouse-keeper"
IDS = [r.name for r in ROUTES]
ARRAY_SEP = b"\r\n,"  # between the elements of the demo's JSON-array streams
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
    """The raw events of an SSE body (separator kept), the lines of an NDJSON body, or the
    elements of a JSON-array stream (each with the separator before it)."""
    if body.lstrip().startswith(b"["):
        first, *rest = body.split(ARRAY_SEP)
        return [first] + [ARRAY_SEP + part for part in rest]
    sep = b"\n" if ndjson else b"\n\n"
    parts = body.split(sep)
    return [p + sep for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def objects(body: bytes) -> list[Any]:
    """Every JSON value a client could parse from an SSE, NDJSON or JSON-array body (the
    rest skipped)."""
    text = body.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    if text.lstrip().startswith("["):
        return _array_elements(text)
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


def _array_elements(text: str) -> list[Any]:
    """The elements of a JSON array, as far as they parse (a cut or damaged one is skipped)."""
    decoder, out, at = json.JSONDecoder(), [], text.index("[") + 1
    while at < len(text):
        while at < len(text) and text[at] in " \t\n,":
            at += 1
        try:
            value, at = decoder.raw_decode(text, at)
        except ValueError:
            at = text.find("\n,", at + 1)
            if at < 0:
                break
            continue
        out.append(value)
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
