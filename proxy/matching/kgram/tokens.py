"""Catalogue words at build speed: ``normalize.words`` without offsets, ``re`` for ASCII.

The ``regex`` engine splits a few hundred thousand words a second; on ASCII text
``WORD_RE`` is the stdlib pattern below (checked against ``words`` in
tests/kgram/test_tokens.py).  The cleaned text is cut at line breaks where no word can
continue across (the next line starts with a character no contraction tail starts with);
ASCII pieces take the fast pattern (or ``str.split`` when no apostrophe or hyphen can
join words), others ``WORD_RE``; every distinct word is folded once (``fold``) and the
text's words expanded from that table.  Batches of works are tokenised on a pool of
processes, a few batches ahead of the build, so memory does not grow with the catalogue.
"""

from __future__ import annotations

import multiprocessing
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from multiprocessing.pool import AsyncResult

import numpy as np
import numpy.typing as npt

from proxy.matching.catalogue import Work
from proxy.matching.clean import clean
from proxy.matching.normalize import MAX_WORD_CHARS, WORD_RE, fold

_GAP = r"[\t\n\x0b\x0c\r ]"  # regex's \s in ASCII (stdlib's also has \x1c-\x1f)
_ASCII_WORD = re.compile(
    r"[A-Za-z0-9]+(?:(?:['-][A-Za-z0-9]+"
    rf"|{_GAP}*'{_GAP}*(?i:s|m|d|ll|re|ve|t)(?![A-Za-z0-9])"
    rf"|{_GAP}+(?i:n)'(?i:t)(?![A-Za-z0-9]))[A-Za-z0-9]*)*"
)
#: ``progress(phase, done, total)``; called often, cheap to ignore.
Progress = Callable[[str, int, int], None]
#: One batch of works: its vocabulary (index = local id, 0 is ""), ids, words per work.
Batch = tuple[Sequence[str], npt.NDArray[np.uint32], npt.NDArray[np.int64]]

_BATCH_CHARS = 4 << 20
_IN_PROCESS_CHARS = 8 << 20
_IN_FLIGHT = 2  # batches per process given out ahead
_FORMS: dict[str, tuple[str, ...]] = {}  # raw word -> its normal forms, in this process
_FORMS_CACHE = 1 << 21

# A line break followed by one of these cannot sit inside a word (nor before its tail).
_SAFE_BREAK = re.compile(r"\n(?=[A-MO-Za-mo-z0-9\"(*\[#_.,;:!?)\]{}<>/\\|@$%^&+=~`])")


_NON_ALNUM = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})


def _ascii_words(piece: str) -> list[str]:
    if "'" in piece or "-" in piece:
        return _ASCII_WORD.findall(piece)
    # No tail can join anything: words are the runs of letters and digits (C-speed split).
    return piece.translate(_NON_ALNUM).split()


def raw_words(text: str) -> list[str]:
    """The raw words of ``text`` after the character pass, as ``normalize.words`` splits it."""
    cleaned, _ = clean(text)
    if cleaned.isascii() and "'" not in cleaned and "-" not in cleaned:
        return cleaned.translate(_NON_ALNUM).split()
    out: list[str] = []
    for piece in _SAFE_BREAK.split(cleaned):
        out += _ascii_words(piece) if piece.isascii() else WORD_RE.findall(piece)
    return out


def forms(raw: str) -> tuple[str, ...]:
    """The normal forms of one raw word; ``("",)`` (unknown) for an overlong one."""
    return ("",) if len(raw) > MAX_WORD_CHARS else tuple(fold(raw))


def catalogue_words(text: str, table: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    """The normal forms of every word of ``text``, as ``normalize.words`` gives them.

    ``table``: raw words already folded (filled in here), shared by the texts of a batch.
    """
    raws = raw_words(text)
    # A book has a few thousand distinct words: fold each once, then expand in C.
    table = {} if table is None else table
    table.update((raw, forms(raw)) for raw in set(raws).difference(table))
    return list(chain.from_iterable(map(table.__getitem__, raws)))


def tokenise(texts: Sequence[str]) -> Batch:
    """One batch's words as local ids (run in a pool process)."""
    raws: list[str] = []
    lens = []
    for text in texts:
        found = raw_words(text)
        raws += found
        lens.append(len(found))
    # C-level loops only: the distinct raw words, each folded once (a process-wide cache:
    # a catalogue's vocabulary recurs batch after batch), then one int lookup per word;
    # the few words of several forms ("21", "theQuick") are expanded by numpy.
    distinct: dict[str, int] = dict.fromkeys(raws, 0)
    if len(_FORMS) > _FORMS_CACHE:
        _FORMS.clear()
    _FORMS.update((raw, forms(raw)) for raw in distinct.keys() - _FORMS.keys())
    local: dict[str, int] = {"": 0}
    flat: list[int] = []
    sizes: list[int] = []
    for i, raw in enumerate(distinct):
        distinct[raw] = i
        found_forms = _FORMS[raw]
        flat += [local.setdefault(f, len(local)) for f in found_forms]
        sizes.append(len(found_forms))
    which = np.fromiter(map(distinct.__getitem__, raws), dtype=np.int64, count=len(raws))
    table = np.array(flat, dtype=np.uint32)
    if all(n == 1 for n in sizes):
        ids = table[which]
    else:
        size = np.array(sizes, dtype=np.int64)
        per_word = size[which]
        first = np.repeat((np.cumsum(size) - size)[which], per_word)
        ends = np.cumsum(per_word)
        ids = table[first + np.arange(int(ends[-1])) - np.repeat(ends - per_word, per_word)]
        bounds, total = np.cumsum([0, *lens]), np.r_[0, ends]
        lens = (total[bounds[1:]] - total[bounds[:-1]]).tolist()
    return list(local), ids, np.array(lens, dtype=np.int64)


def tokenised_batches(
    works: Iterable[Work], total: int, processes: int | None, progress: Progress
) -> Iterator[Batch]:
    """The works' words, batch by batch in order, split on ``processes`` processes.

    ``works`` is read as batches are needed (a few per process in flight), so memory does
    not grow with the catalogue; ``total``: about how many characters they hold.
    """
    done = 0
    procs = processes or os.cpu_count() or 1
    if procs == 1 or total <= _IN_PROCESS_CHARS:
        for texts in _batches(works):
            yield tokenise(texts)
            done += sum(map(len, texts))
            progress("words", min(done, total), total)
        progress("words", total, total)  # ``total`` was an estimate
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(procs) as pool:
        pending: deque[tuple[int, AsyncResult[Batch]]] = deque()
        for texts in _batches(works):
            pending.append((sum(map(len, texts)), pool.apply_async(tokenise, (texts,))))
            while len(pending) > _IN_FLIGHT * procs or (pending and pending[0][1].ready()):
                size, result = pending.popleft()
                yield result.get()
                done += size
                progress("words", min(done, total), total)
        while pending:
            size, result = pending.popleft()
            yield result.get()
            done += size
            progress("words", min(done, total), total)
    progress("words", total, total)


def _batches(works: Iterable[Work]) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for w in works:
        if size >= _BATCH_CHARS:
            yield batch
            batch, size = [], 0
        batch.append(w.text)
        size += len(w.text)
    yield batch
