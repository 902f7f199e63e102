"""``copyguard check-rules DIR``: validate a rules folder without serving (for CI, pre-rollout)."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import IO

from proxy.matching.catalogue import Catalogue, Work
from proxy.matching.normalize import words
from proxy.rules import RulesError, load_rules


def check_rules(root: Path, out: IO[str]) -> int:
    """Print what the folder holds and the policy in force: 0 if it loads, 1 on an error."""
    try:
        catalogue = load_rules(root)
    except RulesError as e:
        print(f"copyguard check-rules: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"copyguard check-rules: {root}: {e.strerror or e}", file=sys.stderr)
        return 1
    out.write(describe(root, catalogue))
    return 0


def describe(root: Path, catalogue: Catalogue) -> str:
    """The report: totals, one row per collection with its rule, the allow-list, warnings."""
    policy = catalogue.policy
    counts = {w.id: len(words(w.text)) for w in catalogue.works}
    groups: dict[str, list[Work]] = defaultdict(list)
    for work in catalogue.works:
        groups[work.collection].append(work)
    lines = [
        f"{root}: ok",
        f"  {len(catalogue.works)} works, {sum(counts.values())} words, "
        f"content hash {catalogue.content_hash[:16]}",
        "",
        f"  {'collection':<24} {'works':>6} {'words':>9}  {'action':<8} {'min_words':>9}  "
        "replacement / block_notice",
    ]
    for name in sorted(groups):
        rule = policy.rule(name)
        shown = {"redact": rule.replacement, "block": rule.block_notice}.get(rule.action, "")
        replacement = repr(shown) if shown else ""
        lines.append(
            f"  {name or '(top level)':<24} {len(groups[name]):>6} "
            f"{sum(counts[w.id] for w in groups[name]):>9}  {rule.action.value:<8} "
            f"{rule.min_words:>9}  {replacement}"
        )
    lines += [
        "",
        f"  allow: {len(policy.allow_phrases)} phrases, {len(policy.allow_works)} works "
        "never trigger",
    ]
    for work in catalogue.works:
        need = policy.rule(work.collection).min_words
        if counts[work.id] < need and work.id not in policy.allow_works:
            lines.append(
                f"  warning: {work.id} has {counts[work.id]} words, fewer than min_words "
                f"({need}): it can never be found"
            )
    return "\n".join(lines) + "\n"
