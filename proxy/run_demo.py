"""``make run``: the demo upstream and the proxy side by side, and what to try against them.

The commands it prints run as printed from any shell: the Python snippet names this
environment's interpreter (which has the ``openai`` SDK), and the protected prompt is
one that the rules in force (``COPYGUARD_RULES``, default the samples) actually protect.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys

from proxy.demo import DemoSettings
from proxy.demo.answers import echo64, load_works
from proxy.demo.server import serve_demo
from proxy.logs import configure_logging
from proxy.matching.catalogue import Action, Catalogue
from proxy.rules import load_rules
from proxy.serve import serve
from proxy.settings import DEFAULT_RULES, Settings, load_settings

DEMO_PORT = 9100
SAMPLE_PROMPT = "Recite the lighthouse poem"
SAMPLE_WORK = "poems/lighthouse-keeper"

CURL = """  curl -N {base}/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{{"model": "demo", "stream": true, "messages": [{{"role": "user", "content": "Say something nice"}}]}}'"""

SNIPPET = """  {python} - <<'PY'
from openai import OpenAI
client = OpenAI(base_url="{base}/v1", api_key="unused")
stream = client.chat.completions.create(model="demo", stream=True,
    messages=[{{"role": "user", "content": {prompt}}}])
for chunk in stream:
    for choice in chunk.choices:
        print(choice.delta.content or "", end="", flush=True)
        if choice.finish_reason:
            print("\\n[finish_reason: %s]" % choice.finish_reason)
PY"""

_OUTCOME = {
    Action.BLOCK: 'is cut (finish_reason "content_filter")',
    Action.REDACT: "has the protected run replaced ({replacement!r})",
    Action.ANNOTATE: "streams unchanged, with the finding attached (annotate)",
    Action.LOG: "streams unchanged; the finding is only in the log (log)",
}


def protected_prompt(settings: Settings, catalogue: Catalogue) -> tuple[str, str, str]:
    """(what the rules are, a prompt the demo answers with a protected work, what happens)."""
    policy = catalogue.policy
    if settings.rules == DEFAULT_RULES:
        what, prompt, work_id = "sample rules", SAMPLE_PROMPT, SAMPLE_WORK
    else:
        # The demo recites a .txt work named in the prompt; other works it can only echo, and
        # base64-encoded (echo64:), since a passage the request itself carries may be echoed.
        txt = load_works(settings.rules)
        ranked = sorted(catalogue.works, key=lambda w: policy.rule(w.collection).action != "block")
        work = next((w for w in ranked if w.id in txt), ranked[0])
        words = work.text.split()[: policy.rule(work.collection).min_words + 8]
        prompt = f"Recite {work.id}" if work.id in txt else echo64(" ".join(words))
        what, work_id = f"rules from {settings.rules}", work.id
    rule = policy.rule(next(w.collection for w in catalogue.works if w.id == work_id))
    outcome = _OUTCOME[rule.action].format(replacement=rule.replacement)
    return what, prompt, f"({work_id}) {outcome}"


def help_text(settings: Settings, catalogue: Catalogue, demo_port: int, python: str) -> str:
    """What ``make run`` prints once both servers listen."""
    base = f"http://{settings.listen}"
    what, prompt, outcome = protected_prompt(settings, catalogue)
    return "\n".join(
        [
            "",
            f"copyguard is running on {base} (demo model server on :{demo_port}, {what}).",
            "",
            "A clean answer streams through:",
            "",
            CURL.format(base=base),
            "",
            f"An answer that reproduces a protected work {outcome}:",
            "",
            SNIPPET.format(python=python, base=base, prompt=json.dumps(prompt)),
            "",
            f"Metrics: {base}/metrics   Stop: Ctrl-C",
            "",
        ]
    )


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m proxy.run_demo", description=__doc__)
    parser.add_argument("--demo-port", type=int, default=DEMO_PORT, help="(default: %(default)s)")
    parser.add_argument(
        "--listen", help="the proxy's address (default: COPYGUARD_LISTEN, else 127.0.0.1:8080)"
    )
    args = parser.parse_args(argv)
    settings = load_settings(upstream=f"http://127.0.0.1:{args.demo_port}", listen=args.listen)
    configure_logging(settings.log_level)
    catalogue = load_rules(settings.rules)
    demo = DemoSettings(rules_dir=settings.rules, delay_ms=20)
    ready = asyncio.Event()
    tasks = {
        asyncio.create_task(serve_demo(demo, "127.0.0.1", args.demo_port)),
        asyncio.create_task(serve(settings, ready)),
    }
    # A server that cannot start (a port in use) ends its task: stop then, not wait for ready.
    waiting = asyncio.create_task(ready.wait())
    first, _ = await asyncio.wait({*tasks, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if waiting in first:
        print(help_text(settings, catalogue, args.demo_port, sys.executable), flush=True)
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    for task in tasks:
        if task.done():
            task.result()  # a server that failed: its error, not a silent exit
        task.cancel()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(main())
        except OSError as e:  # a port in use, say: one line, not a traceback
            sys.exit(f"make run: {e.strerror or e}")
