"""`make preview`: the real Pulumi engine plans each stack offline; the plan matches the program.

The infra tests prove what the program registers under Pulumi's mocks; these prove the engine and
the providers accept it: the same resources reach the plan, nothing errors, no secret leaks. The
toolchain is built by tools/pulumi/install.sh (once; cached): the `toolchain` fixture, conftest.py.
The project's own CLI is forced (PULUMI_PREVIEW_CLI=built), so a developer's Pulumi CLI on PATH
does not stand in for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PREVIEW_SCRIPT = REPO_ROOT / "tools" / "pulumi" / "preview.py"
STACKS = ("minikube", "eks")
# A token no file holds: if it shows up in any output, the engine or the program leaked it.
TOKEN_SENTINEL = f"sentinel-token-{uuid.uuid4().hex}"
# Offline, the engine leaves out Helm releases (their charts come from chart repositories) and what
# depends on them: the SparkApplication waits for the spark-operator release (spark_operator.py).
OFFLINE_GAPS = {
    "kubernetes:helm.sh/v3:Release",
    "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication",
}

# The first test may build the toolchain (cold: tens of minutes on two shared cores), and pytest's
# timeout covers fixture set-up.
pytestmark = pytest.mark.timeout(3600)

# The infra tests' harness runs the program under mocks; its record is what the plan must hold.
sys.path.insert(0, str(REPO_ROOT / "tests" / "infra"))
sys.path.insert(0, str(REPO_ROOT / "tests"))
from bare_path import environment_without_uv  # noqa: E402
from infra_harness import COMPONENT_TYPES, run_program  # noqa: E402


@dataclass(frozen=True)
class Preview:
    returncode: int
    output: str
    plan_text: str

    @property
    def plan(self) -> dict[str, Any]:
        return json.loads(self.plan_text)

    def steps(self) -> dict[tuple[str, str], list[str]]:
        """The planned steps of every resource, by (type, name) read from its URN."""
        found = {}
        for urn, resource_plan in self.plan.get("resourcePlans", {}).items():
            # urn:pulumi:<stack>::<project>::<parent types $ ...>$<type>::<name>
            _, _, qualified_type, name = urn.split("::", 3)
            found[(qualified_type.rsplit("$", 1)[-1], name)] = resource_plan.get("steps", [])
        return found

    def created(self) -> Counter[tuple[str, str]]:
        return Counter(key for key, steps in self.steps().items() if steps == ["create"])


def run_preview(stack: str, workdir: Path, *extra_args: str) -> Preview:
    plan_path = workdir / f"{stack}-plan.json"
    env = {**os.environ, "FINNHUB_TOKEN": TOKEN_SENTINEL, "PULUMI_PREVIEW_CLI": "built"}
    result = subprocess.run(
        [
            sys.executable,
            str(PREVIEW_SCRIPT),
            "--stack",
            stack,
            "--skip-install",
            "--save-plan",
            str(plan_path),
            *extra_args,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    plan_text = plan_path.read_text() if plan_path.exists() else "{}"
    return Preview(result.returncode, result.stdout + result.stderr, plan_text)


@pytest.fixture(scope="session")
def previews(toolchain: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Preview]:
    workdir = tmp_path_factory.mktemp("preview")
    return {stack: run_preview(stack, workdir) for stack in STACKS}


@pytest.mark.parametrize("stack", STACKS)
def test_preview_succeeds_without_errors(previews: dict[str, Preview], stack: str) -> None:
    preview = previews[stack]
    errors = [line for line in preview.output.splitlines() if line.lstrip().startswith("error:")]
    assert preview.returncode == 0, preview.output[-4000:]
    assert errors == []


@pytest.mark.parametrize("stack", STACKS)
def test_plan_holds_every_component_of_the_program(
    previews: dict[str, Preview], stack: str
) -> None:
    planned_types = {typ for typ, _ in previews[stack].created()}
    assert planned_types >= COMPONENT_TYPES


@pytest.mark.parametrize("stack", STACKS)
def test_plan_holds_every_resource_the_mocked_program_registers_but_the_offline_gaps(
    previews: dict[str, Preview], stack: str
) -> None:
    expected = Counter((r.typ, r.name) for r in run_program(stack).resources)
    missing = expected - previews[stack].created()
    assert {typ for typ, _ in missing} <= OFFLINE_GAPS, (
        f"registered under mocks but not planned by the engine: {sorted(missing)}"
    )


def test_preview_says_what_it_leaves_out_offline(previews: dict[str, Preview]) -> None:
    assert "Helm releases" in previews["minikube"].output
    assert "excluded" in previews["minikube"].output


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_but_the_offline_gaps_is_planned_as_a_create(
    previews: dict[str, Preview], stack: str
) -> None:
    steps = previews[stack].steps()
    assert steps
    not_created = {key: s for key, s in steps.items() if s != ["create"]}
    assert {typ for typ, _ in not_created} <= OFFLINE_GAPS, not_created


@pytest.mark.parametrize("stack", STACKS)
def test_offline_gaps_are_left_unchanged_not_created(
    previews: dict[str, Preview], stack: str
) -> None:
    gaps = {key: s for key, s in previews[stack].steps().items() if key[0] in OFFLINE_GAPS}
    assert gaps
    assert all(s == ["same"] for s in gaps.values()), gaps


@pytest.mark.parametrize("stack", STACKS)
def test_finnhub_token_never_appears_in_plaintext(previews: dict[str, Preview], stack: str) -> None:
    preview = previews[stack]
    assert TOKEN_SENTINEL not in preview.output
    assert TOKEN_SENTINEL not in preview.plan_text


def test_the_policy_pack_runs_in_the_preview_and_the_program_passes_it(
    toolchain: None, tmp_path: Path
) -> None:
    # The pack is Python (policy/PulumiPolicy.yaml): the engine has the language host start it
    # (RunPlugin), which failed with "method RunPlugin not implemented" before the host had it.
    policy_dir = REPO_ROOT / "policy"
    preview = run_preview("minikube", tmp_path, "--policy-pack", str(policy_dir))
    assert preview.returncode == 0, preview.output[-4000:]
    # The engine's summary names every pack it ran; only a pack that started and answered gets in.
    summary = preview.output.split("Policy Packs run:", 1)[-1]
    assert f"finnhub-security|local|{policy_dir}" in summary, preview.output[-4000:]
    assert "[mandatory]" not in preview.output, preview.output[-4000:]


def test_make_preview_succeeds_on_a_machine_whose_only_uv_is_the_projects(toolchain: None) -> None:
    # What a new user runs, on the PATH a fresh machine has: the engine's uv toolchain ran a bare
    # `uv` and failed with "Could not find `uv` executable" where no uv of the user's own exists.
    # go: install.sh checks the built binaries against the Go version before the preview.
    result = subprocess.run(
        ["make", "-s", "preview"],
        cwd=REPO_ROOT,
        env=environment_without_uv(
            "make", "go", PULUMI_PREVIEW_CLI="built", FINNHUB_TOKEN=TOKEN_SENTINEL
        ),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "Could not find `uv`" not in output
    assert "to create" in output
    assert TOKEN_SENTINEL not in output
