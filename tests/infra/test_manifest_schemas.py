"""Every rendered manifest against the Kubernetes OpenAPI schema; the SparkApplication against
the spark-operator CRD's shape. Offline: kubernetes-validate ships the schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from infra_harness import Rendered

# The Kubernetes minor the stacks target (minikube's default and EKS's standard support).
KUBERNETES_VERSION = "1.34.0"
SPARK_SCHEMA = Path(__file__).parent / "fixtures" / "sparkapplication-v1beta2.schema.json"


def validate(manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_every_core_manifest_matches_the_kubernetes_schema(every_stack: Rendered) -> None:
    checked = 0
    for manifest in every_stack.manifests():
        if manifest["kind"] == "SparkApplication":
            continue
        try:
            validate(manifest)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{manifest['kind']}/{manifest['metadata']['name']}: {error}")
        checked += 1
    assert checked > 30


def test_spark_application_matches_the_operator_crd_shape(any_stack: Rendered) -> None:
    schema = json.loads(SPARK_SCHEMA.read_text())
    app = any_stack.manifest("SparkApplication", "finnhub-processor")
    jsonschema.validate(app, schema)


def test_spark_application_pod_parts_are_valid_kubernetes_types(any_stack: Rendered) -> None:
    # The CRD embeds core types (EnvVar, Volume, security contexts): check them as a Pod would.
    spec = any_stack.manifest("SparkApplication", "finnhub-processor")["spec"]
    for role in ("driver", "executor"):
        part = spec[role]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"processor-{role}", "labels": part["labels"]},
            "spec": {
                "securityContext": part["podSecurityContext"],
                "volumes": spec["volumes"],
                "containers": [
                    {
                        "name": "spark",
                        "image": spec["image"],
                        "env": part["env"],
                        "volumeMounts": part["volumeMounts"],
                        "securityContext": part["securityContext"],
                    }
                ],
            },
        }
        validate(pod)


def test_spark_submit_pod_templates_are_valid_pods(minikube_submit: Rendered) -> None:
    # Spark starts the driver and executor pods from these; it adds image and resources.
    data = minikube_submit.manifest("ConfigMap", "finnhub-processor-pod-templates")["data"]
    for name, text in data.items():
        pod = json.loads(text)
        pod["metadata"]["name"] = name.removesuffix(".json")
        for c in pod["spec"]["containers"]:
            c["image"] = "registry.test/finnhub-processor:0.1.0"
        validate(pod)


def test_the_crd_shape_rejects_an_unknown_field() -> None:
    schema = json.loads(SPARK_SCHEMA.read_text())
    app = {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": {"name": "x"},
        "spec": {
            "type": "Python",
            "mode": "cluster",
            "mainApplicationFile": "local:///x.py",
            "sparkVersion": "4.2.0",
            "driver": {"cores": 1},
            "executor": {"instances": 1, "memoryLimits": "1g"},
        },
    }
    with pytest.raises(jsonschema.ValidationError, match="memoryLimits"):
        jsonschema.validate(app, schema)


def test_the_kubernetes_schema_rejects_a_misspelled_field() -> None:
    bad = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 1, "targetPortt": 1}]},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(bad)
