"""What every workload shares: recommended labels and the restricted security context.

Kept in one place so the policy pack and the tests check one definition, and a reader sees the
house rules for pods without opening every component.
"""

from __future__ import annotations

from typing import Any

import pulumi

from finnhub_infra.components.inputs import derive

PART_OF = "finnhub-pipeline"
INSTANCE = "finnhub"


def recommended_labels(name: str, component: str, version: pulumi.Input[str]) -> dict[str, Any]:
    """The Kubernetes recommended `app.kubernetes.io/*` label set; `version` may be an image
    reference the engine resolves later (a digest)."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": INSTANCE,
        "app.kubernetes.io/version": derive(version, label_safe_version),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    }


def selector_labels(name: str) -> dict[str, str]:
    """The stable subset used in selectors (versions change, selectors must not)."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": INSTANCE}


def label_safe_version(version: str) -> str:
    """An image tag as a label value: labels allow [A-Za-z0-9._-] up to 63 characters."""
    tag = version.rsplit(":", 1)[-1] if ":" in version else version
    cleaned = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in tag)
    return cleaned[:63].strip("-._") or "unknown"


def image_tag(image: str) -> str:
    """The tag of a pinned image reference such as `cassandra:5.0.5`."""
    return image.rsplit(":", 1)[-1]


def pod_security_context(uid: int, gid: int | None = None) -> dict[str, Any]:
    """Non-root pod with the runtime's default seccomp profile; volumes group-owned by `gid`."""
    group = uid if gid is None else gid
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": group,
        "fsGroup": group,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context(read_only_root: bool = True) -> dict[str, Any]:
    """No privilege escalation, no capabilities. JVM services that write under their install
    directory (Kafka, Cassandra) pass `read_only_root=False`; their data sits on volumes."""
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": read_only_root,
        "capabilities": {"drop": ["ALL"]},
    }


def object_meta(name: str, namespace: pulumi.Input[str], labels: dict[str, str]) -> dict[str, Any]:
    """Metadata with an explicit name: other workloads address these objects by DNS name."""
    return {"name": name, "namespace": namespace, "labels": labels}


def secret_env(name: str, secret_name: str, key: str) -> dict[str, Any]:
    """An env var whose value comes from a Secret, never from the manifest itself."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}
