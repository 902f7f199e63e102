"""Well-known texts a small model may have memorised, the prompts that ask for them, and how
much of each a model's answer reproduces verbatim.

Each text is a work file: the ones the e2e model reproduces (a run of at least `min_words`)
are the rules folder `tests/e2e/rules/`, the others `tests/e2e/candidates/` (measured, not
protected).  docs/e2e.md has the table `make e2e` prints from these.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from proxy.matching.normalize import words
from proxy.rules import load_rules

HERE = Path(__file__).resolve().parent
RULES = HERE / "rules"
CANDIDATES = HERE / "candidates"


@dataclass(frozen=True)
class Ask:
    """How a text is asked for: its first `prefix_words` words as a completion prompt, and a
    chat request."""

    prefix_words: int
    chat: str


ASKS: dict[str, Ask] = {
    "gettysburg-address": Ask(16, "Recite the Gettysburg Address by Abraham Lincoln."),
    "us-constitution-preamble": Ask(16, "Recite the preamble of the US Constitution."),
    "first-amendment": Ask(8, "Quote the First Amendment to the US Constitution."),
    "declaration-of-independence": Ask(12, "Quote the opening of the Declaration of Independence."),
    "mit-license": Ask(12, "Write out the text of the MIT License."),
    "apache-2-header": Ask(12, "Write the Apache License 2.0 header for a source file."),
    "psalm-23-kjv": Ask(8, "Recite Psalm 23 from the King James Bible."),
    "genesis-1-kjv": Ask(16, "Quote Genesis 1:1-5 from the King James Bible."),
    "hamlet-to-be": Ask(10, "Recite Hamlet's 'To be, or not to be' soliloquy."),
    "lorem-ipsum": Ask(12, "Write the standard Lorem ipsum placeholder paragraph."),
}


@dataclass(frozen=True)
class Text:
    id: str
    title: str
    text: str
    ask: Ask
    protected: bool  # in tests/e2e/rules (else a measured candidate)

    @property
    def prefix(self) -> str:
        """The completion prompt: the text up to the end of word `prefix_words`."""
        return self.text[: words(self.text)[self.ask.prefix_words - 1][2]]


def texts() -> list[Text]:
    """Every measured text, protected ones first, each with its ask."""
    out = []
    for folder, protected in ((RULES, True), (CANDIDATES, False)):
        for work in load_rules(folder).works if folder.is_dir() else ():
            out.append(Text(work.id, work.title or work.id, work.text, ASKS[work.id], protected))
    return out


def longest_run(answer: str, work: str) -> int:
    """The longest run of consecutive words (normal forms) that `answer` shares with `work`."""
    a = [w for w, _, _ in words(answer)]
    b = [w for w, _, _ in words(work)]
    best, prev = 0, [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best
