"""`make run`: the commands it prints work when pasted into a plain shell, for any rules."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLE_RULES
from tests.operate.support import FERRY, add_ferry
from tests.operate.test_serve_process import free_port

PLAIN_SHELL_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}  # no venv, no PYTHONPATH


def run_demo(tmp_path: Path, rules: Path | None) -> Iterator[str]:
    """Start ``python -m proxy.run_demo`` on free ports; yield what it prints; stop it."""
    env = {**os.environ, "COPYGUARD_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("COPYGUARD_RULES", None)
    if rules is not None:
        env["COPYGUARD_RULES"] = str(rules)
    listen = free_port()
    demo = next(p for p in iter(free_port, None) if p != listen)  # the kernel may repeat a port
    args = ["--listen", f"127.0.0.1:{listen}", "--demo-port", str(demo)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy.run_demo", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        printed = []
        for line in proc.stdout:
            printed.append(line)
            if "Stop: Ctrl-C" in line:
                break
        yield "".join(printed)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def printed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from run_demo(tmp_path, request.param(tmp_path) if request.param else None)


def shell(command: str) -> str:
    """Run ``command`` as pasted into /bin/sh with a bare PATH; its stdout."""
    proc = subprocess.run(
        ["/bin/sh"], input=command, env=PLAIN_SHELL_ENV, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def snippet(printed: str) -> str:
    """The Python heredoc as printed (from the interpreter's line to the closing PY)."""
    match = re.search(r"^  (\S+python\S*) - <<'PY'\n.*?^PY$", printed, re.M | re.S)
    assert match, printed
    return match.group(0)


def other_rules(tmp_path: Path) -> Path:
    """Rules without the samples: one new .txt work."""
    rules = tmp_path / "mine"
    (rules / "poems").mkdir(parents=True)
    add_ferry(rules)
    return rules


def jsonl_rules(tmp_path: Path) -> Path:
    """Rules with a jsonl work only, which the demo cannot recite by name."""
    rules = tmp_path / "catalogue"
    rules.mkdir()
    (rules / "books.jsonl").write_text('{"id": "ferry", "text": "' + FERRY + '"}\n')
    return rules


@pytest.mark.parametrize("printed", [None], indirect=True)
def test_printed_python_snippet_runs_in_a_plain_shell(printed: str) -> None:
    """The Python snippet, pasted as printed into a shell with no venv on PATH, is cut."""
    assert "sample rules" in printed
    answer = shell(snippet(printed))
    assert answer.startswith("Certainly")
    assert answer.rstrip().endswith("[finish_reason: content_filter]")


@pytest.mark.parametrize("printed", [None], indirect=True)
def test_printed_curl_command_streams_a_clean_answer(printed: str) -> None:
    """The curl command, pasted as printed, streams a clean answer to its end."""
    if shutil.which("curl", path=PLAIN_SHELL_ENV["PATH"]) is None:
        pytest.skip("curl is not installed: the printed curl command cannot be tried")
    curl = re.search(r"^  (curl .*?\n.*?)\n", printed, re.M)
    assert curl, printed
    out = shell(curl.group(1))
    assert '"finish_reason":"stop"' in out.replace(" ", "") and "data: [DONE]" in out


@pytest.mark.parametrize(
    ("printed", "prompt"),
    [
        (other_rules, "Recite poems/the-ferryman"),
        (jsonl_rules, "echo64:VGhlIGZlcnJ5bWFuIGNvdW50ZWQ"),
    ],
    indirect=["printed"],
)
def test_other_rules_get_a_prompt_they_protect(printed: str, prompt: str) -> None:
    """With COPYGUARD_RULES set, make run names those rules and suggests a protected prompt."""
    assert "sample rules" not in printed and "rules from " in printed
    assert f'"content": "{prompt}' in snippet(printed)
    answer = shell(snippet(printed))
    assert answer.rstrip().endswith("[finish_reason: content_filter]")
    assert FERRY[:60] not in answer


def test_samples_are_the_package_default() -> None:
    """In a checkout, the packaged sample rules (a link) are the repository's rules/."""
    from proxy.settings import DEFAULT_RULES

    assert SAMPLE_RULES.resolve() == DEFAULT_RULES
