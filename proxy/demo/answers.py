"""What the demo model says: sample works, answer choice, chunking.  No I/O but `load_works`."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.matching.normalize import words as word_spans

CLEAN = "clean"
NEXT_HEADER = "x-demo-next"
ECHO_PREFIX = "echo:"
# The same, base64-encoded (up to the first white space): the request then carries none of the
# text it makes the model say (a test of what the model says alone, not of the request).
ECHO64_PREFIX = "echo64:"

CLEAN_ANSWER = (
    "Here is a short answer written just for this demo. "
    "I am a simulated model, so I know very little, but I can stream text at a steady pace "
    "for as long as a benchmark needs. "
    "Nothing in these sentences is borrowed from a book, an album or a website. "
    "Good answers tend to be plain, specific and honest about what they do not know. "
    "Ask me for a poem, a song or a story to watch how copyguard handles protected text."
)

# (work id, keywords): a keyword matches at the start of a word, case-insensitively.
KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("poems/lighthouse-keeper", ("lighthouse", "poem")),
    ("songs/copper-river-blues", ("river", "song", "lyrics")),
    ("prose/the-cartographers-daughter", ("cartographer", "story", "prose")),
)

_CITY = re.compile(r"\b(?:in|for|at) ([A-Z][A-Za-z]+(?: [A-Z][A-Za-z]+)?)")


@dataclass(frozen=True)
class Work:
    """One sample work: its id (path under the rules folder, no suffix), title and text."""

    id: str
    title: str
    text: str

    def answer(self) -> str:
        """The model's answer reproducing this work: a lead-in sentence, then the text."""
        return f'Certainly, here is "{self.title}" in full.\n\n{self.text}'


def parse_work(work_id: str, raw: str) -> Work:
    """Split an optional `---` front-matter block off ``raw``; its `title` names the work."""
    meta: dict[str, str] = {}
    text = raw.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines and lines[0].strip() == "---":
        for end in range(1, len(lines)):
            if lines[end].strip() == "---":
                for line in lines[1:end]:
                    key, sep, value = line.partition(":")
                    if sep:
                        meta[key.strip()] = value.strip()
                text = "\n".join(lines[end + 1 :])
                break
    return Work(id=work_id, title=meta.get("title", work_id), text=text.rstrip("\n"))


def load_works(rules_dir: Path) -> dict[str, Work]:
    """Read every ``*.txt`` under ``rules_dir``, keyed by work id."""
    works: dict[str, Work] = {}
    for path in sorted(rules_dir.rglob("*.txt")):
        work_id = path.relative_to(rules_dir).with_suffix("").as_posix()
        works[work_id] = parse_work(work_id, path.read_text(encoding="utf-8"))
    return works


def echo64(text: str) -> str:
    """The prompt that makes the demo say ``text`` without the request carrying it."""
    return ECHO64_PREFIX + base64.b64encode(text.encode("utf-8")).decode("ascii")


def next_words(spec: str, works: Mapping[str, Work]) -> str:
    """``"WORK POSITION N"``: the next N words of a work from word POSITION (0-based), verbatim.

    A model that obliges an extraction attack, one slice a request; ValueError for a bad spec,
    KeyError for an unknown work.
    """
    parts = spec.split()
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        raise ValueError(f"{NEXT_HEADER} takes 'WORK POSITION N', not {spec!r}")
    text = works[parts[0]].text
    at, n = int(parts[1]), int(parts[2])
    spans = [(s, e) for _, s, e in word_spans(text)]
    if n == 0 or at >= len(spans):
        return ""
    return text[spans[at][0] : spans[min(at + n, len(spans)) - 1][1]]


def named_answer(name: str, works: Mapping[str, Work]) -> str:
    """The answer called ``name`` ("clean" or a work id); KeyError for unknown names."""
    if name == CLEAN:
        return CLEAN_ANSWER
    return works[name].answer()


def choose_answer(user_text: str, works: Mapping[str, Work]) -> str:
    """Echo, a sample work the prompt asks for, or the clean answer."""
    if user_text.startswith(ECHO64_PREFIX):
        raw = user_text[len(ECHO64_PREFIX) :].split(maxsplit=1)  # what follows is the prompt's
        try:
            return base64.b64decode(raw[0] if raw else "", validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return f"{ECHO64_PREFIX} needs base64 of UTF-8 text"
    if user_text.startswith(ECHO_PREFIX):
        rest = user_text[len(ECHO_PREFIX) :]
        return rest[1:] if rest.startswith(" ") else rest
    lowered = user_text.lower()
    best: tuple[int, str] | None = None
    for work_id in works:
        at = lowered.find(work_id.lower())
        if at >= 0 and (best is None or at < best[0]):
            best = (at, work_id)
    for work_id, words in KEYWORDS:
        if work_id not in works:
            continue
        for word in words:
            found = re.search(rf"\b{re.escape(word)}", lowered)
            if found and (best is None or found.start() < best[0]):
                best = (found.start(), work_id)
    return works[best[1]].answer() if best else CLEAN_ANSWER


def paced(text: str, size: int, max_chunks: int | None) -> str:
    """``text`` cut or padded with the clean answer to exactly ``max_chunks`` chunks."""
    if max_chunks is None:
        return text
    want = size * max_chunks
    while len(text) < want:
        text = f"{text} {CLEAN_ANSWER}" if text else CLEAN_ANSWER
    return text[:want]


def chunks(text: str, size: int) -> tuple[str, ...]:
    """Cut ``text`` into pieces of ``size`` characters (code points, never bytes)."""
    return tuple(text[i : i + size] for i in range(0, len(text), max(1, size)))


def text_of(content: Any) -> str:
    """The text of a message ``content``: a string or a list of text/input_text blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b.get("text") for b in content if isinstance(b, dict)]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


def last_user_text(messages: Iterable[Any]) -> str:
    """The text of the last ``role: user`` message (chat, Anthropic, Ollama, Responses items)."""
    found = ""
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "user":
            found = text_of(message.get("content"))
    return found


def tool_arguments(user_text: str) -> str:
    """JSON arguments for the demo's weather tool call, naming the city the user asked about."""
    match = _CITY.search(user_text)
    city = match.group(1) if match else "Paris"
    return '{"location": "' + city + '", "unit": "celsius"}'
