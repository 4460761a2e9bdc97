"""The repository documents itself: no comment or document points outside it.

A reader of a clone cannot follow a pointer to a design document kept elsewhere, to a path on
some machine, or to an issue-tracker entry, so such a reference must be replaced by the
reason itself or by a pointer to a document in the repository (`README.md`,
`<package>/README.md`). Every in-repository document a comment names must exist, and so must
the section it names (`qnum/README.md, "QKD"`).

This file is not scanned itself: it spells out the patterns it looks for.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SELF = Path(__file__).resolve()

#: Directories that hold tools, caches or generated files, not the project's own text.
SKIPPED_DIRS = frozenset({
    ".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache",
    ".hypothesis", "build", "dist", "var", "node_modules",
})
SCANNED_SUFFIXES = frozenset({".py", ".yang", ".md", ".proto", ".toml", ".service", ".sh"})
SCANNED_NAMES = frozenset({"Makefile"})

#: References a reader of the repository cannot follow, with what each one catches.
OUTSIDE_REFERENCES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("design document outside the repository", re.compile(r"\bDESIGN(?:\.md)?\b")),
    ("path outside the repository", re.compile(r"\.\./shared\b|(?<![\w.])/work/")),
    ("issue-tracker number", re.compile(
        r"\b(?:issues?|tickets?)\s*#?\s*\d+\b"   # issue 7, issue #7, issues 3, ticket #2
        r"|\b(?:PR|pull request)\s*#\d+\b"       # PR #12, pull request #3
        r"|\(#\d+\)"                             # (#12), GitHub's commit-title style
        r"|\bGH-\d+\b",                          # GH-12
        re.IGNORECASE)),
)

#: A document path such as `qnum/README.md` (not inside a URL: no `/`, `:` or `.` before it).
DOC_PATH = re.compile(r"(?<![\w/.:-])(/?(?:[\w.-]+/)*[\w-][\w.-]*\.md)\b")
#: The section named right after a document path: `, "Title"` or ` 'Title'`.
SECTION_AFTER = re.compile(r"(?:\s*,\s*|[ \t]+)[\"'](?P<title>[^\"'\n]+(?:\n[^\"'\n]+)*)[\"']")
#: An in-page link in Markdown: `[text](#anchor)`.
PAGE_ANCHOR = re.compile(r"\]\(#(?P<anchor>[\w-]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")


def scanned_files() -> Iterator[Path]:
    for directory, subdirs, files in os.walk(ROOT):
        subdirs[:] = sorted(d for d in subdirs
                            if d not in SKIPPED_DIRS and not d.endswith(".egg-info"))
        here = Path(directory)
        for name in sorted(files):
            path = here / name
            if path.resolve() == SELF:
                continue
            if (path.suffix in SCANNED_SUFFIXES or name in SCANNED_NAMES
                    or here.name == ".ci"):
                yield path


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def outside_references(text: str) -> list[tuple[int, str, str]]:
    """(line, what, matched text) of every reference that leads out of the repository."""
    found = []
    for what, pattern in OUTSIDE_REFERENCES:
        for match in pattern.finditer(text):
            found.append((line_of(text, match.start()), what, match.group(0)))
    return sorted(found)


def resolve_doc(reference: str, referrer: Path) -> Path | None:
    """The in-repository file a document path names: relative to the repository root (how
    comments cite documents), else to the referring file's folder (Markdown links)."""
    if reference.startswith("/"):
        return None
    for base in (ROOT, referrer.parent):
        candidate = (base / reference).resolve()
        if candidate.is_file() and candidate.is_relative_to(ROOT):
            return candidate
    return None


@cache
def headings(doc: Path) -> frozenset[str]:
    """Titles of the Markdown headings of ``doc``, outside fenced code blocks."""
    titles: set[str] = set()
    fenced = False
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (match := HEADING.match(line)):
            titles.add(match["title"])
    return frozenset(titles)


def anchor(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def broken_doc_references(text: str, referrer: Path) -> list[tuple[int, str]]:
    """(line, problem) for every named document or section that does not exist."""
    problems = []
    for match in DOC_PATH.finditer(text):
        reference, line = match.group(1), line_of(text, match.start())
        doc = resolve_doc(reference, referrer)
        if doc is None:
            problems.append((line, f"{reference} is not a file in the repository"))
            continue
        section = SECTION_AFTER.match(text, match.end())
        if section is not None:
            title = " ".join(section["title"].split())
            if title not in headings(doc):
                problems.append((line, f"{reference} has no section {title!r}"))
    if referrer.suffix == ".md":
        anchors = {anchor(title) for title in headings(referrer)}
        for match in PAGE_ANCHOR.finditer(text):
            if match["anchor"] not in anchors:
                problems.append((line_of(text, match.start()),
                                 f"no heading for the link #{match['anchor']}"))
    return problems


def test_the_scan_covers_the_repository() -> None:
    names = {relative(p) for p in scanned_files()}
    assert {"README.md", "Makefile", "qnum/README.md", "controller/README.md",
            "yang/README.md", "yang/sdqn-types.yang", "qnum/physics/qkd.py"} <= names
    assert not any(n.startswith((".venv/", ".git/")) for n in names)


def test_no_reference_leads_outside_the_repository() -> None:
    problems = [f"{relative(path)}:{line}: {what}: {matched!r}"
                for path in scanned_files()
                for line, what, matched in outside_references(path.read_text(encoding="utf-8"))]
    assert not problems, "\n".join(problems)


def test_every_named_document_and_section_exists() -> None:
    problems = [f"{relative(path)}:{line}: {problem}"
                for path in scanned_files()
                for line, problem in broken_doc_references(path.read_text(encoding="utf-8"),
                                                           path)]
    assert not problems, "\n".join(problems)


# --- the patterns are precise: they catch what they should and nothing else -------------


@pytest.mark.parametrize("text", [
    "see DESIGN.md", "(DESIGN: stabilisation delays)", "`../shared/DESIGN.md`",
    "contract (/work/briefs/common.md)", "(issue 7, item 6)", "issue #7", "Issue 12",
    "issues 3 and 4", "fixed in PR #12", "revert (#42)", "GH-7",
])
def test_outside_references_are_caught(text: str) -> None:
    assert outside_references(text)


@pytest.mark.parametrize("text", [
    "RFC 8342 §5.1.4", "RFC 6241 Appendix A", "b\"\\n#4\\n<rpc\\n#17\\n\"", "PRL 76, 722",
    "PRA 40, 4277 (1989)", "a design choice", "test_design_seed_examples", "an issue with 7",
    "item 6 of the module docstring", "chunk-size #12345", "https://example.org/work/x",
])
def test_ordinary_text_is_not_flagged(text: str) -> None:
    assert not outside_references(text)


def test_document_references_are_checked_with_their_section() -> None:
    here = ROOT / "qnum" / "physics" / "qkd.py"
    assert not broken_doc_references('(qnum/README.md, "QKD")', here)
    assert not broken_doc_references("'sdqn repository, qnum/README.md, 'Packet-switched\n"
                                     "   q-ROADM path'.", here)
    assert not broken_doc_references("see https://github.com/x/y/blob/main/NOTES.md", here)
    assert broken_doc_references('(qnum/README.md, "No such section")', here)
    assert broken_doc_references("see docs/DESIGN_NOTES.md", here)
    assert broken_doc_references("see /etc/notes.md", here)
