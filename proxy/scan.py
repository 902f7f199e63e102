"""``copyguard scan``: audit finished text (e.g. logged model outputs) offline."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from proxy.matching.seam import Finding, Matcher, scan_once
from proxy.scan_report import Progress, TextReport

JSONL_SHAPE = '{"id": ..., "text": "..."}'


def scan_text(index: Matcher, text: str) -> list[Finding]:
    return scan_once(index, text)


@dataclass(frozen=True)
class ScanOptions:
    """How inputs are read and results printed."""

    jsonl: bool = False
    text: bool = False  # human-readable findings and a summary instead of JSON lines
    progress: bool | None = None  # None: on a terminal, for big inputs


@dataclass(frozen=True)
class ScanInput:
    """One input: a file, or a line of a jsonl file; ``error`` when it cannot be scanned."""

    ident: Any
    text: str | None = None
    error: str | None = None


def _decode(name: str, data: bytes) -> ScanInput:
    """A whole file as text; binary or non-UTF-8 input is an error, not an empty result."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return ScanInput(name, error=f"{name}: not UTF-8 text (byte {e.start}); binary input?")
    if "\0" in text:
        return ScanInput(name, error=f"{name}: binary input (NUL bytes), not text")
    return ScanInput(name, text.removeprefix("\ufeff"))


def _jsonl_line(name: str, lineno: int, line: bytes) -> ScanInput:
    where = f"{name}:{lineno}"
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        return ScanInput(None, error=f"{where}: bad JSON ({e})")
    if not isinstance(obj, dict):
        return ScanInput(None, error=f"{where}: expected {JSONL_SHAPE}")
    ident = obj.get("id")
    if ident is None:
        return ScanInput(None, error=f'{where}: no "id" (expected {JSONL_SHAPE})')
    if not isinstance(obj.get("text"), str):
        return ScanInput(ident, error=f'{where}: no "text" string (expected {JSONL_SHAPE})')
    return ScanInput(ident, obj["text"])


def _inputs(names: list[str], jsonl: bool, advance: Callable[[int], None]) -> Iterator[ScanInput]:
    """One input per file, or one per line with --jsonl."""
    for name in names or ["-"]:
        with (
            contextlib.nullcontext(sys.stdin.buffer)
            if name == "-"
            else Path(name).open("rb") as stream
        ):
            if not jsonl:
                data = stream.read()
                advance(len(data))
                yield _decode(name, data)
                continue
            for lineno, line in enumerate(stream, start=1):
                advance(len(line))
                if line.strip():
                    yield _jsonl_line(name, lineno, line)


def run_scan(index: Matcher, names: list[str], options: ScanOptions, out: IO[str]) -> int:
    """Print the findings per input; 0 when every input was read, 1 if some were not."""
    status = 0
    report = TextReport(out) if options.text else None
    with Progress(names, options.progress) as progress:
        for item in _inputs(names, options.jsonl, progress.advance):
            if item.error is not None:
                status = 1
                if report is not None:
                    report.error(item.ident, item.error)
                else:
                    out.write(orjson.dumps({"id": item.ident, "error": item.error}).decode() + "\n")
                continue
            assert item.text is not None
            found = scan_text(index, item.text)
            if report is not None:
                report.input(item.ident, item.text, [f.as_dict() for f in found])
            else:
                line = {"id": item.ident, "findings": [f.as_dict() for f in found]}
                out.write(orjson.dumps(line).decode() + "\n")
    if report is not None:
        report.summary()
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
