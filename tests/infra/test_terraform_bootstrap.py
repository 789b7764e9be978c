"""terraform-bootstrap/, parsed with python-hcl2: its interface matches what Pulumi reads."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from finnhub_infra.bootstrap import OUTPUT_NAMES
from finnhub_infra.components.images import wanted_images
from finnhub_infra.config import parse_stack_config

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "terraform-bootstrap"


def load(name: str) -> dict[str, Any]:
    with (MODULE / name).open() as handle:
        return hcl2.load(handle)


def unquote(value: Any) -> Any:
    return value[1:-1] if isinstance(value, str) and value.startswith('"') else value


def blocks(name: str, kind: str) -> dict[str, dict[str, Any]]:
    return {unquote(key): body for entry in load(name).get(kind, []) for key, body in entry.items()}


def module_text() -> str:
    return "\n".join(p.read_text() for p in sorted(MODULE.glob("*.tf")))


def stack_raw(stack: str) -> dict[str, Any]:
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {key.split(":", 1)[1]: value for key, value in config.items()}


def test_module_has_the_standard_files() -> None:
    for name in ("versions.tf", "variables.tf", "main.tf", "outputs.tf"):
        assert (MODULE / name).is_file(), name


def test_every_variable_has_a_type_and_description() -> None:
    for name, body in blocks("variables.tf", "variable").items():
        assert body.get("type"), name
        assert unquote(body.get("description", "")).strip(), name


def test_every_output_has_a_description() -> None:
    for name, body in blocks("outputs.tf", "output").items():
        assert unquote(body.get("description", "")).strip(), name


def test_outputs_include_everything_pulumi_reads() -> None:
    assert set(OUTPUT_NAMES) <= set(blocks("outputs.tf", "output"))


def test_every_referenced_variable_is_declared_and_every_declared_one_used() -> None:
    declared = set(blocks("variables.tf", "variable"))
    text = "\n".join((MODULE / n).read_text() for n in ("main.tf", "outputs.tf"))
    used = set(re.findall(r"\bvar\.([a-z_][a-z0-9_]*)", text))
    assert used <= declared
    assert declared <= used


def test_providers_and_terraform_are_version_constrained() -> None:
    (terraform,) = load("versions.tf")["terraform"]
    assert unquote(terraform["required_version"])
    (providers,) = terraform["required_providers"]
    for name in ("kubernetes", "aws"):
        assert unquote(providers[name]["version"]).startswith("~>"), name


def test_minikube_state_is_where_the_minikube_stack_reads_it() -> None:
    # No backend block means local state in the module folder.
    (terraform,) = load("versions.tf")["terraform"]
    assert "backend" not in terraform
    cfg = parse_stack_config(stack_raw("minikube"))
    assert cfg.terraform_state.backend == "local"
    assert (ROOT / cfg.terraform_state.path).parent == MODULE
    assert (ROOT / cfg.terraform_state.path).name == "terraform.tfstate"


def test_eks_backend_example_matches_the_eks_stacks_state_reference() -> None:
    with (MODULE / "backend_override.tf.example").open() as handle:
        (terraform,) = hcl2.load(handle)["terraform"]
    (backend,) = terraform["backend"]
    s3 = backend['"s3"']
    cfg = parse_stack_config(stack_raw("eks")).terraform_state
    assert cfg.backend == "s3"
    assert (unquote(s3["bucket"]), unquote(s3["key"]), unquote(s3["region"])) == (
        cfg.bucket,
        cfg.key,
        cfg.region,
    )


def test_ecr_repositories_are_the_images_pulumi_pushes() -> None:
    variables = blocks("variables.tf", "variable")
    default = [unquote(v) for v in variables["image_repositories"]["default"]]
    # Every image a minikube/eks stack builds (the fake feed only where a stack enables it).
    assert sorted(default) == sorted(f"finnhub-{image.name}" for image in wanted_images(False))


def test_eks_tfvars_set_only_declared_variables_for_the_eks_target() -> None:
    values = load("eks.tfvars")
    assert set(values) <= set(blocks("variables.tf", "variable"))
    assert unquote(values["target"]) == "eks"
    eks = parse_stack_config(stack_raw("eks"))
    assert unquote(values["kube_context"]) == eks.cluster.kube_context


def test_minikube_registry_url_is_the_nodes_localhost_registry_port() -> None:
    variables = blocks("variables.tf", "variable")
    output = blocks("outputs.tf", "output")["registry_url"]["value"]
    assert variables["registry_port"]["default"] == 5000
    assert "localhost:${var.registry_port}" in output


def test_no_secret_or_password_is_written_into_the_module() -> None:
    assert not re.search(r"(?i)password\s*=", module_text())


def test_module_is_terraform_fmt_clean() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed; the hcl2 checks above still ran")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-diff", str(MODULE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
