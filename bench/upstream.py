"""The demo upstream (the app of ``copyguard demo-upstream``) on uvloop, for the benchmark.

python -m bench.upstream --port 9100 --delay-ms 20 --chunk-chars 4 --max-chunks 100
"""

from __future__ import annotations

import argparse
import contextlib

import uvloop

from proxy.demo.__main__ import add_arguments, settings_from
from proxy.demo.server import serve_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve_demo(settings_from(args), args.host, args.port))


if __name__ == "__main__":
    main()
