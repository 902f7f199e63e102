"""The ``copyguard`` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from proxy.index_cache import default_cache_dir, load_or_build
from proxy.rules import RulesError, load_rules

DEFAULT_RULES = Path(__file__).resolve().parent.parent / "rules"


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
    scan.add_argument("files", nargs="*", metavar="FILE", help="files to scan ('-': stdin)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse already printed a one-line reason
        return int(e.code or 0) and 2
    if args.command == "scan":
        return _scan(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


def _scan(args: argparse.Namespace) -> int:
    from proxy.scan import run_scan

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
        catalogue = type(catalogue)(catalogue.works, policy, catalogue.content_hash)
    for name in args.files:
        if name != "-" and not Path(name).is_file():
            print(f"copyguard scan: {name}: no such file", file=sys.stderr)
            return 2
    index, _ = load_or_build(catalogue, None if args.no_cache else args.cache_dir)
    return run_scan(index, args.files, args.jsonl, sys.stdout.buffer)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
