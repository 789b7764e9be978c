"""The outputs of `terraform-bootstrap/`, read from its Terraform state through pulumi-terraform.

Terraform owns what must exist before Pulumi runs (the namespace and the image registry);
Pulumi only reads them. These output names are the contract with `terraform-bootstrap/outputs.tf`.
Where no Terraform runs (the `local` stack on local-cluster, whose `up` makes the namespace and
runs the registry), the stack states the same two outputs in `bootstrap` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_terraform as terraform

from finnhub_infra.config import GivenBootstrap, TerraformStateConfig

OUTPUT_NAMES = ("namespace", "registry_url")


@dataclass(frozen=True)
class BootstrapOutputs:
    namespace: pulumi.Output[str]
    registry_url: pulumi.Output[str]


def require_output(outputs: dict[str, Any], key: str) -> str:
    """One Terraform output, with an error that says how to produce it when it is missing."""
    value = outputs.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"terraform-bootstrap state has no output {key!r} (has: {sorted(outputs)}); "
            "run `terraform -chdir=terraform-bootstrap apply` first"
        )
    return value


def read_bootstrap(
    cfg: TerraformStateConfig, repo_root: str, given: GivenBootstrap | None = None
) -> BootstrapOutputs:
    if given is not None:
        return BootstrapOutputs(
            namespace=pulumi.Output.from_input(given.namespace),
            registry_url=pulumi.Output.from_input(given.registry_url),
        )
    if cfg.backend == "local":
        state = terraform.state.get_local_reference_output(path=f"{repo_root}/{cfg.path}")
    else:
        state = terraform.state.get_s3_reference_output(
            bucket=cfg.bucket, key=cfg.key, region=cfg.region
        )
    outputs = state.outputs
    return BootstrapOutputs(
        namespace=outputs.apply(lambda o: require_output(o, "namespace")),
        registry_url=outputs.apply(lambda o: require_output(o, "registry_url")),
    )
