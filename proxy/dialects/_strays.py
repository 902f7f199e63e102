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
_NONE: Fields = {}  # below an unknown key: every string is a stray


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
    try:
        _walk(value, fields, [at] if at else [], found)
    except RecursionError:  # orjson parses 1024 levels, deeper than Python recurses
        raise DialectError("upstream JSON nested too deeply to be read") from None
    return found


def _walk(value: Any, fields: Fields, path: list[str], found: list[tuple[str, str]]) -> None:
    # Runs on every event: no generators, and a path string only for what is found.
    pairs: Any
    if type(value) is dict:
        pairs, star = value.items(), None
    else:
        pairs, star = enumerate(value), fields.get("*", _NONE)
    for key, child in pairs:
        sub = fields.get(key, _NONE) if star is None else star
        if sub is ...:
            continue
        kind = type(child)
        if kind is str:
            if sub is not None and child:
                found.append(("/".join(["", *path, str(key)]), child))
        elif kind is dict or kind is list:
            path.append(str(key))
            _walk(child, _NONE if sub is None else sub, path, found)
            path.pop()
