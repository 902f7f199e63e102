"""``copyguard demo-upstream``: a simulated model server speaking the real wire formats.

It answers OpenAI Chat Completions, Completions and Responses, Anthropic Messages, the
Ollama API and Google Gemini, streaming and not, with echo, clean or protected answers, and can
inject faults.  Every integration test and the benchmark use it as the upstream.
"""

from proxy.demo.server import (
    ANSWER_HEADER,
    ANSWERS_HEADER,
    DEMO_SETTINGS,
    DEMO_STATS,
    DEMO_WORKS,
    DemoSettings,
    DemoStats,
    make_demo_app,
    serve_demo,
)
from proxy.demo_options import default_rules_dir

__all__ = [
    "ANSWERS_HEADER",
    "ANSWER_HEADER",
    "DEMO_SETTINGS",
    "DEMO_STATS",
    "DEMO_WORKS",
    "DemoSettings",
    "DemoStats",
    "default_rules_dir",
    "make_demo_app",
    "serve_demo",
]
