"""The policy pack: each rule catches its violation, and the real program passes every rule."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from infra_harness import REPO_ROOT, Rendered, unwrap_secrets


def load_policies() -> ModuleType:
    path = REPO_ROOT / "policy" / "finnhub_policies.py"
    spec = importlib.util.spec_from_file_location("finnhub_policies", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["finnhub_policies"] = module
    spec.loader.exec_module(module)
    return module


policies = load_policies()
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
LABELS = {key: "x" for key in policies.RECOMMENDED_LABELS}


def good_deployment() -> dict[str, Any]:
    container = {
        "name": "app",
        "image": "example/app:1.2.3",
        "imagePullPolicy": "IfNotPresent",
        "resources": {
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"cpu": "1", "memory": "64Mi"},
        },
        "livenessProbe": {"tcpSocket": {"port": 80}},
        "readinessProbe": {"tcpSocket": {"port": 80}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
    }
    return {
        "metadata": {"name": "app", "namespace": "ns", "labels": dict(LABELS)},
        "spec": {
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                    "containers": [container],
                },
            }
        },
    }


def violations(props: dict[str, Any], resource_type: str = DEPLOYMENT) -> list[str]:
    """Every policy's validate function called as the engine would, violations collected."""
    found: list[str] = []
    args = SimpleNamespace(resource_type=resource_type, props=props)
    for policy in policies.POLICIES:
        policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def container_of(props: dict[str, Any]) -> dict[str, Any]:
    return props["spec"]["template"]["spec"]["containers"][0]


def test_a_compliant_deployment_passes_every_policy() -> None:
    assert violations(good_deployment()) == []


@pytest.mark.parametrize(
    "break_it,expected",
    [
        (lambda c: c["resources"].pop("limits"), "no limits"),
        (lambda c: c.pop("livenessProbe"), "no livenessProbe"),
        (lambda c: c["securityContext"].update(allowPrivilegeEscalation=True), "Escalation"),
        (lambda c: c["securityContext"].update(privileged=True), "privileged"),
        (lambda c: c["securityContext"].pop("capabilities"), "capabilities"),
        (lambda c: c.update(image="example/app"), "not pinned"),
        (lambda c: c.update(image="example/app:latest"), "not pinned"),
        (lambda c: c.update(imagePullPolicy="Never"), "imagePullPolicy Never"),
        (lambda c: c["env"].append({"name": "FINNHUB_TOKEN", "value": "abc"}), "literal value"),
        (lambda c: c["ports"].append({"containerPort": 1, "hostPort": 1}), "hostPort"),
    ],
)
def test_each_container_rule_reports_its_violation(break_it: Any, expected: str) -> None:
    props = good_deployment()
    container_of(props).setdefault("ports", [])
    break_it(container_of(props))
    assert any(expected in message for message in violations(props)), violations(props)


def test_root_pods_are_reported() -> None:
    props = good_deployment()
    props["spec"]["template"]["spec"]["securityContext"] = {"runAsUser": 0}
    found = violations(props)
    assert any("runAsNonRoot" in m for m in found) and any("uid 0" in m for m in found)


def test_host_path_volumes_are_reported() -> None:
    props = good_deployment()
    props["spec"]["template"]["spec"]["volumes"] = [{"name": "data", "hostPath": {"path": "/"}}]
    assert any("hostPath" in m for m in violations(props))


def test_missing_recommended_labels_are_reported() -> None:
    props = good_deployment()
    del props["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"]
    assert any("pod template misses labels" in m for m in violations(props))


def test_secret_named_configmap_keys_are_reported() -> None:
    props = {"metadata": {"name": "cm"}, "data": {"admin-password": "x"}}
    assert violations(props, "kubernetes:core/v1:ConfigMap")


def test_unpinned_helm_charts_are_reported() -> None:
    props = {"chart": "spark-operator"}
    assert violations(props, "kubernetes:helm.sh/v3:Release") == [
        "spark-operator: Helm chart version not pinned"
    ]


def test_spark_application_without_limits_or_as_root_is_reported(minikube: Rendered) -> None:
    app = copy.deepcopy(minikube.manifest("SparkApplication", "finnhub-processor"))
    del app["spec"]["executor"]["coreLimit"]
    app["spec"]["driver"]["podSecurityContext"]["runAsNonRoot"] = False
    found = violations(app, policies.SPARK_APPLICATION)
    assert any("executor: no coreLimit" in m for m in found)
    assert any("driver: runAsNonRoot" in m for m in found)


SUBMITTER = "finnhub-processor-submitter"
TEMPLATES = "finnhub-processor-pod-templates"


def test_a_spark_submission_without_executor_limits_is_reported(minikube_submit: Rendered) -> None:
    deployment = copy.deepcopy(minikube_submit.manifest("Deployment", SUBMITTER))
    args = container_of(deployment)["args"]
    index = next(i for i, a in enumerate(args) if a.startswith("spark.kubernetes.executor.limit"))
    del args[index - 1 : index + 1]
    found = violations(deployment)
    assert any("spark-submit sets no spark.kubernetes.executor.limit.cores" in m for m in found)


def test_a_spark_pod_template_running_as_root_is_reported(minikube_submit: Rendered) -> None:
    config_map = copy.deepcopy(minikube_submit.manifest("ConfigMap", TEMPLATES))
    pod = json.loads(config_map["data"]["driver.json"])
    pod["spec"]["securityContext"]["runAsNonRoot"] = False
    config_map["data"]["driver.json"] = json.dumps(pod)
    found = violations(config_map, "kubernetes:core/v1:ConfigMap")
    assert any("driver.json/spark-kubernetes-driver: runAsNonRoot" in m for m in found)


@pytest.mark.parametrize("resource_type", [policies.HELM_RELEASE, policies.SPARK_APPLICATION])
def test_a_resource_the_run_leaves_out_is_not_judged(resource_type: str) -> None:
    # The offline preview excludes the spark-operator release and the SparkApplication; the engine
    # still sends both to the pack, with no inputs, and they failed it as unpinned and unsized.
    assert violations({}, resource_type) == []


def test_non_kubernetes_resources_are_ignored() -> None:
    assert violations({"anything": 1}, "docker:index/image:Image") == []


def test_the_program_passes_every_resource_policy(every_stack: Rendered) -> None:
    for resource in every_stack.resources:
        props = unwrap_secrets(resource.inputs)
        assert violations(props, resource.typ) == [], resource.name


def test_the_program_passes_the_stack_policy(every_stack: Rendered) -> None:
    found: list[str] = []
    args = SimpleNamespace(
        resources=[
            SimpleNamespace(resource_type=r.typ, props=unwrap_secrets(r.inputs))
            for r in every_stack.resources
        ]
    )
    policies.NAMESPACE_DEFAULT_DENY.validate(args, lambda m, urn=None: found.append(m))
    assert found == []


def test_a_namespace_without_default_deny_is_reported(minikube: Rendered) -> None:
    resources = [
        (r.typ, unwrap_secrets(r.inputs))
        for r in minikube.resources
        if r.name != "network-default-deny"
    ]
    assert policies.namespaces_without_default_deny(resources) == ["finnhub"]
