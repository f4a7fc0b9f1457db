"""The README and docs/ name only what exists: every repository path they cite (and the
test named after `::`), every test they name, and every link, to a file or to a heading.

A rename that leaves the docs behind fails here, naming the page and what it cites."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CITED_PATH = re.compile(
    r"`((?:app|authz|models|scripts|tests|docs|\.ci)/[A-Za-z0-9_./-]*)(?:::([A-Za-z0-9_]+))?`"
)
CITED_TEST = re.compile(r"`(test_[A-Za-z0-9_]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {anchor(h) for h in HEADING.findall(page.read_text())}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_cited_path_exists(page: Path) -> None:
    missing = []
    for path, name in CITED_PATH.findall(page.read_text()):
        target = ROOT / path.rstrip("/")
        if not target.exists():
            missing.append(path)
        elif name and f"def {name}" not in target.read_text():
            missing.append(f"{path}::{name}")
    assert missing == [], f"{page.name} cites what does not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_named_test_exists(page: Path) -> None:
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    named = set(CITED_TEST.findall(page.read_text()))
    assert sorted(n for n in named if f"def {n}(" not in tests) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_resolves(page: Path) -> None:
    broken = []
    for link in LINK.findall(page.read_text()):
        if link.startswith(("http://", "https://", "mailto:")):
            continue
        target, _, fragment = link.partition("#")
        file = (page.parent / target).resolve() if target else page
        if not file.exists() or (
            fragment and file.suffix == ".md" and fragment not in anchors(file)
        ):
            broken.append(link)
    assert broken == [], f"{page.name} links to nothing: {broken}"


def test_the_anchor_rule_is_githubs() -> None:
    assert anchor("Use it as a Permit PDP") == "use-it-as-a-permit-pdp"
    assert anchor("Security: attacks and faults, tested") == "security-attacks-and-faults-tested"
    assert anchor("`make run`, then `/docs`") == "make-run-then-docs"


def test_every_page_is_reachable_from_the_readme() -> None:
    linked = {link.partition("#")[0] for link in LINK.findall((ROOT / "README.md").read_text())}
    pages = {f"docs/{page.name}" for page in PAGES if page.parent.name == "docs"}
    assert sorted(pages - linked) == []
