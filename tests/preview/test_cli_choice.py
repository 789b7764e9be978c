"""`make preview` runs the user's Pulumi CLI when there is one, the built one otherwise, and gives
the engine a uv on a machine that has none of its own.

Both CLIs are stand-in scripts that record how they were called and what the engine would find on
PATH, so these run in seconds with no toolchain; tests/preview/test_preview.py runs the real one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PREVIEW_SCRIPT = REPO_ROOT / "tools" / "pulumi" / "preview.py"
TOKEN_SENTINEL = f"sentinel-token-{uuid.uuid4().hex}"

sys.path.insert(0, str(REPO_ROOT / "tests"))
from bare_path import environment_without_uv  # noqa: E402

# Records its argv and the uv a plugin it starts would run, then succeeds like `pulumi` would.
RECORDING_CLI = """#!/bin/sh
printf 'call %s\\n' "$*" >> "{log}"
printf 'uv %s\\n' "$(command -v uv)" >> "{log}"
"""


@dataclass(frozen=True)
class Run:
    returncode: int
    stderr: str
    calls: dict[str, list[str]]
    uv_seen: set[str]


def recording_cli(directory: Path, log: Path) -> Path:
    directory.mkdir(parents=True)
    cli = directory / "pulumi"
    cli.write_text(RECORDING_CLI.format(log=log))
    cli.chmod(0o755)
    return cli


def run_preview(tmp_path: Path, *, users_cli: bool, choice: str | None = None) -> Run:
    logs = {"users": tmp_path / "users.log", "built": tmp_path / "built.log"}
    built_bin = recording_cli(tmp_path / "built-bin", logs["built"]).parent
    uv = REPO_ROOT / ".cache" / "bin" / "uv"
    env = environment_without_uv(
        PULUMI_TOOLCHAIN_BIN=str(built_bin), FINNHUB_TOKEN=TOKEN_SENTINEL, UV=str(uv)
    )
    env.pop("PULUMI_PREVIEW_CLI", None)
    if users_cli:
        users_bin = recording_cli(tmp_path / "users-bin", logs["users"]).parent
        env["PATH"] = f"{users_bin}{os.pathsep}{env['PATH']}"
    if choice is not None:
        env["PULUMI_PREVIEW_CLI"] = choice
    result = subprocess.run(
        [sys.executable, str(PREVIEW_SCRIPT), "--stack", "minikube", "--skip-install"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    calls: dict[str, list[str]] = {}
    uv_seen: set[str] = set()
    for who, log in logs.items():
        lines = log.read_text().splitlines() if log.exists() else []
        calls[who] = [line.removeprefix("call ") for line in lines if line.startswith("call ")]
        uv_seen |= {line.removeprefix("uv ") for line in lines if line.startswith("uv ")}
    return Run(result.returncode, result.stderr, calls, uv_seen)


def test_the_users_pulumi_on_path_runs_the_whole_preview(tmp_path: Path) -> None:
    run = run_preview(tmp_path, users_cli=True)
    assert run.returncode == 0, run.stderr
    commands = [call.split()[1] for call in run.calls["users"]]
    assert commands == ["login", "stack", "config", "preview"]
    assert run.calls["built"] == []
    assert "using your Pulumi CLI at" in run.stderr


def test_a_machine_without_pulumi_runs_the_built_one_and_says_so(tmp_path: Path) -> None:
    run = run_preview(tmp_path, users_cli=False)
    assert run.returncode == 0, run.stderr
    assert run.calls["built"][-1].split()[1] == "preview"
    assert "no Pulumi CLI on PATH" in run.stderr


def test_built_forces_the_projects_cli_although_the_user_has_one(tmp_path: Path) -> None:
    run = run_preview(tmp_path, users_cli=True, choice="built")
    assert run.returncode == 0, run.stderr
    assert run.calls["users"] == []
    assert run.calls["built"][-1].split()[1] == "preview"


def test_path_on_a_machine_without_pulumi_is_one_line_naming_the_variable(
    tmp_path: Path,
) -> None:
    run = run_preview(tmp_path, users_cli=False, choice="path")
    assert run.returncode != 0
    assert run.calls["built"] == []
    assert "PULUMI_PREVIEW_CLI=path" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_engine_finds_uv_on_a_machine_whose_only_uv_is_the_projects(tmp_path: Path) -> None:
    run = run_preview(tmp_path, users_cli=True)
    assert run.returncode == 0, run.stderr
    assert run.uv_seen
    assert {Path(uv).resolve() for uv in run.uv_seen} == {
        (REPO_ROOT / ".cache" / "bin" / "uv").resolve()
    }


def test_the_finnhub_token_never_reaches_the_clis_argv(tmp_path: Path) -> None:
    run = run_preview(tmp_path, users_cli=True)
    assert run.calls["users"]
    assert not any(TOKEN_SENTINEL in call for call in run.calls["users"])
