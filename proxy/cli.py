"""copyguard: a streaming reverse proxy that keeps LLM answers from reproducing protected text."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, NoReturn

# Each command imports what it runs: ``serve`` with workers must get to spawning them without
# loading the matcher, the handlers or the demo server in the parent.
from proxy.demo_options import add_arguments as add_demo_arguments
from proxy.settings import default_cache_dir
from proxy.settings_cli import add_settings_options, config_file, given_settings

EPILOG = "Start with 'copyguard serve --help'; the README has a quick start."


class _Parser(argparse.ArgumentParser):
    """Reports a bad command line as one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def package_version() -> str:
    try:
        return version("copyguard")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout never installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="copyguard", description=__doc__, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"copyguard {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = sub.add_parser(
        "serve",
        help="run the proxy",
        description="Run the proxy in front of a model server.",
        epilog="",
    )
    serve.add_argument(
        "--config", type=Path, help="TOML settings file (COPYGUARD_CONFIG; default: none)"
    )
    serve.add_argument(
        "--print-settings",
        action="store_true",
        help="print the settings in force and where each came from, then exit",
    )
    add_settings_options(serve)

    scan = sub.add_parser(
        "scan",
        help="find protected text in finished outputs",
        description="Find protected text in finished outputs (files, or stdin with '-').",
    )
    scan.add_argument(
        "--rules",
        type=Path,
        help="rules folder; with --index, works added since (default: none; give it, "
        "--index or both)",
    )
    scan.add_argument("--index", type=Path, help="index file from build-index (default: none)")
    scan.add_argument(
        "--min-words", type=int, help="override min_words for every work (default: the policy's)"
    )
    scan.add_argument(
        "--jsonl", action="store_true", help='inputs are {"id", "text"} lines (default: off)'
    )
    scan.add_argument(
        "--format",
        choices=("json", "text"),
        help="json: one JSON line per input; text: findings with excerpts and a summary "
        "(default: text on a terminal, json otherwise)",
    )
    scan.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="progress bar on stderr (default: on a terminal, for inputs over 1 MiB)",
    )
    scan.add_argument(
        "--boilerplate",
        action="store_true",
        help="list the runs of the works found to be boilerplate (never findings alone) "
        "instead of scanning (default: scan)",
    )
    _cache_options(scan)
    scan.add_argument("files", nargs="*", metavar="FILE", help="files to scan ('-' or none: stdin)")

    check = sub.add_parser(
        "check-rules",
        help="validate a rules folder without serving (exit 1 on errors)",
        description="Validate a rules folder: works, words, collections and the policy in "
        "force, or the first error with file:line (exit 1).",
    )
    check.add_argument("dir", type=Path, metavar="DIR", help="rules folder")

    build = sub.add_parser("build-index", help="compile a rules folder into an index file")
    build.add_argument(
        "--rules", type=Path, help="rules folder (with --merge: works to add; default: none)"
    )
    build.add_argument("--out", type=Path, required=True, help="index file to write (required)")
    build.add_argument(
        "--merge", type=Path, metavar="INDEX", help="fold segments into INDEX (default: none)"
    )
    build.add_argument(
        "--strict", action="store_true", help="every position (bigger index; default: off)"
    )
    build.add_argument("--processes", type=int, help="processes splitting words (default: CPUs)")
    build.add_argument(
        "--short-run",
        type=int,
        default=6,
        help="windows for runs this short too, for budgets and context checks: the "
        "budget_min_run setting (default 6; 0: none, and with this index they are off)",
    )

    cache = sub.add_parser("cache", help="the compiled-rules cache")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True, parser_class=_Parser)
    prune = cache_sub.add_parser(
        "prune",
        help="remove old compiled-rules entries",
        description="Remove compiled-rules entries, least recently used first, beyond the limits.",
    )
    _cache_options(prune, no_cache=False)
    _limit_options(prune)

    demo = sub.add_parser(
        "demo-upstream",
        help="run the simulated model server",
        description="Run the simulated model server that tests, benchmarks and 'make run' use.",
    )
    add_demo_arguments(demo)
    return parser


def _cache_options(parser: argparse.ArgumentParser, no_cache: bool = True) -> None:
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=default_cache_dir(),
        help="compiled-rules cache (COPYGUARD_CACHE_DIR for serve; default: %(default)s)",
    )
    if no_cache:
        parser.add_argument(
            "--no-cache", action="store_true", help="always compile the rules (default: off)"
        )


def _limit_options(parser: argparse.ArgumentParser) -> None:
    from proxy.settings import CACHE_KEEP_BYTES as KEEP_BYTES
    from proxy.settings import CACHE_KEEP_ENTRIES as KEEP_ENTRIES

    parser.add_argument(
        "--keep",
        type=int,
        default=KEEP_ENTRIES,
        metavar="N",
        help="entries to keep, newest first (default: %(default)s)",
    )
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=KEEP_BYTES,
        metavar="M",
        help="bytes the kept entries may use (default: %(default)s)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse printed the reason, or help / --version
        return int(e.code or 0) and 2
    if args.command == "scan":
        return _scan(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "build-index":
        return _build_index(args)
    if args.command == "check-rules":
        from proxy.check_rules import check_rules

        return check_rules(args.dir, sys.stdout)
    if args.command == "cache":
        from proxy.cache_prune import prune_command

        return prune_command(args.cache_dir, args.keep, args.max_bytes, sys.stdout)
    if args.command == "demo-upstream":
        from proxy.demo.__main__ import run_from_args

        run_from_args(args)
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands


def _serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from proxy.matching.index_files import check_index
    from proxy.settings import load_settings
    from proxy.settings_cli import render_settings, sources

    config = config_file(args)
    given = given_settings(args)
    try:
        settings = load_settings(config, **given)
        if args.print_settings:
            sys.stdout.write(render_settings(settings, sources(given, config)))
            return 0
        # fail fast, with file and line (or the index's one-line reason), before binding ports
        if settings.rules_folder is not None:
            from proxy.rules import RulesError, load_rules

            try:
                load_rules(settings.rules_folder)
            except RulesError as e:
                print(f"copyguard serve: {e}", file=sys.stderr)
                return 2
        if settings.index is not None:
            # with workers, the parent checksums the sections while they start (proxy.workers)
            check_index(settings.index, verify=settings.workers == 1)
    except ValidationError as e:
        print(f"copyguard serve: bad settings: {_first_error(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # IndexFileError is an OSError
        print(f"copyguard serve: {e}", file=sys.stderr)
        return 2
    from proxy.launch import run

    return run(settings)


def _first_error(e: Any) -> str:
    err = e.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"


def _scan(args: argparse.Namespace) -> int:
    from proxy.matching.engines import IndexFileError, load_matcher
    from proxy.rules import RulesError, load_rules
    from proxy.scan import ScanOptions, report_boilerplate, run_scan

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
    options = ScanOptions(
        jsonl=args.jsonl,
        text=args.format == "text" if args.format else sys.stdout.isatty(),
        progress=args.progress,
    )
    return run_scan(index, args.files, options, sys.stdout)


def _build_index(args: argparse.Namespace) -> int:
    from proxy.build_index import build_from_rules, merge
    from proxy.matching.index_files import IndexFileError
    from proxy.rules import RulesError, iter_works, load_rules, rules_bytes

    if args.rules is None and args.merge is None:
        print("copyguard build-index: give --rules (and --merge INDEX to fold)", file=sys.stderr)
        return 2
    if args.processes is not None and args.processes < 1:
        print("copyguard build-index: --processes must be at least 1", file=sys.stderr)
        return 2
    if args.short_run != 0 and not 2 <= args.short_run <= 100:
        print("copyguard build-index: --short-run must be 0 or from 2 to 100", file=sys.stderr)
        return 2
    try:
        if args.merge is not None:
            catalogue = load_rules(args.rules) if args.rules is not None else None
            info = merge(args.merge, catalogue, args.out, processes=args.processes)
        else:
            # checked whole first, then read again file by file: memory stays bounded
            catalogue = load_rules(args.rules, texts=False)
            info = build_from_rules(
                catalogue,
                args.out,
                strict=args.strict,
                processes=args.processes,
                short_run=args.short_run,
                texts=iter_works(args.rules),
                total=rules_bytes(args.rules),
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
