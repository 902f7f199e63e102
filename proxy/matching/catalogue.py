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
#: Exact stretches of this many words are always found when near-verbatim runs are on:
#: short enough that an edit every 8-10 words leaves whole stretches between the edits.
SEED_WORDS = 7


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
    # Near-verbatim runs: exact stretches of one work separated by at most this many
    # substituted, inserted or dropped words count as one run (0: exact runs only) ...
    max_gap_words: int = 2
    # ... when their aligned words are at least this share of the run.
    min_share: float = 0.8


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

    @property
    def seed_words(self) -> int:
        """Length of the exact stretch the matcher is sure to find (its windows follow from it).

        Exact runs only: ``min_words``.  With near-verbatim runs anywhere, stretches between
        edits must be found, so seeds are ``SEED_WORDS`` long (or ``min_words`` if shorter).
        """
        rules = [self.default, *self.collections.values()]
        if any(r.max_gap_words for r in rules):
            return min(self.min_words, SEED_WORDS)
        return self.min_words

    def with_min_words(self, n: int) -> Policy:
        """The same policy with ``min_words`` forced to ``n`` everywhere (``scan --min-words``)."""
        coll = {k: replace(r, min_words=n) for k, r in self.collections.items()}
        return replace(self, default=replace(self.default, min_words=n), collections=coll)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Everything a rules folder says: the works, the policy, and a hash of it all."""

    works: tuple[Work, ...]
    policy: Policy
    content_hash: str
    background: tuple[str, ...] = ()  # the operator's boilerplate corpus, text by text
