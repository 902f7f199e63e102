"""The copyguard command: --version, help texts with defaults, print-settings, check-rules."""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from proxy.cli import _parser
from proxy.settings import Settings
from tests.conftest import SAMPLE_RULES


def copyguard(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    """Every command's parser, by its name ('cache prune' for nested ones)."""
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(prefix: str, parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    full = f"{prefix} {name}".strip()
                    found[full] = sub
                    walk(full, sub)

    walk("", _parser())
    return found


def test_version_answers_with_the_package_version() -> None:
    """`copyguard --version` prints the installed distribution's version."""
    proc = copyguard("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"copyguard {version('copyguard')}"


def test_top_level_help_is_plain_text_listing_every_command() -> None:
    """The top-level help has no reStructuredText markup and names every command."""
    proc = copyguard("--help")
    assert proc.returncode == 0 and "``" not in proc.stdout
    for command in ("serve", "scan", "check-rules", "cache", "demo-upstream"):
        assert command in proc.stdout


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_every_option_has_help_that_states_its_default(command: str) -> None:
    """Each option of each command explains itself and says its default (or that none applies)."""
    parser = _subparsers()[command]
    for action in parser._actions:
        if action.option_strings and action.dest not in ("help", "print_settings"):
            assert action.help, f"{command} {action.option_strings}: no help"
            text = action.help.lower()
            assert "default" in text or "required" in text, f"{command} {action.option_strings}"


@functools.cache
def _serve_help() -> str:
    return " ".join(copyguard("serve", "--help").stdout.split())


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_serve_help_lists_every_setting(name: str) -> None:
    """`serve --help` names every setting, with its environment variable."""
    out = _serve_help()
    assert f"COPYGUARD_{name.upper()};" in out
    if name != "admin_token":  # a secret: environment or file only, never argv
        assert "--" + name.replace("_", "-") in out


def test_print_settings_says_where_each_value_came_from(tmp_path: Path) -> None:
    """--print-settings shows each value in force and its source, by precedence."""
    config = tmp_path / "copyguard.toml"
    config.write_text('grace_period = 7\nread_timeout = 9\nadmin_token = "s3cret"\n')
    env = {"COPYGUARD_READ_TIMEOUT": "11", "COPYGUARD_WORKERS": "3"}
    args = ("serve", "--config", str(config), "--workers", "2", "--print-settings")
    proc = copyguard(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
    assert rows["workers"].split()[1] == "2" and "command line (--workers)" in rows["workers"]
    assert rows["read_timeout"].split()[1] == "11.0"
    assert "environment (COPYGUARD_READ_TIMEOUT)" in rows["read_timeout"]
    assert rows["grace_period"].split()[1] == "7.0" and f"file ({config})" in rows["grace_period"]
    assert rows["fail_mode"].split()[1] == "closed" and rows["fail_mode"].endswith("# default")
    assert "s3cret" not in proc.stdout and "(set, hidden)" in rows["admin_token"]


def test_check_rules_describes_the_folder_and_its_policy() -> None:
    """check-rules on the samples: exit 0, totals, one row per collection with its action."""
    proc = copyguard("check-rules", str(SAMPLE_RULES))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{SAMPLE_RULES}: ok\n  3 works, ")
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[4:7]}
    assert rows["poems"][1:2] + rows["poems"][3:5] == ["1", "block", "12"]
    assert rows["songs"][3] == "redact" and "[excerpt" in " ".join(rows["songs"])


def test_check_rules_warns_of_a_work_too_short_to_be_found(tmp_path: Path) -> None:
    """A work with fewer words than min_words can never match: check-rules says so."""
    (tmp_path / "short.txt").write_text("only five words in here")
    (tmp_path / "long.txt").write_text(" ".join(f"word{i}" for i in range(20)))
    proc = copyguard("check-rules", str(tmp_path))
    assert proc.returncode == 0 and "(top level)" in proc.stdout
    assert "warning: short has 5 words, fewer than min_words (12)" in proc.stdout


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"w.jsonl": '{"id": "a", "text": "x y"}\n{oops\n'}, "w.jsonl:2: bad JSON"),
        ({"a.txt": "some words", "policy.toml": "acton = 'block'\n"}, "policy.toml:1: unknown"),
        ({}, "no works"),
    ],
)
def test_check_rules_exits_1_with_file_and_line(
    tmp_path: Path, files: dict[str, str], reason: str
) -> None:
    """A broken folder: exit 1 and the error with file:line on stderr, no traceback."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    proc = copyguard("check-rules", str(tmp_path))
    assert proc.returncode == 1 and reason in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_check_rules_on_a_missing_folder_exits_1() -> None:
    """A path that is not a folder is an error of the rules, not of the command line."""
    proc = copyguard("check-rules", "/nonexistent/rules")
    assert proc.returncode == 1 and "not a directory" in proc.stderr
