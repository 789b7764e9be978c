"""The Makefile and the README's commands work with only the uv the project installs itself.

A machine without a uv of its own is what a new user has; `make` then runs `.cache/bin/uv`, and
everything it starts (the Pulumi engine's uv toolchain runs plain `uv`) must find that same uv.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_BIN = REPO_ROOT / ".cache" / "bin"
README = REPO_ROOT / "README.md"
# The README line that gives a shell without a uv of its own the project's.
PATH_LINE = 'export PATH="$PWD/.cache/bin:$PATH"'

sys.path.insert(0, str(REPO_ROOT / "tests"))
from bare_path import environment_without_uv  # noqa: E402

# Added to the project's Makefile for the probe only: prints the uv make chose and the one its
# recipes find on PATH. `$(UV)` as a prerequisite installs the project's uv when it is missing.
PROBE = """
probe-uv: $(UV)
\t@echo "chosen=$(UV)"
\t@echo "on-path=$$(command -v uv)"
\t@uv --version
"""


def probe_make(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    probe = tmp_path / "probe.mk"
    probe.write_text(PROBE)
    result = subprocess.run(
        ["make", "-s", "-f", "Makefile", "-f", str(probe), "probe-uv"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    found = dict(line.split("=", 1) for line in lines if "=" in line)
    found["version"] = next(line for line in lines if line.startswith("uv "))
    return found


def pinned_uv_version() -> str:
    match = re.search(r"^UV_VERSION := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert match is not None
    return match.group(1)


def test_make_runs_everything_with_the_projects_uv_when_the_machine_has_none(
    tmp_path: Path,
) -> None:
    found = probe_make(tmp_path, environment_without_uv("make"))
    assert found["chosen"] == str(PROJECT_BIN / "uv")
    assert found["on-path"] == str(PROJECT_BIN / "uv")
    assert found["version"].split()[1] == pinned_uv_version()


def test_make_uses_the_users_own_uv_when_one_is_on_path(tmp_path: Path) -> None:
    theirs = tmp_path / "their-bin"
    theirs.mkdir()
    (theirs / "uv").write_text(f'#!/bin/sh\nexec "{PROJECT_BIN / "uv"}" "$@"\n')
    (theirs / "uv").chmod(0o755)
    env = environment_without_uv("make")
    env["PATH"] = f"{theirs}:{env['PATH']}"
    found = probe_make(tmp_path, env)
    assert found["chosen"] == str(theirs / "uv")
    assert found["on-path"] == str(theirs / "uv")


def test_the_projects_tool_directory_holds_nothing_that_could_shadow_the_users_tools(
    tmp_path: Path,
) -> None:
    probe_make(tmp_path, environment_without_uv("make"))
    assert sorted(p.name for p in PROJECT_BIN.iterdir()) == ["uv"]


def readme_commands() -> list[tuple[int, str]]:
    """(line number, line) of every line inside the README's fenced code blocks."""
    inside = False
    found = []
    for number, line in enumerate(README.read_text().splitlines(), start=1):
        if line.startswith("```"):
            inside = not inside
        elif inside:
            found.append((number, line.strip()))
    return found


def test_readme_gives_the_projects_uv_before_any_command_that_runs_uv() -> None:
    # `pulumi` counts: Pulumi.yaml's uv toolchain makes the engine run `uv` from PATH.
    commands = readme_commands()
    path_lines = [number for number, line in commands if line.startswith(PATH_LINE)]
    needing_uv = [(n, line) for n, line in commands if re.match(r"(uv|pulumi) ", line)]
    assert path_lines
    assert needing_uv
    early = [(n, line) for n, line in needing_uv if n < path_lines[0]]
    assert early == [], f"README runs uv before it says where uv is: {early}"


def test_readme_path_line_finds_the_projects_uv_in_a_shell_without_one(tmp_path: Path) -> None:
    probe_make(tmp_path, environment_without_uv("make"))
    result = subprocess.run(
        ["bash", "-c", f"{PATH_LINE}; command -v uv; uv --version"],
        cwd=REPO_ROOT,
        env=environment_without_uv(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == str(PROJECT_BIN / "uv")
