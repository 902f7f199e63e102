"""Protected works and the policy that applies to them, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Action(StrEnum):
    """What the proxy does with a finding."""

    BLOCK = "block"
    REDACT = "redact"
    ANNOTATE = "annotate"
    LOG = "log"


DEFAULT_REPLACEMENT = "[…]"


@dataclass(frozen=True, slots=True)
class Rule:
    """The policy in force for one collection."""

    min_words: int = 12
    action: Action = Action.BLOCK
    replacement: str = DEFAULT_REPLACEMENT


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
class Boilerplate:
    """How runs that are not a work's own are found (``[boilerplate]`` in policy.toml)."""

    min_works: int = 3  # runs shared by this many works or more (0: not looked for)
    builtin: bool = True  # compare with the standard legal language shipped with copyguard
    corpus: str = ""  # the operator's background corpus, as named in policy.toml
    keep: frozenset[str] = frozenset()  # works whose boilerplate stays protected


@dataclass(frozen=True, slots=True)
class Policy:
    """Defaults, per-collection overrides, the allow-list and the boilerplate settings."""

    default: Rule = Rule()
    collections: dict[str, Rule] = field(default_factory=dict)
    allow_phrases: tuple[str, ...] = ()
    allow_works: frozenset[str] = frozenset()
    boilerplate: Boilerplate = Boilerplate()

    def rule(self, collection: str) -> Rule:
        return self.collections.get(collection, self.default)

    @property
    def min_words(self) -> int:
        """The smallest ``min_words`` in force anywhere: the matcher is built for it."""
        return min([self.default.min_words, *(r.min_words for r in self.collections.values())])

    def with_min_words(self, n: int) -> Policy:
        """The same policy with ``min_words`` forced to ``n`` everywhere (``scan --min-words``)."""
        coll = {k: Rule(n, r.action, r.replacement) for k, r in self.collections.items()}
        d = self.default
        return Policy(
            Rule(n, d.action, d.replacement),
            coll,
            self.allow_phrases,
            self.allow_works,
            self.boilerplate,
        )


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Everything a rules folder says: the works, the policy, and a hash of it all."""

    works: tuple[Work, ...]
    policy: Policy
    content_hash: str
    background: tuple[str, ...] = ()  # the operator's boilerplate corpus, text by text
