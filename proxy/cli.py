"""The ``copyguard`` command."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from proxy.demo.__main__ import add_arguments as add_demo_arguments
from proxy.matching.engines import IndexFileError, load_matcher
from proxy.matching.kgram.layout import open_index
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
    scan.add_argument("--rules", type=Path, help="rules folder (with --index: works added since)")
    scan.add_argument("--index", type=Path, help="index file from build-index")
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
    serve.add_argument("--index", type=Path, help="index file from build-index (COPYGUARD_INDEX)")

    build = sub.add_parser("build-index", help="compile a rules folder into an index file")
    build.add_argument("--rules", type=Path, help="rules folder (with --merge: works to add)")
    build.add_argument("--out", type=Path, required=True, help="index file to write")
    build.add_argument("--merge", type=Path, metavar="INDEX", help="fold segments into INDEX")
    build.add_argument("--strict", action="store_true", help="every position (bigger index)")
    build.add_argument("--processes", type=int, help="processes splitting words (default: CPUs)")

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
    if args.command == "build-index":
        return _build_index(args)
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
            index=args.index,
        )
        # fail fast, with file and line (or the index's one-line reason), before binding ports
        if settings.rules_folder is not None:
            load_rules(settings.rules_folder)
        if settings.index is not None:
            open_index(settings.index)
    except ValidationError as e:
        print(f"copyguard serve: bad settings: {_first_error(e)}", file=sys.stderr)
        return 2
    except (RulesError, OSError) as e:  # IndexFileError is an OSError
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
    if args.rules is None and args.index is None:
        print("copyguard scan: give --rules, --index or both", file=sys.stderr)
        return 2
    if args.index is not None and args.min_words is not None:
        print("copyguard scan: --min-words is fixed when the index is built", file=sys.stderr)
        return 2
    try:
        catalogue = load_rules(args.rules) if args.rules is not None else None
    except RulesError as e:
        print(f"copyguard scan: bad rules: {e}", file=sys.stderr)
        return 2
    if args.min_words is not None and catalogue is not None:
        policy = catalogue.policy.with_min_words(args.min_words)
        catalogue = dataclasses.replace(catalogue, policy=policy)
    for name in args.files:
        if name != "-" and not Path(name).is_file():
            print(f"copyguard scan: {name}: no such file", file=sys.stderr)
            return 2
    try:
        index, _ = load_matcher(
            catalogue, None if args.no_cache else args.cache_dir, None, args.index
        )
    except IndexFileError as e:
        print(f"copyguard scan: {e}", file=sys.stderr)
        return 2
    if args.boilerplate:
        return report_boilerplate(index, sys.stdout.buffer)
    return run_scan(index, args.files, args.jsonl, sys.stdout.buffer)


def _build_index(args: argparse.Namespace) -> int:
    from proxy.build_index import build_from_rules, merge

    if args.rules is None and args.merge is None:
        print("copyguard build-index: give --rules (and --merge INDEX to fold)", file=sys.stderr)
        return 2
    if args.processes is not None and args.processes < 1:
        print("copyguard build-index: --processes must be at least 1", file=sys.stderr)
        return 2
    try:
        catalogue = load_rules(args.rules) if args.rules is not None else None
        if args.merge is not None:
            info = merge(args.merge, catalogue, args.out, processes=args.processes)
        else:
            assert catalogue is not None
            info = build_from_rules(
                catalogue, args.out, strict=args.strict, processes=args.processes
            )
    except RulesError as e:
        print(f"copyguard build-index: bad rules: {e}", file=sys.stderr)
        return 2
    except (IndexFileError, OSError, ValueError) as e:
        print(f"copyguard build-index: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("copyguard build-index: interrupted; nothing was written", file=sys.stderr)
        return 130
    words = info["words"]
    print(
        f"copyguard build-index: {args.out}: {info['works']} works, {words} words, "
        f"{info['bytes']} bytes ({info['bytes'] / max(words, 1):.1f} per word)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
