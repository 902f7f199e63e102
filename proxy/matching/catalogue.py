"""Protected works and the policy that applies to them, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


class Action(StrEnum):
    """What the proxy does with a finding."""

    BLOCK = "block"
    REDACT = "redact"
    ANNOTATE = "annotate"
    LOG = "log"


class Echo(StrEnum):
    """Whether an answer may repeat protected text the request itself carries."""

    ALLOW = "allow"
    BLOCK = "block"


DEFAULT_REPLACEMENT = "[…]"


@dataclass(frozen=True, slots=True)
class Rule:
    """The policy in force for one collection."""

    min_words: int = 12
    action: Action = Action.BLOCK
    replacement: str = DEFAULT_REPLACEMENT
    block_notice: str = ""  # appended where a block cuts the text ("": none); may use {title}
    # "allow": an answer may repeat what the request itself carries of a work; "block": never
    echo: Echo = Echo.ALLOW
    # distinct words of one work a key may take over the budget window (0: no budget)
    budget_words: int = 100


@dataclass(frozen=True, slots=True)
class Work:
    """One protected work.  ``collection`` is "" for works at the top of the rules folder."""

    id: str
    text: str
    title: str = ""
    collection: str = ""
    owner: str = ""
    license: str = ""

    @property
    def display_title(self) -> str:
        return self.title or self.id.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class Policy:
    """Defaults, per-collection overrides and the allow-list."""

    default: Rule = Rule()
    collections: dict[str, Rule] = field(default_factory=dict)
    allow_phrases: tuple[str, ...] = ()
    allow_works: frozenset[str] = frozenset()

    def rule(self, collection: str) -> Rule:
        return self.collections.get(collection, self.default)

    @property
    def min_words(self) -> int:
        """The smallest ``min_words`` in force anywhere: the matcher is built for it."""
        return min([self.default.min_words, *(r.min_words for r in self.collections.values())])

    def with_min_words(self, n: int) -> Policy:
        """The same policy with ``min_words`` forced to ``n`` everywhere (``scan --min-words``)."""
        coll = {k: replace(r, min_words=n) for k, r in self.collections.items()}
        d = replace(self.default, min_words=n)
        return Policy(d, coll, self.allow_phrases, self.allow_works)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Everything a rules folder says: the works, the policy, and a hash of it all."""

    works: tuple[Work, ...]
    policy: Policy
    content_hash: str
