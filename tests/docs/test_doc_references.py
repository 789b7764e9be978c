"""The repository explains itself: every document it points to is inside it.

Relative links in tracked Markdown files must resolve to tracked files, and path-like mentions of
documents (`docs/...md`, `README.md` of a folder) in any tracked file must exist. A file outside the
repository (the team's first design brief, a sibling `shared/` folder) is never cited.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Markdown link targets: [text](target) and <img src="target">.
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|src=\"([^\"]+)\"")
# A document named by path in prose or comments: docs/x.md, apps/producer/README.md, ...
DOC_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.md)\b")
OUTSIDE = re.compile(r"DESIGN\.md|\.\./shared/")
# This test names the forbidden references to find them.
SELF = Path(__file__).resolve().relative_to(ROOT).as_posix()


def tracked_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return [ROOT / name for name in names if (ROOT / name).is_file()]


def text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def markdown_links(text: str) -> list[str]:
    targets = []
    for match in LINK.finditer(text):
        target = match.group(1) or match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        targets.append(target.split("#", 1)[0])
    return [target for target in targets if target]


def test_relative_markdown_links_resolve_inside_the_repository() -> None:
    broken = []
    for path in tracked_files():
        if path.suffix != ".md" or (text := text_of(path)) is None:
            continue
        for target in markdown_links(text):
            resolved = (path.parent / target).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{path.relative_to(ROOT)} -> {target}")
    assert broken == [], "links that do not resolve inside the repository:\n" + "\n".join(broken)


def test_documents_named_by_path_exist() -> None:
    missing = []
    for path in tracked_files():
        if path.relative_to(ROOT).as_posix() == SELF or (text := text_of(path)) is None:
            continue
        for name in set(DOC_PATH.findall(text)):
            if "/" not in name:
                continue
            if not ((ROOT / name).exists() or (path.parent / name).exists()):
                missing.append(f"{path.relative_to(ROOT)} names {name}")
    assert missing == [], "documents named but not in the repository:\n" + "\n".join(missing)


def test_no_file_cites_the_design_brief_outside_the_repository() -> None:
    citing = [
        path.relative_to(ROOT).as_posix()
        for path in tracked_files()
        if path.relative_to(ROOT).as_posix() != SELF
        and (text := text_of(path)) is not None
        and OUTSIDE.search(text)
    ]
    assert citing == [], f"files citing documents outside the repository: {citing}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see [the docs](docs/architecture.md#contracts)", ["docs/architecture.md"]),
        ('<img src="dashboards/docs/live-view.svg">', ["dashboards/docs/live-view.svg"]),
        ("[site](https://example.org/x.md) and [top](#quick-start)", []),
    ],
)
def test_link_extraction_keeps_only_local_targets(text: str, expected: list[str]) -> None:
    assert markdown_links(text) == expected
