"""House rules for every workload both stacks create: limits, probes, non-root, labels, secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_harness import Rendered, is_secret

RECOMMENDED_LABELS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
}
LONG_RUNNING = ("Deployment", "StatefulSet")
SECRET_VALUES = (
    "test-finnhub-token",
    "generated-cassandra-admin-password",
    "generated-cassandra-app-password",
    "generated-cassandra-grafana-password",
    "generated-grafana-admin-password",
)


def pod_specs(stack: Rendered) -> list[tuple[str, dict[str, Any]]]:
    specs = []
    for m in stack.manifests():
        if m["kind"] in ("Deployment", "StatefulSet", "Job"):
            specs.append((f"{m['kind']}/{m['metadata']['name']}", m))
    return specs


def containers(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    spec = manifest["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def test_every_container_has_requests_and_limits(every_stack: Rendered) -> None:
    for name, m in pod_specs(every_stack):
        for c in containers(m):
            resources = c["resources"]
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[part]), f"{name}: {part}"


def test_memory_limit_equals_request_for_jvm_and_python_workloads(every_stack: Rendered) -> None:
    # A heap sized to the request must not be OOM-killed below the limit nor overcommit nodes.
    for name, m in pod_specs(every_stack):
        for c in containers(m):
            r = c["resources"]
            if m["kind"] == "StatefulSet":
                assert r["requests"]["memory"] == r["limits"]["memory"], name


def test_long_running_containers_have_liveness_and_readiness_probes(every_stack: Rendered) -> None:
    for name, m in pod_specs(every_stack):
        if m["kind"] not in LONG_RUNNING:
            continue
        # Init containers run to completion; Kubernetes rejects probes on them.
        for c in m["spec"]["template"]["spec"]["containers"]:
            assert "livenessProbe" in c, name
            assert "readinessProbe" in c, name


def test_every_pod_runs_as_non_root_with_runtime_default_seccomp(every_stack: Rendered) -> None:
    for name, m in pod_specs(every_stack):
        pod = m["spec"]["template"]["spec"]["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] > 0, name
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", name


def test_every_container_drops_all_capabilities_and_escalation(every_stack: Rendered) -> None:
    for name, m in pod_specs(every_stack):
        for c in containers(m):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["privileged"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name


def test_spark_driver_and_executors_run_non_root_with_limits(any_stack: Rendered) -> None:
    spec = any_stack.manifest("SparkApplication", "finnhub-processor")["spec"]
    for role in ("driver", "executor"):
        part = spec[role]
        assert part["podSecurityContext"]["runAsNonRoot"] is True
        assert part["securityContext"]["allowPrivilegeEscalation"] is False
        assert part["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert part["coreLimit"] and part["memory"] and part["cores"] >= 1


def test_every_image_is_pinned_to_a_tag_or_digest(every_stack: Rendered) -> None:
    images = [c["image"] for _, m in pod_specs(every_stack) for c in containers(m)]
    images += [
        m["spec"]["image"] for m in every_stack.manifests() if m["kind"] == "SparkApplication"
    ]
    for image in images:
        assert "@sha256:" in image or (":" in image.rsplit("/", 1)[-1]), image
        assert not image.endswith(":latest"), image


def test_every_object_carries_the_recommended_labels(every_stack: Rendered) -> None:
    for m in every_stack.manifests():
        labels = m["metadata"].get("labels", {})
        assert set(labels) >= RECOMMENDED_LABELS, f"{m['kind']}/{m['metadata']['name']}"
        assert all(len(v) <= 63 for v in labels.values())


def test_pod_templates_carry_the_recommended_labels(every_stack: Rendered) -> None:
    for name, m in pod_specs(every_stack):
        labels = m["spec"]["template"]["metadata"]["labels"]
        assert set(labels) >= RECOMMENDED_LABELS, name


def test_no_secret_value_appears_outside_secrets(every_stack: Rendered) -> None:
    for m in every_stack.manifests():
        if m["kind"] == "Secret":
            continue
        text = json.dumps(m)
        for value in SECRET_VALUES:
            assert value not in text, f"{m['kind']}/{m['metadata']['name']} holds a secret"


def test_no_env_var_carries_a_literal_credential(every_stack: Rendered) -> None:
    for name, m in pod_specs(every_stack):
        for c in containers(m):
            for env in c.get("env", []):
                if any(w in env["name"] for w in ("PASSWORD", "TOKEN", "CLUSTER_ID")):
                    assert "valueFrom" in env and "value" not in env, f"{name}: {env['name']}"


def test_secret_values_are_pulumi_secrets_in_the_state(every_stack: Rendered) -> None:
    for r in every_stack.of_type("kubernetes:core/v1:Secret"):
        assert is_secret(r.inputs["stringData"]), r.name


def test_grafana_admin_password_is_generated_when_not_configured(minikube: Rendered) -> None:
    secret = minikube.manifest("Secret", "grafana-admin")
    assert secret["stringData"]["admin-password"] == "generated-grafana-admin-password"


def test_no_host_access_anywhere(every_stack: Rendered) -> None:
    for name, m in pod_specs(every_stack):
        spec = m["spec"]["template"]["spec"]
        assert not spec.get("hostNetwork") and not spec.get("hostPID"), name
        for volume in spec.get("volumes", []):
            assert "hostPath" not in volume, name
        for c in containers(m):
            assert all("hostPort" not in p for p in c.get("ports", [])), name


def test_image_pull_policy_never_is_not_used(every_stack: Rendered) -> None:
    for name, m in pod_specs(every_stack):
        for c in containers(m):
            assert c["imagePullPolicy"] == "IfNotPresent", name


@pytest.mark.parametrize("workload", ["kafka", "cassandra"])
def test_throwaway_stacks_delete_their_data_volumes_with_the_stack_and_eks_keeps_them(
    minikube: Rendered, local: Rendered, eks: Rendered, workload: str
) -> None:
    # Found on the real cluster: `pulumi destroy` left data-kafka-0 and data-cassandra-0 behind.
    def when_deleted(stack: Rendered) -> str:
        spec = stack.manifest("StatefulSet", workload)["spec"]
        assert spec["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Retain"
        return spec["persistentVolumeClaimRetentionPolicy"]["whenDeleted"]

    assert when_deleted(minikube) == when_deleted(local) == "Delete"
    assert when_deleted(eks) == "Retain"
