"""The index file: a header, page-aligned sections, then the metadata as JSON.

Layout (little-endian): 64-byte header = magic, format version, file size, metadata
offset and length, xxh3-64 of the sections and of the metadata; sections start at 4096
and every one at a multiple of 64.  The file is written under a temporary name, fsynced,
made read-only and renamed into place, so a reader sees either the old file or the whole
new one.  A mapped file must never change in place (a shrunk file under a live mapping
kills the process with SIGBUS): ``open_index`` refuses writable files, and replacing an
index means writing a new file and renaming it over the old one (what build-index does).
"""

from __future__ import annotations

import json
import mmap
import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

MAGIC = b"CGKGRAM\x00"
#: Bumped whenever the file layout or a hash changes; older files are refused.
FORMAT_VERSION = 1
DATA_START = 4096
_HEADER = struct.Struct("<8sIIQQQQQ")  # magic, version, reserved, size, meta at/len, sums
_ALIGN = 64
# Files whose sections this process has checksummed, by (device, inode, mtime, size): the
# command line checks an index before serving it, and serving must not pay for it twice.
_verified: set[tuple[int, int, int, int]] = set()


class IndexFileError(OSError):
    """An index file that cannot be used; the message is one line naming file and reason."""


@dataclass(frozen=True)
class IndexFile:
    """A validated, read-only mapping of an index file."""

    path: Path
    meta: dict[str, Any]
    buffer: mmap.mmap
    identity: tuple[int, int, int]  # (device, inode, mtime_ns): what a reload compares

    def view(self, name: str) -> memoryview:
        """The section ``name`` as a typed, read-only memoryview of the mapping."""
        at, size, fmt = self.meta["sections"][name]
        view = memoryview(self.buffer)[at : at + size]
        return view.cast(fmt) if fmt != "B" else view


class IndexWriter:
    """Writes sections in order into a temporary file; ``commit`` renames it into place."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        self._f = self.tmp.open("wb")
        self._f.write(b"\0" * DATA_START)
        self._sum = xxhash.xxh3_64()
        self._at = DATA_START
        self.sections: dict[str, tuple[int, int, str]] = {}

    def add(self, name: str, fmt: str, chunks: Iterator[bytes] | bytes) -> None:
        """Append a section (``fmt``: the struct code of one item: B, I or Q)."""
        pad = -self._at % _ALIGN
        self._write(b"\0" * pad)
        start = self._at
        for chunk in [chunks] if isinstance(chunks, bytes) else chunks:
            self._write(chunk)
        self.sections[name] = (start, self._at - start, fmt)

    def _write(self, data: bytes) -> None:
        if data:
            self._f.write(data)
            self._sum.update(data)
            self._at += len(data)

    def commit(self, meta: dict[str, Any]) -> int:
        """Write metadata and header, fsync, rename into place; the file's size."""
        meta = {**meta, "sections": self.sections}
        raw = json.dumps(meta, separators=(",", ":")).encode()
        meta_at = self._at
        self._f.write(raw)
        size = meta_at + len(raw)
        header = _HEADER.pack(
            MAGIC,
            FORMAT_VERSION,
            0,
            size,
            meta_at,
            len(raw),
            self._sum.intdigest(),
            xxhash.xxh3_64_intdigest(raw),
        )
        self._f.seek(0)
        self._f.write(header)
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        os.chmod(self.tmp, 0o444)
        os.replace(self.tmp, self.out)
        dir_fd = os.open(self.out.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return size

    def abort(self) -> None:
        self._f.close()
        self.tmp.unlink(missing_ok=True)


def open_index(path: Path, verify: bool = True) -> IndexFile:
    """Map ``path`` read-only after checking it; ``IndexFileError`` says why it is refused."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise IndexFileError(f"{path}: cannot open the index ({e.strerror})") from None
    try:
        return _open(path, fd, verify)
    finally:
        os.close(fd)  # the mapping keeps the file open


def _open(path: Path, fd: int, verify: bool) -> IndexFile:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise IndexFileError(f"{path}: not a regular file")
    if st.st_mode & 0o222:
        raise IndexFileError(
            f"{path}: the index is writable; a mapped index must only ever be replaced by "
            "rename (build-index does), so make it read-only (chmod a-w)"
        )
    head = os.pread(fd, _HEADER.size, 0)
    if len(head) < _HEADER.size or not head.startswith(MAGIC):
        raise IndexFileError(f"{path}: not a copyguard index (bad magic)")
    _, version, _, size, meta_at, meta_len, data_sum, meta_sum = _HEADER.unpack(head)
    if version != FORMAT_VERSION:
        raise IndexFileError(
            f"{path}: index format {version}, this copyguard reads {FORMAT_VERSION}: "
            "rebuild it with copyguard build-index"
        )
    if st.st_size != size:
        raise IndexFileError(f"{path}: truncated or extended ({st.st_size} bytes, expected {size})")
    raw = os.pread(fd, meta_len, meta_at)
    if meta_at + meta_len != size or xxhash.xxh3_64_intdigest(raw) != meta_sum:
        raise IndexFileError(f"{path}: corrupt index (metadata checksum mismatch)")
    identity = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
    if verify and identity not in _verified:
        if _data_sum(fd, meta_at) != data_sum:
            raise IndexFileError(f"{path}: corrupt index (data checksum mismatch)")
        _verified.add(identity)
    try:
        meta = json.loads(raw)
        for at, length, _ in meta["sections"].values():
            if at < DATA_START or at + length > meta_at:
                raise ValueError("section outside the data")
    except (ValueError, KeyError, TypeError) as e:
        raise IndexFileError(f"{path}: corrupt index ({e})") from None
    buffer = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    return IndexFile(path, meta, buffer, (st.st_dev, st.st_ino, st.st_mtime_ns))


def verified() -> list[tuple[int, int, int, int]]:
    """The identities of the files this process has checksummed (see ``trust``)."""
    return sorted(_verified)


def trust(identities: list[tuple[int, int, int, int]]) -> None:
    """Take files another process of ours checksummed as verified (a parent's, for workers).

    An identity includes the modification time and size, so a file rewritten since (which
    ``open_index`` refuses anyway: indexes are read-only and replaced by rename, which gives
    a new inode) is checksummed again.
    """
    _verified.update(identities)


def _data_sum(fd: int, end: int) -> int:
    """xxh3-64 of the sections, hashed straight from a mapping that is closed again.

    Hashing a mapping costs no copy, so it is about twice as quick as reading the file
    into a buffer (0.3 s against 0.5-1.1 s for 890 MB here); the pages it touched leave
    this process's resident set when the mapping closes, and stay in the page cache for
    the serving mapping.
    """
    if end <= DATA_START:
        return xxhash.xxh3_64_intdigest(b"")
    with mmap.mmap(fd, end, access=mmap.ACCESS_READ) as whole:
        if hasattr(mmap, "MADV_SEQUENTIAL"):
            whole.madvise(mmap.MADV_SEQUENTIAL)
        with memoryview(whole) as view, view[DATA_START:end] as data:
            return xxhash.xxh3_64_intdigest(data)
