"""The typed stack config and the two stack files."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
import yaml
from finnhub_infra import config as config_module
from finnhub_infra.config import SECTIONS, ConfigModel, StackConfig, parse_stack_config
from infra_harness import REPO_ROOT
from pydantic import BaseModel, ValidationError

# What may differ between minikube and eks: sizes, replication, storage, state and cluster.
MAY_DIFFER = {
    "cluster",
    "terraformState",
    "kafka",
    "cassandra",
    "spark",
}
SIZING_KEYS = {
    "replicas",
    "replicationFactor",
    "topicReplicationFactor",
    "topicPartitions",
    "storageSize",
    "heap",
    "resources",
    "executorInstances",
    "executorMemory",
    "driverMemory",
    "checkpointAccessMode",
    "checkpointStorageClass",
    "checkpointSize",
}


def stack_raw(stack: str) -> dict[str, Any]:
    config = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert all(key.startswith("finnhub-pipeline:") for key in config)
    return {key.split(":", 1)[1]: value for key, value in config.items()}


@pytest.mark.parametrize("stack", ["minikube", "eks"])
def test_stack_file_parses_into_the_typed_config(stack: str) -> None:
    cfg = parse_stack_config(stack_raw(stack))
    assert cfg.cluster.kube_context == stack_raw(stack)["cluster"]["kubeContext"]


def test_stacks_differ_only_in_sizing_storage_state_and_cluster() -> None:
    minikube, eks = stack_raw("minikube"), stack_raw("eks")
    differing = {k for k in minikube.keys() | eks.keys() if minikube.get(k) != eks.get(k)}
    assert differing <= MAY_DIFFER
    for section in ("kafka", "cassandra", "spark"):
        assert set(eks.get(section, {})) <= SIZING_KEYS, section


def test_no_secret_is_written_in_plain_text_in_a_stack_file() -> None:
    for stack in ("minikube", "eks"):
        text = (REPO_ROOT / f"Pulumi.{stack}.yaml").read_text().lower()
        for word in ("token:", "password:"):
            assert word not in text


def test_unknown_keys_are_rejected_as_typos() -> None:
    with pytest.raises(ValidationError, match="replica"):
        parse_stack_config({"kafka": {"replica": 3}})


def test_s3_state_needs_bucket_key_and_region() -> None:
    with pytest.raises(ValidationError, match="bucket, key and region"):
        parse_stack_config({"terraformState": {"backend": "s3", "bucket": "b"}})


def test_topic_replication_cannot_exceed_the_brokers() -> None:
    with pytest.raises(ValidationError, match="topicReplicationFactor"):
        parse_stack_config({"kafka": {"replicas": 1, "topicReplicationFactor": 3}})


def test_defaults_are_a_single_node_minikube() -> None:
    cfg = StackConfig()
    assert cfg.kafka.replicas == cfg.cassandra.replicas == 1
    assert cfg.cassandra.replication_factor == 1
    assert cfg.cluster.kube_context == "minikube"


def test_every_section_of_the_stack_config_is_read_from_pulumi_config() -> None:
    sections = {field.alias or name for name, field in StackConfig.model_fields.items()}
    assert set(SECTIONS) == sections


PROGRAM = [
    REPO_ROOT / "infra" / "__main__.py",
    *sorted((REPO_ROOT / "infra" / "finnhub_infra").rglob("*.py")),
]


def program_source() -> str:
    """The program's code, less config.py's own validators (checking a field is not using it);
    config.py's `to_manifest` stays, it is how the components read resources."""
    parts = [path.read_text() for path in PROGRAM if path.name != "config.py"]
    return "\n".join([*parts, inspect.getsource(config_module.Resources.to_manifest)])


def config_models() -> list[type[BaseModel]]:
    return [
        model
        for model in vars(config_module).values()
        if isinstance(model, type) and issubclass(model, ConfigModel) and model is not ConfigModel
    ]


def unread_fields(program_text: str) -> list[str]:
    """`Model.field` of every field the program never reads. A StackConfig field must be read
    as `cfg.<field>`; a section's field as `.<field>` on anything (a name shared by two
    sections counts as read for both: the price of reading source, not running it)."""
    unread = []
    for model in config_models():
        for name in model.model_fields:
            wanted = rf"\bcfg\.{name}\b" if model is StackConfig else rf"\.{name}\b"
            if not re.search(wanted, program_text):
                unread.append(f"{model.__name__}.{name}")
    return unread


def test_every_stack_field_the_config_parses_is_read_by_the_program() -> None:
    # A field that is parsed and never read lets a stack file say something nothing follows.
    assert unread_fields(program_source()) == []


def test_the_unread_field_check_names_a_field_nothing_reads() -> None:
    source = program_source().replace("cfg.cluster", "cfg.x")
    assert "StackConfig.cluster" in unread_fields(source)
