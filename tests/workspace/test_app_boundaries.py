"""Each room holds what its name says: local-stack is a leaf, and no production code imports tests.

local-stack is "Kafka and Cassandra from Maven jars": the orchestrator of `make run` is its own app
(apps/local-pipeline), so local-stack needs no other app, and the apps that build on it (infra,
images, benchmarks, local-pipeline) can take it without pulling in the rest of the pipeline.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTS = REPO_ROOT / "tests"
# Workspace members that are shared libraries, not apps: what local-stack and local-cluster
# both do with background processes is written once there, the log format in finnhub-logs, and
# the contracts every part agrees on (schema, tables, topics, version pins) in finnhub-contracts.
LIBRARIES = {"background-processes", "finnhub-logs", "finnhub-contracts"}


def _members() -> dict[str, Path]:
    """Every uv workspace member: its distribution name and its folder."""
    root = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    members = {}
    for folder in root["tool"]["uv"]["workspace"]["members"]:
        project = tomllib.loads((REPO_ROOT / folder / "pyproject.toml").read_text())["project"]
        members[project["name"]] = REPO_ROOT / folder
    return members


def _import_roots_of(member: Path) -> set[str]:
    """The top-level packages a member's wheel holds: folders with an __init__.py."""
    places = [member / "src", member]
    return {init.parent.name for place in places for init in place.glob("*/__init__.py")}


def _sources(member: Path) -> list[Path]:
    return sorted(path for path in member.rglob("*.py") if ".venv" not in path.parts)


def _imported_roots(source: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def _requirement_name(requirement: str) -> str:
    for mark in "=<>!~;[ ":
        requirement = requirement.split(mark)[0]
    return requirement.strip()


def imports_of_other_apps(member_name: str) -> dict[str, set[str]]:
    """Each source file of the member that imports another app's package, with those roots."""
    members = _members()
    others = set().union(
        *(
            _import_roots_of(folder)
            for name, folder in members.items()
            if name != member_name and name not in LIBRARIES
        )
    )
    found = {}
    for source in _sources(members[member_name]):
        taken = _imported_roots(source) & others
        if taken:
            found[str(source.relative_to(REPO_ROOT))] = taken
    return found


def test_local_stack_imports_no_other_app() -> None:
    assert _sources(_members()["local-stack"])
    assert imports_of_other_apps("local-stack") == {}


def test_local_stack_depends_on_no_other_app() -> None:
    members = _members()
    project = tomllib.loads((members["local-stack"] / "pyproject.toml").read_text())["project"]
    required = {_requirement_name(requirement) for requirement in project["dependencies"]}
    assert required & (set(members) - LIBRARIES - {"local-stack"}) == set()


def test_a_shared_library_imports_no_app() -> None:
    for library in LIBRARIES:
        assert imports_of_other_apps(library) == {}, library


def test_make_run_is_the_local_pipeline_apps_command_not_local_stacks() -> None:
    members = _members()
    scripts = {
        name: tomllib.loads((folder / "pyproject.toml").read_text())["project"].get("scripts", {})
        for name, folder in members.items()
    }
    assert scripts["local-pipeline"]["finnhub-run"].startswith("local_pipeline.")
    assert set(scripts["local-stack"]) == {"local-stack"}


def _test_module_names() -> set[str]:
    """Names a production module would use to import test code: the tests package itself, and
    every helper module under tests/ (the suite imports them as top-level modules)."""
    helpers = {path.stem for path in TESTS.rglob("*.py") if not path.stem.startswith("test_")}
    return {"tests", "conftest"} | helpers


def test_no_production_module_imports_test_code() -> None:
    test_names = _test_module_names()
    assert "bare_path" in test_names
    offenders = {
        str(source.relative_to(REPO_ROOT)): _imported_roots(source) & test_names
        for folder in _members().values()
        for source in _sources(folder)
        if _imported_roots(source) & test_names
    }
    assert offenders == {}
