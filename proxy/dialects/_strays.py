"""Strings in an event that no dialect guards as a text stream: found so they can be checked.

A dialect guards the fields where its format puts output text and holds that text back while
it may be the start of a protected passage.  Anything else an upstream sends is passed on as
it came: metadata, but also extensions (an audio transcript, "reasoning_details", a field a
server invented).  ``strays`` finds every string outside a dialect's ``Fields`` so the guard
can check it (``TextFilter.stray``): "nothing leaks in any field" must not depend on the
dialect knowing every field.

``Fields`` is a tree of the keys a dialect reads itself or knows to carry no text: ``None``
marks a string the dialect guards or that is metadata (any other value there is looked into
as unknown), ``...`` a whole subtree the dialect takes care of (logprobs, usage), a dict
descends, and ``"*"`` stands for every element of a list.
"""

from __future__ import annotations

from types import EllipsisType
from typing import Any

from proxy.dialects.base import DialectError, StrayText, TextFilter

Fields = dict[str, "Fields | EllipsisType | None"]
Found = tuple[str, str]  # (path, text)


class _Node:
    """A ``Fields`` tree compiled for the walk: set lookups instead of per-key branching."""

    __slots__ = ("skip", "star", "strings_ok", "subs")

    def __init__(self, fields: Fields) -> None:
        self.skip = frozenset(k for k, v in fields.items() if v is ... and k != "*")
        self.strings_ok = self.skip | {k for k, v in fields.items() if v is None and k != "*"}
        self.subs = {k: _compile(v) for k, v in fields.items() if isinstance(v, dict)}
        # list elements: ... skips them, None lets their strings pass, a tree descends, and
        # without "*" they are unknown (every string a stray)
        star = fields.get("*", {})
        self.star: _Node | EllipsisType | None
        if not fields:  # the unknown: every element of its lists is unknown too
            self.star = self
        else:
            self.star = star if star is None or star is ... else _compile(star)


_NONE_NODE = _Node({})  # below an unknown key: every string is a stray
_compiled: dict[int, tuple[Fields, _Node]] = {}


def _compile(fields: Fields) -> _Node:
    """The compiled tree of ``fields`` (dialects pass module constants: compiled once each)."""
    if not fields:
        return _NONE_NODE
    hit = _compiled.get(id(fields))
    if hit is not None and hit[0] is fields:
        return hit[1]
    node = _Node(fields)
    if len(_compiled) >= 256:  # only a caller building trees per call gets here: stay bounded
        _compiled.clear()
    _compiled[id(fields)] = (fields, node)  # the tree is kept, so its id is not reused
    return node


def check_strays(value: Any, fields: Fields, guard: TextFilter, at: str = "") -> None:
    """Have ``guard`` check every stray string of ``value`` (found at path ``at``).

    Raises ``StrayText`` on a hit.
    """
    for path, text in strays(value, fields, at):
        if guard.stray(path, text):
            raise StrayText(f"protected text in {path}, a field copyguard does not hold back")


def strays(value: Any, fields: Fields, at: str = "") -> list[tuple[str, str]]:
    """``(path, text)`` for every non-empty string of ``value`` outside ``fields``."""
    found: list[tuple[str, str]] = []
    node = _compile(fields)
    try:
        if type(value) is dict:
            _dict(value, node, [at] if at else [], found)
        elif type(value) is list:
            _list(value, node, [at] if at else [], found)
        elif type(value) is str and value:  # a body that is one JSON string
            found.append((f"/{at}" if at else "", value))
    except RecursionError:  # orjson parses 1024 levels, deeper than Python recurses
        raise DialectError("upstream JSON nested too deeply to be read") from None
    return found


# These run on every event: no generators, and a path string only for what is found.
def _dict(
    value: dict[str, Any], node: _Node, path: list[str], found: list[tuple[str, str]]
) -> None:
    for key, child in value.items():
        kind = type(child)
        if kind is str:
            if child and key not in node.strings_ok:
                found.append(("/".join(["", *path, key]), child))
        elif (kind is dict or kind is list) and key not in node.skip:
            path.append(key)
            sub = node.subs.get(key, _NONE_NODE)
            (_dict if kind is dict else _list)(child, sub, path, found)
            path.pop()


def _list(value: list[Any], node: _Node, path: list[str], found: list[Found]) -> None:
    star = node.star
    if star is ...:
        return
    for i, child in enumerate(value):
        kind = type(child)
        if kind is str:
            if child and star is not None:
                found.append(("/".join(["", *path, str(i)]), child))
        elif kind is dict or kind is list:
            path.append(str(i))
            sub = _NONE_NODE if star is None else star
            (_dict if kind is dict else _list)(child, sub, path, found)
            path.pop()
