"""``make run``: the demo upstream and the proxy with the sample rules, side by side."""

from __future__ import annotations

import asyncio
import contextlib

from proxy.demo import DemoSettings, default_rules_dir
from proxy.demo.server import serve_demo
from proxy.logs import configure_logging
from proxy.serve import serve
from proxy.settings import load_settings

DEMO_PORT = 9100

HELP = """
copyguard is running on http://localhost:8080 (demo model server on :{demo}, sample rules).

A clean answer streams through:

  curl -N http://localhost:8080/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{{"model": "demo", "stream": true, "messages": [{{"role": "user", "content": "Say something nice"}}]}}'

An answer that reproduces a protected poem is cut (finish_reason "content_filter"):

  python - <<'PY'
from openai import OpenAI
client = OpenAI(base_url="http://localhost:8080/v1", api_key="unused")
stream = client.chat.completions.create(model="demo", stream=True,
    messages=[{{"role": "user", "content": "Recite the lighthouse poem"}}])
for chunk in stream:
    for choice in chunk.choices:
        print(choice.delta.content or "", end="", flush=True)
        if choice.finish_reason:
            print("\\n[finish_reason: %s]" % choice.finish_reason)
PY

Metrics: http://localhost:8080/metrics   Stop: Ctrl-C
"""


async def main() -> None:
    demo = DemoSettings(rules_dir=default_rules_dir(), delay_ms=20)
    settings = load_settings(upstream=f"http://127.0.0.1:{DEMO_PORT}", listen="127.0.0.1:8080")
    ready = asyncio.Event()
    tasks = {
        asyncio.create_task(serve_demo(demo, "127.0.0.1", DEMO_PORT)),
        asyncio.create_task(serve(settings, ready)),
    }
    await ready.wait()
    print(HELP.format(demo=DEMO_PORT), flush=True)
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    for task in done:
        task.result()


if __name__ == "__main__":
    configure_logging("info")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
