"""``copyguard scan``: audit finished text (e.g. logged model outputs) offline."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from proxy.matching.seam import Finding, Matcher, scan_once


def scan_text(index: Matcher, text: str) -> list[Finding]:
    return scan_once(index, text)


def _inputs(names: list[str], jsonl: bool) -> Iterator[tuple[Any, str | None, str | None]]:
    """(id, text, error) per input: one per file, or one per line with --jsonl."""
    for name in names or ["-"]:
        with (
            contextlib.nullcontext(sys.stdin.buffer)
            if name == "-"
            else Path(name).open("rb") as stream
        ):
            if not jsonl:
                yield name, stream.read().decode("utf-8", errors="replace"), None
                continue
            for lineno, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    yield None, None, f"{name}:{lineno}: bad JSON ({e})"
                    continue
                if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                    yield None, None, f'{name}:{lineno}: expected {{"id": ..., "text": "..."}}'
                    continue
                yield obj.get("id"), obj["text"], None


def run_scan(index: Matcher, names: list[str], jsonl: bool, out: IO[bytes]) -> int:
    """Print one JSON line per input; 0 when every input was read, 1 if some were not."""
    status = 0
    for ident, text, error in _inputs(names, jsonl):
        if error is not None:
            out.write(orjson.dumps({"id": ident, "error": error}) + b"\n")
            status = 1
            continue
        assert text is not None
        found = [f.as_dict() for f in scan_text(index, text)]
        out.write(orjson.dumps({"id": ident, "findings": found}) + b"\n")
    out.flush()
    return status


def report_boilerplate(matcher: Matcher, out: IO[bytes]) -> int:
    """One JSON line per boilerplate run of the catalogue: where, how long, why."""
    for run in matcher.boilerplate_runs:
        line = {
            "boilerplate": matcher.works[run.work].id,
            "source_start": run.start,
            "source_end": run.end,
            "words": run.end - run.start,
            "shared_by_works": run.works,
            "in_background_corpus": run.background,
        }
        out.write(orjson.dumps(line) + b"\n")
    out.flush()
    return 0
