"""block_notice: a collection's notice ends a blocked answer, in every format, streamed or not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from proxy.rules import RulesError, load_rules
from tests.conftest import SAMPLE_RULES
from tests.faults.common import IDS, POEM, assert_no_protected_run, post
from tests.proxy.harness import StartStack
from tests.proxy.routes import ROUTES, Route

NOTICE = "\n\n[copyguard withheld the rest: it reproduces “{title}”]"
SHOWN = "\n\n[copyguard withheld the rest: it reproduces “The Lighthouse Keeper's Ledger”]"


def rules_with_notice(tmp_path: Path, collection: str = "poems") -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(SAMPLE_RULES, rules, ignore=shutil.ignore_patterns("README.md"))
    policy = rules / "policy.toml"
    text = policy.read_text()
    head, sep, tail = text.partition("[collections.songs]")
    table = f"[collections.{collection}]\nblock_notice = {json.dumps(NOTICE)}\n\n"
    policy.write_text(head + table + sep + tail)
    return rules


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("route", ROUTES, ids=IDS)
async def test_blocked_answer_ends_with_the_notice(
    start_stack: StartStack, tmp_path: Path, route: Route, stream: bool
) -> None:
    """The notice, with the work's title, is the text's last words before the filter signal."""
    stack = await start_stack(rules=rules_with_notice(tmp_path))
    status, _, body = await post(
        stack.proxy + route.url(stream), route.request("recite it", stream), {"x-demo-answer": POEM}
    )
    texts, filtered = route.read(body, stream)
    assert status == 200 and filtered
    assert texts[0].endswith(SHOWN) and texts[0].count("copyguard withheld") == 1
    assert_no_protected_run(body)


async def test_notice_is_per_collection(start_stack: StartStack, tmp_path: Path) -> None:
    """A collection without a notice blocks silently, as before."""
    stack = await start_stack(rules=rules_with_notice(tmp_path, collection="prose"))
    route = ROUTES[0]
    _, _, body = await post(
        stack.proxy + route.url(True), route.request("recite it", True), {"x-demo-answer": POEM}
    )
    texts, filtered = route.read(body, True)
    assert filtered and "copyguard withheld" not in texts[0]


def test_a_bad_notice_template_names_file_and_line(tmp_path: Path) -> None:
    """An unknown placeholder in block_notice is a rules error with file and line."""
    rules = rules_with_notice(tmp_path)
    policy = rules / "policy.toml"
    policy.write_text(policy.read_text().replace("{title}", "{author}"))
    with pytest.raises(RulesError, match=r"policy.toml:\d+: block_notice template"):
        load_rules(rules)
