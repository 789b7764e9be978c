"""The GitHub Actions workflows: linted by actionlint (built by tools/actionlint/install.sh, which
`make test` runs), and holding to what the README promises of them.

actionlint runs with the shellcheck of the dev dependency group on the `run:` scripts and without
pyflakes, so its verdict is the same on every machine. Outside CI a missing actionlint (no Go to
build it) skips with the reason; under CI=true it fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
PULL_REQUEST = WORKFLOWS / "pull-request.yml"
INSTALL_SCRIPT = ROOT / "tools" / "actionlint" / "install.sh"
ACTIONLINT = Path(os.environ.get("ACTIONLINT_BIN", ROOT / ".cache" / "actionlint" / "bin"))
SHELLCHECK = Path(sys.executable).parent / "shellcheck"
# The stacks a user deploys; `local` is deploy-local's, on a cluster only one machine has.
DEPLOYABLE_STACKS = {"minikube", "eks"}


@pytest.fixture(scope="module")
def actionlint() -> Path:
    binary = ACTIONLINT / "actionlint"
    check = subprocess.run(["bash", str(INSTALL_SCRIPT), "--check"], check=False)
    if check.returncode == 0:
        return binary
    reason = f"actionlint is not built: run `make actionlint` (needs Go) to build {binary}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def lint(actionlint: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(actionlint), "-no-color", f"-shellcheck={SHELLCHECK}", "-pyflakes=", *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def workflow(path: Path) -> dict[Any, Any]:
    # PyYAML reads the bare key `on` as True.
    return yaml.safe_load(path.read_text())


def steps_using(document: dict[Any, Any], action: str) -> list[dict[str, Any]]:
    return [
        step
        for job in document["jobs"].values()
        for step in job.get("steps", [])
        if str(step.get("uses", "")).split("@")[0] == action
    ]


def test_every_workflow_passes_actionlint(actionlint: Path) -> None:
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert files, f"no workflow under {WORKFLOWS}"
    result = lint(actionlint, *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_fails_a_broken_workflow(actionlint: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: pull_request\n"
        "jobs:\n"
        "  preview:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - run: echo ${{ matrix.stack }}\n"
        "      - uses: actions/checkout@v6\n"
        "        with:\n"
        "          no-such-input: true\n"
        "      - run: cd $UNQUOTED_DIR\n"
    )
    result = lint(actionlint, broken)
    assert result.returncode != 0
    assert "matrix" in result.stdout
    assert "no-such-input" in result.stdout
    # shellcheck ran on the script: SC2086 is the unquoted variable.
    assert "SC2086" in result.stdout


def test_every_pull_request_previews_both_deployable_stacks_and_comments() -> None:
    document = workflow(PULL_REQUEST)
    assert "pull_request" in document[True]
    committed = {path.name.split(".")[1] for path in ROOT.glob("Pulumi.*.yaml")}
    assert committed >= DEPLOYABLE_STACKS
    preview = document["jobs"]["preview"]
    assert set(preview["strategy"]["matrix"]["stack"]) == DEPLOYABLE_STACKS
    assert preview["permissions"]["pull-requests"] == "write"
    (step,) = steps_using(document, "pulumi/actions")
    assert re.fullmatch(r"v\d+", step["uses"].split("@")[1]), step["uses"]
    assert step["with"]["command"] == "preview"
    assert step["with"]["comment-on-pr"] is True
    assert "matrix.stack" in step["with"]["stack-name"]


def test_the_preview_runs_the_cli_version_make_preview_builds() -> None:
    (step,) = steps_using(workflow(PULL_REQUEST), "pulumi/actions")
    built = re.search(
        r'^cli_version="v([^"]+)"', (ROOT / "tools/pulumi/install.sh").read_text(), re.M
    )
    assert built, "tools/pulumi/install.sh has no cli_version"
    assert str(step["with"]["pulumi-version"]) == built.group(1)


def test_the_tests_job_runs_make_test_under_ci() -> None:
    job = workflow(PULL_REQUEST)["jobs"]["test"]
    assert job["env"]["CI"] == "true"
    assert any(str(step.get("run", "")).startswith("make test") for step in job["steps"])


def test_secrets_and_variables_are_referenced_never_inlined_and_the_readme_names_each() -> None:
    text = PULL_REQUEST.read_text()
    names = set(re.findall(r"\b(?:secrets|vars)\.([A-Z][A-Z0-9_]*)", text))
    assert names, "the workflow reads no secret or variable"
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert not missing, f"README.md does not document {missing}"
    # A secret is only ever an expression's value, never a literal after its variable's name.
    for name, value in re.findall(
        r"^\s*(PULUMI_ACCESS_TOKEN|PULUMI_CONFIG_PASSPHRASE):\s*(.+)$", text, re.M
    ):
        assert value.startswith("${{ secrets."), f"{name} is not read from secrets: {value}"
