"""``python -m proxy.demo``: run the demo upstream (what ``copyguard demo-upstream`` runs)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from proxy.demo.server import DemoSettings, serve_demo
from proxy.demo_options import add_arguments

__all__ = ["add_arguments", "main", "run_from_args", "settings_from"]


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
