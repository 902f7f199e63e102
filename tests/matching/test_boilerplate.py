"""Catalogue boilerplate: runs that are not a work's own never make a finding alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.matching.engines import build_matcher
from proxy.matching.seam import Matcher, scan_once
from proxy.rules import RulesError, load_rules
from tests.matching.test_rules import write

NOTICE = "this story is published by the lantern press of new amsterdam under a licence"
OWN = [
    "the kettle sang while margaret counted the spoons twice over and found one missing",
    "rain walked across the harbour on long grey legs and the gulls went quiet at once",
    "nobody in the village had seen a bicycle painted that particular shade of green",
]
DISCLAIMER = (
    "This website is provided as is, without warranties of any kind, express or implied, "
    "including but not limited to warranties of merchantability or fitness for a particular "
    "purpose."
)


def catalogue(tmp_path: Path, policy: str = "min_words = 8\n", **extra: str) -> Matcher:
    files = {f"w{i}.txt": f"{NOTICE}. {own}." for i, own in enumerate(OWN)}
    return build_matcher(load_rules(write(tmp_path, {**files, "policy.toml": policy, **extra})))


def test_run_shared_by_many_works_is_not_a_finding(tmp_path: Path) -> None:
    """A notice every work carries is boilerplate; the works' own text still is found."""
    index = catalogue(tmp_path)
    assert scan_once(index, f"Note: {NOTICE}.") == []
    assert [f.work for f in scan_once(index, f"Quote: {OWN[1]}.")] == ["w1"]


def test_boilerplate_does_not_count_towards_a_run(tmp_path: Path) -> None:
    """A run needs min_words of the work's own words besides the boilerplate it runs through."""
    index = catalogue(tmp_path)
    own = OWN[2].split()
    assert scan_once(index, f"{NOTICE}. {' '.join(own[:5])}") == []
    assert [f.work for f in scan_once(index, f"{NOTICE}. {' '.join(own[:9])}")] == ["w2"]


def test_boilerplate_is_reported_with_its_counts(tmp_path: Path) -> None:
    """Each work's boilerplate run is listed with how many works share it."""
    index = catalogue(tmp_path)
    runs = sorted((index.works[r.work].id, r.start, r.end, r.works) for r in index.boilerplate_runs)
    assert runs == [(f"w{i}", 0, len(NOTICE.split()), 3) for i in range(3)]


@pytest.mark.parametrize(
    ("policy", "protected"),
    [
        ("min_words = 8\n[boilerplate]\nmin_works = 0\n", True),  # not looked for
        ("min_words = 8\n[boilerplate]\nmin_works = 4\n", True),  # not shared by enough works
        ('min_words = 8\n[boilerplate]\nkeep = ["w0", "w1", "w2"]\n', True),  # kept on purpose
        ("min_words = 8\n[boilerplate]\nmin_works = 2\n", False),
    ],
)
def test_boilerplate_settings(tmp_path: Path, policy: str, protected: bool) -> None:
    """min_works sets what "many works" means; keep keeps a work's boilerplate protected."""
    index = catalogue(tmp_path, policy)
    assert bool(scan_once(index, f"Note: {NOTICE}.")) is protected


def test_background_corpus_marks_text_found_elsewhere(tmp_path: Path) -> None:
    """A run found in the operator's background corpus is boilerplate even in one work."""
    policy = 'min_words = 8\n[boilerplate]\ncorpus = ".background"\n'
    (tmp_path / ".background").mkdir()
    (tmp_path / ".background" / "web.txt").write_text(f"Seen online: {OWN[0]}.")
    index = catalogue(tmp_path, policy)
    assert scan_once(index, OWN[0]) == []
    (w0,) = [r for r in index.boilerplate_runs if index.works[r.work].id == "w0"]
    assert (w0.start, w0.end) == (0, len(f"{NOTICE} {OWN[0]}".split()))  # notice and own text
    assert not any(r.background for r in index.boilerplate_runs if r.work != w0.work)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("[boilerplate]\nmin_works = -1\n", "policy.toml:2: boilerplate.min_works"),
        ("[boilerplate]\nmin_works = 1\n", "policy.toml:2: boilerplate.min_works = 1"),
        ("[boilerplate]\nbuiltin = 'yes'\n", "policy.toml:2: boilerplate.builtin"),
        ('[boilerplate]\ncorpus = "nowhere"\n', "policy.toml:2: boilerplate corpus 'nowhere'"),
        ('[boilerplate]\nkeep = ["zz"]\n', "unknown work 'zz'"),
        ("[boilerplate]\nshared = 3\n", "policy.toml:2: unknown key 'shared' in \\[boilerplate\\]"),
    ],
)
def test_bad_boilerplate_settings_name_file_and_line(
    tmp_path: Path, policy: str, message: str
) -> None:
    """Mistakes in [boilerplate] are RulesErrors naming policy.toml and the line."""
    with pytest.raises(RulesError, match=message):
        catalogue(tmp_path, policy)


def test_licence_disclaimer_is_not_the_novel(gutenberg_index: Matcher) -> None:
    """The Project Gutenberg licence in a book does not make a website disclaimer that book."""
    assert scan_once(gutenberg_index, DISCLAIMER) == []


def test_builtin_legal_language_can_be_turned_off(tmp_path: Path) -> None:
    """With builtin = false, standard legal text inside a work is protected like the rest."""
    legal = "we make no representations or warranties of any kind express or implied"
    files = {"a.txt": f"{OWN[0]} {legal}", "b.txt": OWN[1]}
    on = build_matcher(
        load_rules(write(tmp_path / "on", {**files, "policy.toml": "min_words = 8"}))
    )
    off_policy = "min_words = 8\n[boilerplate]\nbuiltin = false\n"
    off = build_matcher(load_rules(write(tmp_path / "off", {**files, "policy.toml": off_policy})))
    assert scan_once(on, legal) == [] and len(scan_once(off, legal)) == 1
