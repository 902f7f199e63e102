"""Read a rules folder: works from ``*.txt`` and ``*.jsonl`` files, policy from ``policy.toml``.

Every mistake is reported as ``RulesError("path:line: what is wrong")``; nothing
half-loaded is ever returned.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from proxy.matching.catalogue import (
    DEFAULT_REPLACEMENT,
    Action,
    Boilerplate,
    Catalogue,
    Echo,
    Policy,
    Rule,
    Work,
)
from proxy.matching.normalize import WORD_RE

POLICY_FILE = "policy.toml"
_RULE_KEYS = {
    "min_words",
    "action",
    "replacement",
    "block_notice",
    "echo",
    "budget_words",
    "max_gap_words",
    "min_share",
}
_TOP_KEYS = _RULE_KEYS | {"collections", "allow", "boilerplate"}
_ALLOW_KEYS = {"phrases", "works"}
_BOILERPLATE_KEYS = {"min_works", "builtin", "corpus", "keep"}
_META_KEYS = ("title", "owner", "license")


class RulesError(Exception):
    """A rules folder that cannot be loaded; the message names the file and line."""


def load_rules(root: Path, *, texts: bool = True) -> Catalogue:
    """Load and validate a rules folder.

    ``texts=False``: the works come without their text (memory does not grow with the
    catalogue); ``iter_works`` reads them again, file by file.
    """
    if not root.is_dir():
        raise RulesError(f"{root}: not a directory")
    digest = hashlib.sha256()
    works: list[Work] = []
    seen: dict[str, str] = {}
    for path, rel, data, found in _work_files(root):
        digest.update(f"{rel}\0{len(data)}\0".encode())
        digest.update(data)
        for lineno, work in found:
            if work.id in seen:
                raise RulesError(
                    f"{path}:{lineno}: work id {work.id!r} already used in {seen[work.id]}"
                )
            seen[work.id] = str(path)
            works.append(work if texts else dataclasses.replace(work, text=""))
    if not works:
        raise RulesError(f"{root}: no works (*.txt or *.jsonl files)")
    policy_path = root / POLICY_FILE
    policy = Policy()
    if policy_path.is_file():
        raw = policy_path.read_bytes()
        digest.update(b"policy\0" + raw)
        policy = _read_policy(policy_path, raw, {w.collection for w in works}, set(seen))
    background = _read_background(root, policy_path, policy.boilerplate.corpus)
    for text in background:
        digest.update(b"background\0" + text.encode())
    return Catalogue(tuple(works), policy, digest.hexdigest(), background)


def iter_works(root: Path) -> Iterator[Work]:
    """The works of a rules folder ``load_rules`` accepted, read again one file at a time."""
    for _, _, _, found in _work_files(root):
        for _, work in found:
            yield work


def rules_bytes(root: Path) -> int:
    """The size of a rules folder's work files (a measure of progress through them)."""
    return sum(path.stat().st_size for path, _ in _paths(root))


def _paths(root: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(p for p in root.rglob("*") if p.is_file() and _visible(p, root)):
        if path.suffix in (".txt", ".jsonl"):
            yield path, path.relative_to(root).as_posix()


def _work_files(root: Path) -> Iterator[tuple[Path, str, bytes, list[tuple[int, Work]]]]:
    for path, rel in _paths(root):
        data = path.read_bytes()
        found = (
            _read_txt(path, rel, data) if path.suffix == ".txt" else _read_jsonl(path, rel, data)
        )
        yield path, rel, data, found


def _read_background(root: Path, policy_path: Path, name: str) -> tuple[str, ...]:
    """The operator's boilerplate corpus: a text file, or a folder of them (not works)."""
    if not name:
        return ()
    path = (root / name).resolve()
    files = sorted(path.rglob("*.txt")) if path.is_dir() else [path]
    if not path.exists() or not files:
        where = _line_of(policy_path.read_text("utf-8", errors="replace"), "corpus")
        raise RulesError(f"{policy_path}:{where}: boilerplate corpus {name!r}: no such text")
    return tuple(_decode(f, f.read_bytes()) for f in files)


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise RulesError(f"{path}:{line}: invalid UTF-8 (byte {e.start})") from None


def _collection(rel: str) -> str:
    parts = rel.split("/")
    return parts[0] if len(parts) > 1 else rel.rsplit(".", 1)[0] if rel.endswith(".jsonl") else ""


def _read_txt(path: Path, rel: str, data: bytes) -> list[tuple[int, Work]]:
    text = _decode(path, data).removeprefix("\ufeff")
    meta: dict[str, str] = {}
    body_line = 1
    lines = text.split("\n")
    if lines and lines[0].strip() == "---":
        for i, line in enumerate(lines[1:], start=2):
            if line.strip() == "---":
                text, body_line = "\n".join(lines[i:]), i + 1
                break
            key, sep, value = line.partition(":")
            if not sep or key.strip() not in _META_KEYS:
                raise RulesError(f"{path}:{i}: front matter takes 'title', 'owner', 'license'")
            meta[key.strip()] = value.strip()
        else:
            raise RulesError(f"{path}:1: front matter opened with '---' is never closed")
    if WORD_RE.search(text) is None:
        raise RulesError(f"{path}:{body_line}: empty work (no words)")
    work = Work(id=rel[: -len(".txt")], text=text, collection=_collection(rel), **meta)
    return [(1, work)]


def _read_jsonl(path: Path, rel: str, data: bytes) -> list[tuple[int, Work]]:
    out: list[tuple[int, Work]] = []
    collection = _collection(rel)
    for lineno, line in enumerate(_decode(path, data).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise RulesError(f"{path}:{lineno}: bad JSON ({e})") from None
        if not isinstance(obj, dict):
            raise RulesError(f"{path}:{lineno}: expected a JSON object with 'id' and 'text'")
        wid, text = obj.get("id"), obj.get("text")
        if not isinstance(wid, str) or not wid:
            raise RulesError(f"{path}:{lineno}: 'id' must be a non-empty string")
        if not isinstance(text, str):
            what = "no 'text' key" if "text" not in obj else "'text' is not a string"
            raise RulesError(f"{path}:{lineno}: work {wid!r}: {what} (the work's text, a string)")
        if WORD_RE.search(text) is None:
            raise RulesError(f"{path}:{lineno}: empty work {wid!r} ('text' has no words)")
        meta = {k: obj[k] for k in _META_KEYS if isinstance(obj.get(k), str)}
        out.append((lineno, Work(id=wid, text=text, collection=collection, **meta)))
    return out


def _line_of(raw: str, key: str) -> int:
    for i, line in enumerate(raw.split("\n"), start=1):
        if line.strip().startswith(key):
            return i
    return 1


def _read_policy(path: Path, data: bytes, collections: set[str], work_ids: set[str]) -> Policy:
    raw = _decode(path, data)
    try:
        doc = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as e:
        raise RulesError(f"{path}: {e}") from None

    def fail(key: str, why: str) -> RulesError:
        return RulesError(f"{path}:{_line_of(raw, key.rsplit('.', 1)[-1])}: {why}")

    for key in doc:
        if key not in _TOP_KEYS:
            raise fail(key, f"unknown key {key!r} (known: {', '.join(sorted(_TOP_KEYS))})")
    default = _rule(doc, Rule(), "", fail)
    overrides: dict[str, Rule] = {}
    for name, table in _table(doc, "collections", fail).items():
        if not isinstance(table, dict):
            raise fail(name, f"[collections.{name}] must be a table")
        if name not in collections:
            raise fail(name, f"collection {name!r} matches no sub-folder or .jsonl file")
        for key in table:
            if key not in _RULE_KEYS:
                raise fail(key, f"unknown key {key!r} in [collections.{name}]")
        overrides[name] = _rule(table, default, f"collections.{name}.", fail)
    allow = _table(doc, "allow", fail)
    for key in allow:
        if key not in _ALLOW_KEYS:
            raise fail(key, f"unknown key {key!r} in [allow] (known: phrases, works)")
    phrases, allowed = allow.get("phrases", []), allow.get("works", [])
    for name, value in (("phrases", phrases), ("works", allowed)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(name, f"allow.{name} must be a list of strings")
    for wid in allowed:
        if wid not in work_ids:
            raise fail(wid, f"allow.works names unknown work {wid!r}")
    boiler = _boilerplate(_table(doc, "boilerplate", fail), work_ids, fail)
    return Policy(default, overrides, tuple(phrases), frozenset(allowed), boiler)


def _boilerplate(table: dict[str, Any], work_ids: set[str], fail: Any) -> Boilerplate:
    for key in table:
        if key not in _BOILERPLATE_KEYS:
            known = ", ".join(sorted(_BOILERPLATE_KEYS))
            raise fail(key, f"unknown key {key!r} in [boilerplate] (known: {known})")
    base = Boilerplate()
    min_works = table.get("min_works", base.min_works)
    if not isinstance(min_works, int) or isinstance(min_works, bool) or min_works < 0:
        raise fail("min_works", "boilerplate.min_works must be a whole number >= 0 (0: off)")
    if min_works == 1:
        raise fail("min_works", "boilerplate.min_works = 1 would mark every work whole")
    builtin = table.get("builtin", base.builtin)
    if not isinstance(builtin, bool):
        raise fail("builtin", "boilerplate.builtin must be true or false")
    corpus = table.get("corpus", base.corpus)
    if not isinstance(corpus, str):
        raise fail("corpus", "boilerplate.corpus must be a path (relative to the rules folder)")
    keep = table.get("keep", [])
    if not isinstance(keep, list) or not all(isinstance(v, str) for v in keep):
        raise fail("keep", "boilerplate.keep must be a list of work ids")
    for wid in keep:
        if wid not in work_ids:
            raise fail(wid, f"boilerplate.keep names unknown work {wid!r}")
    return Boilerplate(min_works, builtin, corpus, frozenset(keep))


def _table(doc: dict[str, Any], key: str, fail: Any) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise fail(key, f"{key!r} must be a table")
    return value


def _rule(table: dict[str, Any], base: Rule, prefix: str, fail: Any) -> Rule:
    min_words = table.get("min_words", base.min_words)
    if not isinstance(min_words, int) or isinstance(min_words, bool) or not 1 <= min_words <= 1000:
        raise fail(f"{prefix}min_words", "min_words must be a whole number from 1 to 1000")
    action = table.get("action", base.action)
    if action not in {a.value for a in Action}:
        raise fail(f"{prefix}action", f"action must be one of {', '.join(a.value for a in Action)}")
    templates = {}
    for key, default in (
        ("replacement", base.replacement or DEFAULT_REPLACEMENT),
        ("block_notice", base.block_notice),
    ):
        value = table.get(key, default)
        if not isinstance(value, str):
            raise fail(f"{prefix}{key}", f"{key} must be a string")
        try:
            value.format(title="", work="", collection="")
        except (KeyError, IndexError, ValueError) as e:
            raise fail(f"{prefix}{key}", f"{key} template: {e!r}") from None
        templates[key] = value
    echo = table.get("echo", base.echo)
    if echo not in {e.value for e in Echo}:
        raise fail(f"{prefix}echo", f"echo must be one of {', '.join(e.value for e in Echo)}")
    budget = table.get("budget_words", base.budget_words)
    if not isinstance(budget, int) or isinstance(budget, bool) or not 0 <= budget <= 1_000_000:
        raise fail(f"{prefix}budget_words", "budget_words must be a whole number from 0 (off)")
    gap = table.get("max_gap_words", base.max_gap_words)
    if not isinstance(gap, int) or isinstance(gap, bool) or not 0 <= gap <= 5:
        raise fail(f"{prefix}max_gap_words", "max_gap_words must be a whole number from 0 to 5")
    share = table.get("min_share", base.min_share)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0.5 <= share <= 1:
        raise fail(f"{prefix}min_share", "min_share must be a number from 0.5 to 1")
    return Rule(
        min_words,
        Action(action),
        echo=Echo(echo),
        budget_words=budget,
        max_gap_words=gap,
        min_share=float(share),
        **templates,
    )
