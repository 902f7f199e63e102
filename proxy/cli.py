"""The ``copyguard`` command."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from proxy.demo.__main__ import add_arguments as add_demo_arguments
from proxy.matching.engines import load_matcher
from proxy.rules import RulesError, load_rules
from proxy.settings import default_cache_dir


class _Parser(argparse.ArgumentParser):
    """Reports a bad command line as one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="copyguard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    scan = sub.add_parser("scan", help="find protected text in finished outputs")
    scan.add_argument("--rules", type=Path, required=True, help="rules folder")
    scan.add_argument("--min-words", type=int, help="override min_words for every work")
    scan.add_argument("--jsonl", action="store_true", help='inputs are {"id","text"} lines')
    scan.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    scan.add_argument("--no-cache", action="store_true", help="always compile the rules")
    scan.add_argument(
        "--boilerplate",
        action="store_true",
        help="list the runs of the works found to be boilerplate (never findings alone)",
    )
    scan.add_argument("files", nargs="*", metavar="FILE", help="files to scan ('-': stdin)")

    serve = sub.add_parser("serve", help="run the proxy (settings also from COPYGUARD_* env)")
    serve.add_argument("--upstream", help="model server base URL (COPYGUARD_UPSTREAM)")
    serve.add_argument("--rules", type=Path, help="rules folder (COPYGUARD_RULES)")
    serve.add_argument("--listen", help="HOST:PORT for clients (COPYGUARD_LISTEN)")
    serve.add_argument("--admin-listen", help="HOST:PORT for /metrics (COPYGUARD_ADMIN_LISTEN)")
    serve.add_argument(
        "--workers", type=int, help="worker processes on one port (COPYGUARD_WORKERS; 1: none)"
    )
    serve.add_argument("--config", type=Path, help="TOML settings file (COPYGUARD_CONFIG)")

    demo = sub.add_parser("demo-upstream", help="run the simulated model server")
    add_demo_arguments(demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse already printed a one-line reason
        return int(e.code or 0) and 2
    if args.command == "scan":
        return _scan(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "demo-upstream":
        from proxy.demo.__main__ import run_from_args

        run_from_args(args)
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands


def _serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from proxy.launch import run
    from proxy.settings import load_settings

    config = args.config or (
        Path(os.environ["COPYGUARD_CONFIG"]) if "COPYGUARD_CONFIG" in os.environ else None
    )
    try:
        settings = load_settings(
            config,
            upstream=args.upstream,
            rules=args.rules,
            listen=args.listen,
            admin_listen=args.admin_listen,
            workers=args.workers,
        )
        load_rules(settings.rules)  # fail fast, with file and line, before binding ports
    except ValidationError as e:
        print(f"copyguard serve: bad settings: {_first_error(e)}", file=sys.stderr)
        return 2
    except (RulesError, OSError) as e:
        print(f"copyguard serve: {e}", file=sys.stderr)
        return 2
    return run(settings)


def _first_error(e: Any) -> str:
    err = e.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"


def _scan(args: argparse.Namespace) -> int:
    from proxy.scan import report_boilerplate, run_scan

    if args.min_words is not None and not 1 <= args.min_words <= 1000:
        print("copyguard scan: --min-words must be from 1 to 1000", file=sys.stderr)
        return 2
    try:
        catalogue = load_rules(args.rules)
    except RulesError as e:
        print(f"copyguard scan: bad rules: {e}", file=sys.stderr)
        return 2
    if args.min_words is not None:
        policy = catalogue.policy.with_min_words(args.min_words)
        catalogue = dataclasses.replace(catalogue, policy=policy)
    for name in args.files:
        if name != "-" and not Path(name).is_file():
            print(f"copyguard scan: {name}: no such file", file=sys.stderr)
            return 2
    index, _ = load_matcher(catalogue, None if args.no_cache else args.cache_dir)
    if args.boilerplate:
        return report_boilerplate(index, sys.stdout.buffer)
    return run_scan(index, args.files, args.jsonl, sys.stdout.buffer)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
