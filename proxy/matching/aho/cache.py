"""Keep compiled matchers on disk, keyed by the rules' content hash.

Compiling the gutenberg catalogue takes seconds; loading it back takes a fraction of
that.  A cache entry is a directory written under a temporary name and renamed into
place, so a crashed writer or a second worker never leaves a half entry behind.
Problems with an entry are never fatal: they go to ``warn`` (the caller's logger).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import platform
import shutil
import tempfile
from array import array
from collections.abc import Callable
from pathlib import Path

import ahocorasick

from proxy.matching.aho.index import FORMAT_VERSION, MatchIndex
from proxy.matching.boilerplate import builtin_corpus
from proxy.matching.catalogue import Catalogue

#: ``warn(event, **fields)``, as a structlog logger's ``warning`` is called.
Warn = Callable[..., object]
_stdlib = logging.getLogger("copyguard.cache")


def _warn_stdlib(event: str, **fields: object) -> None:
    _stdlib.warning("%s %s", event, fields)


def cache_key(catalogue: Catalogue) -> str:
    parts = (
        catalogue.content_hash,
        str(FORMAT_VERSION),
        ahocorasick.__version__ if hasattr(ahocorasick, "__version__") else "",
        platform.python_version(),
        repr(sorted((k, v) for k, v in catalogue.policy.collections.items())),
        repr(catalogue.policy.default),
        repr(catalogue.policy.boilerplate),
        # the shipped legal language is part of what a build compares against
        hashlib.sha256(builtin_corpus().encode()).hexdigest(),
    )
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def load_or_build(
    catalogue: Catalogue, cache_dir: Path | None, warn: Warn = _warn_stdlib
) -> tuple[MatchIndex, bool]:
    """The compiled index for ``catalogue`` and whether it came from the cache."""
    if cache_dir is None:
        return MatchIndex.build(catalogue), False
    entry = cache_dir / cache_key(catalogue)
    if entry.is_dir():
        try:
            return _load(entry), True
        except Exception as e:  # a corrupt or foreign entry is rebuilt, never fatal
            warn("cache_entry_unreadable", path=str(entry), error=repr(e))
            shutil.rmtree(entry, ignore_errors=True)
    index = MatchIndex.build(catalogue)
    try:
        _save(index, entry)
    except OSError as e:
        warn("cache_write_failed", path=str(entry), error=repr(e))
    return index, False


def _save(index: MatchIndex, entry: Path) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=entry.parent))
    try:
        index.automaton.save(str(tmp / "automaton.bin"))
        (tmp / "source.bin").write_bytes(index.source.tobytes())
        meta = {
            "vocab": sorted(index.vocab, key=index.vocab.__getitem__),
            "work_starts": index.work_starts.tobytes(),
            "works": index.works,
            "multi": index.multi,
            "window": index.window,
            "stride": index.stride,
            "allow": index.allow,
            "starters": index.starters,
            "content_hash": index.content_hash,
            "boiler": bytes(index.boiler),
            "boilerplate_runs": index.boilerplate_runs,
        }
        (tmp / "meta.pickle").write_bytes(pickle.dumps(meta, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, entry)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not entry.is_dir():
            raise


def _load(entry: Path) -> MatchIndex:
    meta = pickle.loads((entry / "meta.pickle").read_bytes())
    source = array("I")
    source.frombytes((entry / "source.bin").read_bytes())
    starts = array("I")
    starts.frombytes(meta["work_starts"])
    automaton = ahocorasick.load(str(entry / "automaton.bin"), pickle.loads)
    return MatchIndex(
        vocab={w: i for i, w in enumerate(meta["vocab"], start=1)},
        source=source,
        work_starts=starts,
        works=meta["works"],
        automaton=automaton,
        multi=meta["multi"],
        window=meta["window"],
        stride=meta["stride"],
        allow=meta["allow"],
        starters=meta["starters"],
        content_hash=meta["content_hash"],
        boiler=bytearray(meta["boiler"]),
        boilerplate_runs=meta["boilerplate_runs"],
    )
