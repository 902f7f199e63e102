"""``python -m proxy.demo``: run the demo upstream (what ``copyguard demo-upstream`` runs)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

from proxy.demo.server import DemoSettings, default_rules_dir, serve_demo


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


def settings_from(args: argparse.Namespace) -> DemoSettings:
    """DemoSettings from parsed ``add_arguments`` options."""
    return DemoSettings(
        rules_dir=args.rules_dir,
        delay_ms=args.delay_ms,
        chunk_chars=args.chunk_chars,
        max_chunks=args.max_chunks,
        model=args.model,
    )


def run_from_args(args: argparse.Namespace) -> None:
    """Serve with ``add_arguments`` options until interrupted (``copyguard demo-upstream``)."""
    print(f"copyguard demo upstream on http://{args.host}:{args.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_demo(settings_from(args), args.host, args.port))


def main(argv: list[str] | None = None) -> None:
    """Parse options and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m proxy.demo", description=__doc__)
    add_arguments(parser)
    run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    main()
