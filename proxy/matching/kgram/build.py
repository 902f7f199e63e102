"""Compile works into an index file with bounded memory, on every core.

1. Words: batches of works are split on a pool of processes (``tokens``); the parent maps
   each batch's own vocabulary onto the global one and appends word ids to a temporary
   ``source`` file, so only the vocabulary stays in memory.
2. Windows: as each batch arrives (while the pool tokenises the next), numpy hashes the
   window at every ``stride``-th position of each work and the prefixes of each, and
   appends them to 64 partition files by the hash's top bits; the batch's boilerplate
   runs are counted the same way (``boiler``).
3. Tables: each partition is sorted on its own (an external sort: partitions are in hash
   order, so their concatenation is sorted), then cut into fingerprints and a directory.
4. The sections are copied into the index file (``layout.IndexWriter``).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import xxhash

from proxy.matching.aho.index import window_and_stride
from proxy.matching.boilerplate import builtin_corpus
from proxy.matching.catalogue import Policy, Rule
from proxy.matching.kgram import boiler
from proxy.matching.kgram.hashing import PRIME, SEED, table_bits
from proxy.matching.kgram.layout import FORMAT_VERSION, IndexWriter
from proxy.matching.kgram.tokens import Batch, Progress, catalogue_words
from proxy.matching.spelling import variants

_PARTITION_BITS = 6
#: The default short run (the ``budget_min_run`` setting's default).
SHORT_RUN = 6
_MAX_POSTINGS = 256
_U64 = np.uint64


def _none(phase: str, done: int, total: int) -> None:
    pass


def plan(policy: Policy, strict: bool) -> tuple[int, int]:
    """Window and stride: the automaton engine's, or every position (``strict``)."""
    return (policy.seed_words, 1) if strict else window_and_stride(policy.seed_words)


def build_index(
    batches: Iterable[Batch],
    works: Sequence[tuple[str, str, str]],
    policy: Policy,
    content_hash: str,
    out: Path,
    *,
    strict: bool = False,
    progress: Progress = _none,
    background: Sequence[str] = (),
    seen: npt.NDArray[np.uint64] | None = None,
    short_run: int = SHORT_RUN,
) -> dict[str, Any]:
    """Write the index of ``works`` (id, title, collection; words from ``batches``) to ``out``.

    ``background``: the operator's boilerplate corpus; ``seen``: its run hashes instead
    (what a merge takes over from the base); ``short_run``: the run length of the second
    set of windows, for budgets and context checks (0: none).
    """
    window, stride = plan(policy, strict)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    try:
        settings = policy.boilerplate
        sets = {"": _Windows(tmp, window, stride, "")}
        if short_run:
            sets["s"] = _Windows(tmp, *window_and_stride(short_run), "s")
        runs = boiler.RunCounter(tmp, _mix) if settings.min_works > 0 else None

        def on_block(block: Any, at: int, firsts: Any, lens: Any) -> None:
            # while the pool tokenises the next batches: this one's windows and runs
            for windows in sets.values():
                windows.add(block, at, firsts, lens)
            if runs is not None:
                runs.add(block, firsts, lens)

        try:
            vocab, starts, lens = _write_source(batches, tmp / "source", on_block)
        finally:
            for windows in sets.values():
                windows.close()
            if runs is not None:
                runs.close()
        if len(starts) != len(works):
            raise ValueError(f"{len(works)} works but {len(starts)} word lists")
        progress("windows", 1, 1)
        if seen is None:
            texts = [*background, *([builtin_corpus()] if settings.builtin else [])]
            ids = [[vocab.get(n, 0) for n in catalogue_words(t)] for t in texts]
            seen = boiler.background_hashes(ids, _mix)
        keep = {i for i, w in enumerate(works) if w[0] in settings.keep}
        common = runs.common(settings.min_works) if runs is not None else None
        marked = boiler.mark(tmp / "source", starts, lens, seen, common, keep, _mix)
        bp_start, bp_end, bp_runs = marked
        progress("boilerplate", 1, 1)
        words = list(vocab)
        tables = {k: _tables(tmp, k, w, words, progress) for k, w in sets.items()}
        writer = IndexWriter(out)
        try:
            writer.add("source", "I", _file_chunks(tmp / "source"))
            writer.add("work_starts", "I", np.asarray(starts, dtype=np.uint32).tobytes())
            _add_vocab(writer, words)
            for k, (starter, chars, _) in tables.items():
                writer.add(f"{k}starter", "B", starter.tobytes())
                for name in ("win_dir", "win_fp", "win_pos", "pre_dir", "pre_fp"):
                    writer.add(k + name, "I", _file_chunks(tmp / (k + name)))
                writer.add(f"{k}chr_keys", "Q", chars.tobytes())
            writer.add("bp_start", "I", bp_start.tobytes())
            writer.add("bp_end", "I", bp_end.tobytes())
            writer.add("bp_seen", "Q", seen.tobytes())
            # unknown words drop out of a phrase, as in the automaton engine (their code is "")
            allow_ids = [
                [i for i in (vocab.get(n, 0) for n in catalogue_words(p)) if i]
                for p in policy.allow_phrases
            ]
            meta = {
                "format": FORMAT_VERSION,
                "content_hash": content_hash,
                "window": window,
                "stride": stride,
                "strict": strict,
                "words": int(sum(lens)),
                "vocab": len(words),
                **tables[""][2],
                # the second windows (``engines.short_runs``): runs of ``min_run`` words
                "short": (
                    {"min_run": short_run, "window": sets["s"].window, "stride": sets["s"].stride}
                    | tables["s"][2]
                    if short_run
                    else None
                ),
                "works": [list(w) for w in works],
                "policy": policy_to_json(policy),
                "allow_ids": allow_ids,
                "boilerplate_runs": [
                    [r.work, r.start, r.end, r.works, r.background] for r in bp_runs
                ],
            }
            progress("write", 1, 1)
            size = writer.commit(meta)
        except BaseException:
            writer.abort()
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"bytes": size, "words": meta["words"], "works": len(works), "vocab": len(words)}


#: ``on_block(block, at, firsts, counts)``: one batch's words as laid out in ``source``
#: from offset ``at`` (each work after a 0), its works' first offsets in the block and sizes.
OnBlock = Callable[
    [npt.NDArray[np.uint32], int, npt.NDArray[np.int64], npt.NDArray[np.int64]], None
]


def _write_source(
    batches: Iterable[Batch], path: Path, on_block: OnBlock
) -> tuple[dict[str, int], list[int], list[int]]:
    vocab: dict[str, int] = {}
    starts: list[int] = []
    lens: list[int] = []
    at = 1
    with path.open("wb") as f:
        f.write(np.zeros(1, dtype=np.uint32).tobytes())
        for local, ids, counts in batches:
            # local[0] is "" (unknown); the rest are new to the batch, some to the index
            new = [w for w in local[1:] if w not in vocab]
            vocab.update(zip(new, range(len(vocab) + 1, len(vocab) + 1 + len(new)), strict=True))
            table = np.fromiter(
                chain([0], map(vocab.__getitem__, local[1:])), dtype=np.uint32, count=len(local)
            )
            block = np.zeros(len(ids) + len(counts), dtype=np.uint32)
            if len(ids):
                block[np.arange(len(ids)) + np.repeat(np.arange(len(counts)), counts)] = table[ids]
            firsts = np.cumsum(counts) - counts + np.arange(len(counts))
            starts.extend((firsts + at).tolist())
            lens.extend(counts.tolist())
            f.write(block.tobytes())
            on_block(block, at, firsts, counts)
            at += len(block)
    if at >= 1 << 32:
        raise ValueError("more than 2**32 words in one index: split the catalogue by work")
    return vocab, starts, lens


class _Windows:
    """Every loaded window of each block and its prefixes, hashed into partition files."""

    def __init__(self, tmp: Path, window: int, stride: int, prefix: str) -> None:
        self.window, self.stride = window, stride
        self.parts = {
            name: [(tmp / f"{prefix}{name}-{p}").open("ab") for p in range(1 << _PARTITION_BITS)]
            for name in ("win", "winpos", "pre")
        }
        self.starters: list[npt.NDArray[np.uint32]] = []

    def add(
        self,
        block: npt.NDArray[np.uint32],
        at: int,
        firsts: npt.NDArray[np.int64],
        lens: npt.NDArray[np.int64],
    ) -> None:
        window, stride = self.window, self.stride
        counts = np.maximum(0, (lens - window) // stride + 1)
        n = int(counts.sum())
        offsets = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
        pos = np.repeat(firsts, counts) + offsets * stride
        state = np.full(n, SEED, dtype=_U64)
        valid = np.ones(n, dtype=bool)
        prefixes = []
        for k in range(window):
            w = block[pos + k].astype(_U64)
            valid &= w != 0
            state = (state ^ w) * _U64(PRIME)
            if 2 <= k + 1 < window:
                prefixes.append(_mix(state))
        self.starters.append(np.unique(block[pos[valid]]))
        hashes, where = _mix(state)[valid], (pos[valid] + at).astype(np.uint32)
        shift = _U64(64 - _PARTITION_BITS)
        _partition(hashes, [where], self.parts["win"], [self.parts["winpos"]], shift)
        if prefixes:
            pre = _distinct(np.concatenate([p[valid] for p in prefixes]))
            _partition(pre, [], self.parts["pre"], [], shift)

    def close(self) -> None:
        for files in self.parts.values():
            for f in files:
                f.close()

    def starter(self, vocab_size: int) -> npt.NDArray[np.uint8]:
        """Flags by word id: does a loaded window start with this word."""
        flags = np.zeros(vocab_size + 1, dtype=np.uint8)
        for ids in self.starters:
            flags[ids] = 1
        return flags


def _partition(
    hashes: npt.NDArray[np.uint64],
    values: list[npt.NDArray[np.uint32]],
    files: list[Any],
    value_files: list[list[Any]],
    shift: np.uint64,
) -> None:
    order = np.argsort(hashes, kind="stable")
    hashes = hashes[order]
    values = [v[order] for v in values]
    cuts = np.searchsorted(hashes >> shift, np.arange(len(files) + 1), side="left")
    for p in range(len(files)):
        lo, hi = cuts[p], cuts[p + 1]
        if lo < hi:
            files[p].write(hashes[lo:hi].tobytes())
            for v, vf in zip(values, value_files, strict=True):
                vf[p].write(v[lo:hi].tobytes())


def _tables(
    tmp: Path, prefix: str, windows: _Windows, words: list[str], progress: Progress
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint64], dict[str, int]]:
    """One set of windows' tables (files in ``tmp``): starter flags, character prefixes of
    the words that start a window, and the tables' sizes for the metadata."""
    win_bits, win_count = _table(tmp, f"{prefix}win", positions=True, progress=progress)
    pre_bits, pre_count = _table(tmp, f"{prefix}pre", positions=False, progress=progress)
    starter = windows.starter(len(words))
    firsts = [words[i - 1] for i in np.flatnonzero(starter) if i]
    spellings = variants()  # "colou" may still become "colour", which folds to "color"
    chars = _char_prefixes(firsts + [v for w in firsts for v in spellings.get(w, ())])
    sizes = {"win_bits": win_bits, "win_entries": win_count}
    return starter, chars, sizes | {"pre_bits": pre_bits, "pre_entries": pre_count}


def _table(tmp: Path, name: str, *, positions: bool, progress: Progress) -> tuple[int, int]:
    """Sort each partition, then write its fingerprints, directory (and positions)."""
    total, count = 0, 1 << _PARTITION_BITS
    for p in range(count):
        h = np.fromfile(tmp / f"{name}-{p}", dtype=_U64)
        if positions:
            pos = np.fromfile(tmp / f"{name}pos-{p}", dtype=np.uint32)
            order = np.argsort(h, kind="stable")  # positions stay in order within a hash
            h, pos = h[order], pos[order]
            if len(h):
                new = np.r_[True, h[1:] != h[:-1]]
                first = np.maximum.accumulate(np.where(new, np.arange(len(h)), 0))
                keep = np.arange(len(h)) - first < _MAX_POSTINGS
                h, pos = h[keep], pos[keep]
            pos.tofile(tmp / f"{name}pos-{p}")
        else:
            h = _distinct(h)
        h.tofile(tmp / f"{name}-{p}")
        total += len(h)
        progress(f"sort {name}", p + 1, count)
    bits = table_bits(total)
    buckets = np.zeros(1 << bits, dtype=np.int64)
    with (
        (tmp / f"{name}_fp").open("wb") as fp_file,
        (tmp / f"{name}_pos").open("wb") as pos_file,
    ):
        for p in range(count):
            h = np.fromfile(tmp / f"{name}-{p}", dtype=_U64)
            if bits:
                buckets += np.bincount((h >> _U64(64 - bits)).astype(np.int64), minlength=1 << bits)
            else:
                buckets[0] += len(h)
            fp_file.write(((h >> _U64(32 - bits)) & _U64(0xFFFFFFFF)).astype(np.uint32).tobytes())
            if positions:
                pos_file.write((tmp / f"{name}pos-{p}").read_bytes())
    directory = np.concatenate([[0], np.cumsum(buckets)]).astype(np.uint32)
    directory.tofile(tmp / f"{name}_dir")
    return bits, total


def _mix(state: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    h = state ^ (state >> _U64(30))
    h = h * _U64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> _U64(27))
    h = h * _U64(0x94D049BB133111EB)
    out: npt.NDArray[np.uint64] = h ^ (h >> _U64(31))
    return out


def _add_vocab(writer: IndexWriter, words: list[str]) -> None:
    encoded = [w.encode() for w in words]
    keys = np.fromiter((xxhash.xxh3_64_intdigest(b) for b in encoded), dtype=_U64, count=len(words))
    order = np.argsort(keys, kind="stable")
    writer.add("vocab_keys", "Q", keys[order].tobytes())
    writer.add("vocab_ids", "I", (order + 1).astype(np.uint32).tobytes())
    lengths = np.fromiter(map(len, encoded), dtype=np.uint64, count=len(encoded))
    writer.add(
        "vocab_off", "Q", np.concatenate([[0, 0], np.cumsum(lengths)]).astype(_U64).tobytes()
    )
    writer.add("vocab_blob", "B", b"".join(encoded))


def _char_prefixes(starters: list[str]) -> npt.NDArray[np.uint64]:
    """Hashes of every prefix of every word that begins a loaded window."""
    seen = {w[:n] for w in starters for n in range(1, len(w) + 1)}
    keys = np.fromiter(
        (xxhash.xxh3_64_intdigest(s.encode()) for s in seen), dtype=_U64, count=len(seen)
    )
    return _distinct(keys)


def _distinct(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """``np.unique`` by sorting (numpy 2's hash-based unique is several times slower here)."""
    values = np.sort(values)
    if len(values) < 2:
        return values
    out: npt.NDArray[np.uint64] = values[np.r_[True, values[1:] != values[:-1]]]
    return out


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(8 << 20):
            yield chunk


def policy_to_json(policy: Policy) -> dict[str, Any]:
    """The policy as JSON (every field of every rule; ``engine.policy_from_json`` reads it)."""
    bp = policy.boilerplate
    return {
        "default": _rule(policy.default),
        "collections": {k: _rule(v) for k, v in policy.collections.items()},
        "allow_phrases": list(policy.allow_phrases),
        "allow_works": sorted(policy.allow_works),
        "boilerplate": {**dataclasses.asdict(bp), "keep": sorted(bp.keep)},
    }


def _rule(rule: Rule) -> dict[str, Any]:
    return {**dataclasses.asdict(rule), "action": rule.action.value}
