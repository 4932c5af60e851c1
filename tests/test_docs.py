"""The documentation holds together: every relative link resolves (anchors included), every citation key is
defined in docs/references.md, and the README stays a newcomer's page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CITATION = re.compile(r"\[([A-Z][A-Z0-9-]*)\](?!\()")


def without_code(text: str) -> str:
    """The page without fenced and inline code (links and brackets in code are not links or citations)."""
    return re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", text, flags=re.S))


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(m.group(1)) for m in re.finditer(r"(?m)^#+ (.+)$", re.sub(r"```.*?```", "", page.read_text(), flags=re.S))}


def broken_links(page: Path) -> list[str]:
    """The relative links of a page whose file (or heading anchor) does not exist inside the repository."""
    broken = []
    for target in LINK.findall(without_code(page.read_text())):
        if re.match(r"[a-z]+:", target):  # http(s), mailto: not checked here
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists() or ROOT not in resolved.parents:
            broken.append(target)
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(target)
    return broken


def undefined_keys(pages: list[Path], references: Path) -> dict[str, str]:
    """Citation keys used in the pages (key -> a page using it) that the references table does not define."""
    defined = set(re.findall(r"(?m)^\| \[([A-Z][A-Z0-9-]*)\] \|", references.read_text()))
    used = {key: page.name for page in pages for key in CITATION.findall(without_code(page.read_text()))}
    return {key: name for key, name in used.items() if key not in defined}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    broken = broken_links(page)
    assert not broken, f"{page.name}: broken links {broken}"


def test_every_citation_key_is_defined() -> None:
    undefined = undefined_keys(PAGES, ROOT / "docs" / "references.md")
    assert not undefined, f"citation keys used but not defined in docs/references.md: {undefined}"


def test_the_readme_is_a_newcomers_page() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text) <= 12_000, f"README.md has {len(text)} characters; move details to docs/"
    for heading in ("## The two commands", "## A five-minute tour", "## The command line at a glance", "## Documentation"):
        assert heading in text
    assert "../shared" not in text and "session" not in text.lower()


def test_a_broken_link_and_an_undefined_key_are_caught(tmp_path: Path) -> None:
    """The checkers above fail on a planted page: a missing file, a missing anchor, an unknown key."""
    page = ROOT / "docs" / "_planted_for_test.md"
    page.write_text("# Page\n\nSee [missing](missing.md), [anchor](cli.md#no-such-heading), [ok](cli.md) and [NOPE] and [RE].\n"
                    "`[CODE]` and `[code](nowhere.md)` in inline code do not count.\n")
    try:
        assert broken_links(page) == ["missing.md", "cli.md#no-such-heading"]
        assert undefined_keys([page], ROOT / "docs" / "references.md") == {"NOPE": page.name}
    finally:
        page.unlink()
    assert slug("Your own strategy on them") == "your-own-strategy-on-them"
