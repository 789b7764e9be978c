"""Builders take Pulumi Inputs straight in: a manifest built from Outputs is a plain dict around
them, and resolves to exactly the manifest built from the plain values."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from finnhub_infra.components import cassandra, grafana, kafka, producer, spark_submit
from finnhub_infra.components.inputs import derive, is_plain
from finnhub_infra.components.processor_workload import ProcessorWiring
from finnhub_infra.config import (
    CassandraConfig,
    GrafanaConfig,
    KafkaConfig,
    ProducerConfig,
    SparkConfig,
)
from infra_harness import PROCESSOR_IMAGE, run_mocked

NAMESPACE = "pipeline"
IMAGE = "registry.test/finnhub-kafka@sha256:" + "2" * 64


def test_derive_computes_a_plain_value_at_once() -> None:
    assert derive("pipeline", str.upper) == "PIPELINE"
    assert derive({"a": "x"}, lambda d: d["a"]) == "x"


def test_a_value_holding_an_output_anywhere_is_not_plain() -> None:
    assert is_plain({"a": ["x", ("y", 1, None, True)]})

    def body() -> None:
        assert not is_plain(pulumi.Output.from_input("x"))
        assert not is_plain({"a": [pulumi.Output.from_input("x")]})

    run_mocked(body)


def _resolved(build: Any) -> tuple[Any, Any]:
    """What `build(namespace, image)` gives for Outputs (as built, and once resolved)."""
    seen: list[Any] = []

    def body() -> None:
        built = build(pulumi.Output.from_input(NAMESPACE), pulumi.Output.from_input(IMAGE))
        seen.append(built)
        pulumi.Output.from_input(built).apply(seen.append)

    run_mocked(body)
    return seen[0], seen[1]


def _wiring(image: pulumi.Input[str], bootstrap: pulumi.Input[str]) -> ProcessorWiring:
    return ProcessorWiring(
        image, bootstrap, "market", "market.dlq", "cassandra", 9042, "market", "creds"
    )


BUILDERS = {
    "kafka brokers": lambda ns, image: kafka.statefulset_manifest(
        ns, KafkaConfig(), "standard", "kafka-cluster-id", image, config_files_sha256="abc"
    ),
    "kafka config": lambda ns, image: kafka.config_map_manifest(ns, KafkaConfig()),
    "kafka topics job": lambda ns, image: kafka.topics_job_manifest(ns, KafkaConfig(), image),
    "kafka ui": lambda ns, image: kafka.ui_deployment_manifest(ns, KafkaConfig()),
    "cassandra config": lambda ns, image: cassandra.config_map_manifest(ns, CassandraConfig()),
    "cassandra schema": lambda ns, image: cassandra.schema_configmap_manifest(
        ns, CassandraConfig(), "CREATE KEYSPACE market;"
    ),
    "grafana provisioning": lambda ns, image: grafana.provisioning_configmap_manifest(
        ns, GrafanaConfig(), ns, 9042, "market"
    ),
    "producer": lambda ns, image: producer.deployment_manifest(
        ns, ProducerConfig(), image, "kafka:9092", "market", "market.dlq"
    ),
    "spark submitter": lambda ns, image: spark_submit.submitter_deployment_manifest(
        ns, SparkConfig(runner="submit"), _wiring(image, ns)
    ),
    "spark pod templates": lambda ns, image: spark_submit.pod_templates_manifest(
        ns, SparkConfig(runner="submit"), image
    ),
}


@pytest.mark.parametrize("builder", BUILDERS.values(), ids=BUILDERS.keys())
def test_a_manifest_built_from_outputs_resolves_to_the_one_built_from_plain_values(
    builder: Any,
) -> None:
    built, resolved = _resolved(builder)
    # A plain manifest around the Inputs, never one Output for the whole object: the kind and
    # the name are known in a preview whatever the namespace and the image digest.
    assert isinstance(built, dict)
    assert built["kind"] == resolved["kind"] and isinstance(built["metadata"]["name"], str)
    assert resolved == builder(NAMESPACE, IMAGE)


def test_the_processor_image_label_waits_only_for_the_image() -> None:
    built, resolved = _resolved(
        lambda ns, image: spark_submit.pod_template_manifest(
            "driver", SparkConfig(), pulumi.Output.from_input(PROCESSOR_IMAGE)
        )
    )
    assert built["spec"]["enableServiceLinks"] is False
    assert resolved["metadata"]["labels"]["app.kubernetes.io/version"] == "4.2.0"
