"""Index files as a supervising process sees them, without importing an engine.

``copyguard serve`` checks an index before it binds a port.  With workers, the parent
checksums the file once, while the workers import the proxy, and hands them the files it
verified before they map them, so that no worker reads all of it again (the checksum pass
is most of the time to ready that grows with the index).  Only the identity (device,
inode, mtime, size) of a verified file is passed; a file replaced since then has another
identity and is verified again.
"""

from __future__ import annotations

from pathlib import Path

from proxy.matching.kgram.layout import IndexFileError, open_index, trust, verified

__all__ = ["IndexFileError", "check_index", "trust", "verified"]


def check_index(index: Path, verify: bool = True) -> None:
    """Open ``index`` as ``load_matcher`` would; ``IndexFileError`` says why it cannot be used.

    ``verify=False`` checks all but the sections' checksum (header, size, metadata): what a
    parent checks before it starts workers, verifying the rest while they start.
    """
    open_index(index, verify).buffer.close()
