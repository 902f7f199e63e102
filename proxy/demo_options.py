"""The demo upstream's command-line options, apart from its server.

``copyguard`` builds every subcommand's parser at start; importing the demo server for it
would load aiohttp and the demo's answers before ``serve`` could spawn its workers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import proxy


def default_rules_dir() -> Path:
    """The sample rules shipped in the package (in a checkout: the repository's ``rules/``)."""
    return (Path(proxy.__file__).parent / "sample_rules").resolve()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo upstream's command-line options (shared with the ``copyguard`` CLI)."""
    parser.add_argument("--host", default="127.0.0.1", help="address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=9100, help="port (default: %(default)s)")
    parser.add_argument(
        "--rules-dir",
        type=Path,
        default=default_rules_dir(),
        help="works it can reproduce when asked for them (default: the sample rules)",
    )
    parser.add_argument(
        "--delay-ms",
        type=float,
        default=20.0,
        help="pause between chunks, milliseconds (default: %(default)s)",
    )
    parser.add_argument(
        "--chunk-chars", type=int, default=4, help="characters per chunk (default: %(default)s)"
    )
    parser.add_argument(
        "--max-chunks",
        type=int,
        default=None,
        help="exact chunks per answer (default: as many as --chunk-chars gives)",
    )
    parser.add_argument(
        "--model", default="copyguard-demo", help="model name it reports (default: %(default)s)"
    )
