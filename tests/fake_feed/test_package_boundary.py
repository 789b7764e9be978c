"""The producer ships without the fake feed: no server module, no websocket server library."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PRODUCER = REPO_ROOT / "apps" / "producer"


def _imported_roots(source: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_producer_does_not_depend_on_the_websocket_server_library() -> None:
    project = tomllib.loads((PRODUCER / "pyproject.toml").read_text())["project"]
    names = {
        dep.split("=")[0].split("<")[0].split(">")[0].strip() for dep in project["dependencies"]
    }
    assert "websockets" not in names
    assert "finnhub-fake-feed" not in names
    assert all("fake" not in target for target in project.get("scripts", {}).values())


def test_no_producer_module_imports_the_feed_or_a_websocket_server() -> None:
    sources = sorted((PRODUCER / "src").rglob("*.py"))
    assert sources
    for source in sources:
        assert not _imported_roots(source) & {"websockets", "finnhub_fake_feed"}, source
        assert "fake" not in source.stem, source
