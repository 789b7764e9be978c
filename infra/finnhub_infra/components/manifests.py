"""Builders of the Kubernetes objects every component writes the same way.

Services, pod templates, containers, probes and the StatefulSet/Deployment/Job skeletons are
built here once, so each component states only what is its own (image, env, ports, timings) and
the house rules in `conventions` reach every pod the same way. All builders are pure: given plain
values they return plain manifests (what the tests check); given Pulumi Inputs (a namespace or an
image digest the engine resolves later) they place them in the manifest as they are, and Pulumi
resolves the nested Inputs of a resource's arguments. A value a builder computes from an Input
(a DNS name from the namespace, a label from the image) goes through `inputs.derive`.
`resource_from_manifest` turns a built manifest into a resource.
"""

from __future__ import annotations

from typing import Any, TypeVar

import pulumi

from finnhub_infra.components.conventions import (
    container_security_context,
    object_meta,
    pod_security_context,
    selector_labels,
)

Manifest = dict[str, Any]
R = TypeVar("R", bound=pulumi.CustomResource)

# Jobs retry a few times, then stay a day for `kubectl logs` before they are cleaned up.
JOB_BACKOFF_LIMIT = 4
JOB_TTL_SECONDS = 86400


def service(
    name: str,
    namespace: str,
    labels: dict[str, str],
    selects: str,
    ports: dict[str, int],
    *,
    headless: bool = False,
    publish_not_ready: bool = False,
) -> Manifest:
    """A Service over the pods of workload `selects`; each port targets the same port number."""
    spec: Manifest = {}
    if headless:
        spec["clusterIP"] = "None"
    if publish_not_ready:
        spec["publishNotReadyAddresses"] = True
    spec["selector"] = selector_labels(selects)
    spec["ports"] = [
        {"name": port_name, "port": port, "targetPort": port} for port_name, port in ports.items()
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(name, namespace, labels),
        "spec": spec,
    }


def config_map(name: str, namespace: str, labels: dict[str, str], data: dict[str, str]) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(name, namespace, labels),
        "data": data,
    }


def secret(
    name: str, namespace: str, labels: dict[str, str], string_data: dict[str, Any]
) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": object_meta(name, namespace, labels),
        "type": "Opaque",
        "stringData": string_data,
    }


def http_probe(
    path: str, port: int, initial_delay: int, period: int, failure_threshold: int | None = None
) -> Manifest:
    return _probe(
        {"httpGet": {"path": path, "port": port}}, initial_delay, period, failure_threshold
    )


def tcp_probe(
    port: int, initial_delay: int, period: int, failure_threshold: int | None = None
) -> Manifest:
    return _probe({"tcpSocket": {"port": port}}, initial_delay, period, failure_threshold)


def exec_probe(
    command: list[str], initial_delay: int, period: int, failure_threshold: int | None = None
) -> Manifest:
    return _probe({"exec": {"command": command}}, initial_delay, period, failure_threshold)


def _probe(
    action: Manifest, initial_delay: int, period: int, failure_threshold: int | None
) -> Manifest:
    probe = {**action, "initialDelaySeconds": initial_delay, "periodSeconds": period}
    if failure_threshold is not None:
        probe["failureThreshold"] = failure_threshold
    return probe


def container(
    name: str,
    image: str,
    resources: dict[str, Any],
    *,
    read_only_root: bool,
    command: list[str] | None = None,
    args: list[str] | None = None,
    env: list[dict[str, Any]] | None = None,
    ports: dict[str, int] | None = None,
    readiness: Manifest | None = None,
    liveness: Manifest | None = None,
    volume_mounts: list[dict[str, Any]] | None = None,
) -> Manifest:
    """A container under the house rules: pinned image used as is, limits, no privilege."""
    spec: Manifest = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent"}
    if command is not None:
        spec["command"] = command
    if args is not None:
        spec["args"] = args
    if env is not None:
        spec["env"] = env
    if ports is not None:
        spec["ports"] = [
            {"name": port_name, "containerPort": port} for port_name, port in ports.items()
        ]
    spec["resources"] = resources
    spec["securityContext"] = container_security_context(read_only_root=read_only_root)
    if readiness is not None:
        spec["readinessProbe"] = readiness
    if liveness is not None:
        spec["livenessProbe"] = liveness
    if volume_mounts is not None:
        spec["volumeMounts"] = volume_mounts
    return spec


def pod_template(
    labels: dict[str, str],
    containers: list[Manifest],
    *,
    uid: int,
    init_containers: list[Manifest] | None = None,
    gid: int | None = None,
    annotations: dict[str, str] | None = None,
    restart_policy: str | None = None,
    termination_grace_seconds: int | None = None,
    automount_service_account_token: bool | None = None,
    service_account: str | None = None,
    volumes: list[dict[str, Any]] | None = None,
) -> Manifest:
    """A non-root pod (see `pod_security_context`) without Service environment variables."""
    metadata: Manifest = {"labels": labels}
    if annotations is not None:
        metadata["annotations"] = annotations
    spec: Manifest = {}
    if restart_policy is not None:
        spec["restartPolicy"] = restart_policy
    spec["securityContext"] = pod_security_context(uid, gid)
    # Pods find each other by DNS name; the `<SERVICE>_*` variables service links inject could
    # collide with images configured by environment (a Service `kafka` gives KAFKA_PORT).
    spec["enableServiceLinks"] = False
    if termination_grace_seconds is not None:
        spec["terminationGracePeriodSeconds"] = termination_grace_seconds
    if service_account is not None:
        spec["serviceAccountName"] = service_account
    if automount_service_account_token is not None:
        spec["automountServiceAccountToken"] = automount_service_account_token
    if init_containers is not None:
        spec["initContainers"] = init_containers
    spec["containers"] = containers
    if volumes is not None:
        spec["volumes"] = volumes
    return {"metadata": metadata, "spec": spec}


def data_volume_claim(labels: dict[str, str], storage_class: str, size: str) -> Manifest:
    """The `data` volume claim template of a StatefulSet: one ReadWriteOnce volume a pod."""
    return {
        "metadata": {"name": "data", "labels": labels},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": storage_class,
            "resources": {"requests": {"storage": size}},
        },
    }


def stateful_set(
    name: str,
    namespace: str,
    labels: dict[str, str],
    *,
    service_name: str,
    replicas: int,
    pod_management_policy: str,
    template: Manifest,
    volume_claim: Manifest,
    delete_claims: bool = False,
) -> Manifest:
    """`delete_claims`: the data volumes go with the StatefulSet when it is deleted (as
    Strimzi's `deleteClaim`). Off, they outlive it: a replaced StatefulSet (a `+-` in the plan)
    finds its data again. Scaling down keeps them either way."""
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": object_meta(name, namespace, labels),
        "spec": {
            "serviceName": service_name,
            "replicas": replicas,
            "podManagementPolicy": pod_management_policy,
            "selector": {"matchLabels": selector_labels(name)},
            "template": template,
            "volumeClaimTemplates": [volume_claim],
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Delete" if delete_claims else "Retain",
                "whenScaled": "Retain",
            },
        },
    }


def deployment(
    name: str,
    namespace: str,
    labels: dict[str, str],
    *,
    replicas: int,
    template: Manifest,
    strategy: str | None = None,
) -> Manifest:
    spec: Manifest = {"replicas": replicas}
    if strategy is not None:
        spec["strategy"] = {"type": strategy}
    spec["selector"] = {"matchLabels": selector_labels(name)}
    spec["template"] = template
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(name, namespace, labels),
        "spec": spec,
    }


def job(
    name: str, namespace: str, labels: dict[str, str], *, deadline_seconds: int, template: Manifest
) -> Manifest:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": object_meta(name, namespace, labels),
        "spec": {
            "backoffLimit": JOB_BACKOFF_LIMIT,
            "activeDeadlineSeconds": deadline_seconds,
            "ttlSecondsAfterFinished": JOB_TTL_SECONDS,
            "template": template,
        },
    }


def resource_from_manifest(
    resource: type[R],
    name: str,
    manifest: Manifest,
    opts: pulumi.ResourceOptions,
    **fields: str,
) -> R:
    """A Kubernetes resource whose metadata comes from `manifest`, and each other argument
    (keyword) from the manifest key it names: `spec="spec"`, `data="data"`, `role_ref="roleRef"`."""
    inputs = {arg: manifest[key] for arg, key in fields.items()}
    return resource(name, metadata=manifest["metadata"], opts=opts, **inputs)
