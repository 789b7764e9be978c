"""The objects `up` applies once the node is Ready: pure functions returning API objects."""

from __future__ import annotations

from typing import Any

from local_cluster.config_files import MIRRORED_REGISTRIES, corefile
from local_cluster.provisioner import PROVISIONER_NAME, STORAGE_CLASS
from local_cluster.settings import LocalClusterSettings

COREDNS_IMAGE_REPOSITORY = "registry.k8s.io/coredns/coredns"
IMAGE_POLICY = "local-cluster-images"


def allowed_registries(settings: LocalClusterSettings) -> list[str]:
    return [*MIRRORED_REGISTRIES, settings.registry_address]


def image_policy(settings: LocalClusterSettings) -> list[dict[str, Any]]:
    """Refuses at admission any pod naming an image of a registry without a local mirror.

    containerd 1.6 has no catch-all mirror: an image of any other registry would send it to that
    registry's real host. A name without a registry part ("debian:bookworm-slim") is docker.io's.
    """
    registries = ", ".join(f"'{name}'" for name in allowed_registries(settings))
    first = "i.split('/')[0]"
    is_registry = (
        f"(i.contains('/') && ({first}.contains('.') || {first}.contains(':')"
        f" || {first} == 'localhost'))"
    )
    allowed = f"{first} in [{registries}]"
    mirrored = ", ".join(allowed_registries(settings))
    containers = (
        "object.spec.containers.map(c, c.image)",
        "(has(object.spec.initContainers) ? object.spec.initContainers.map(c, c.image) : [])",
        "(has(object.spec.ephemeralContainers)"
        " ? object.spec.ephemeralContainers.map(c, c.image) : [])",
    )
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": IMAGE_POLICY},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["pods", "pods/ephemeralcontainers"],
                        }
                    ]
                },
                "variables": [
                    {
                        "name": "images",
                        "expression": " + ".join(containers),
                    }
                ],
                "validations": [
                    {
                        "expression": f"variables.images.all(i, !{is_registry} || {allowed})",
                        "messageExpression": "'local-cluster pulls images only from its local "
                        f"registry, mirroring {mirrored}; refused: ' + "
                        f"variables.images.filter(i, {is_registry} && !({allowed})).join(', ')",
                        "reason": "Forbidden",
                    }
                ],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": IMAGE_POLICY},
            "spec": {"policyName": IMAGE_POLICY, "validationActions": ["Deny"]},
        },
    ]


def storage(_: LocalClusterSettings) -> list[dict[str, Any]]:
    role = "finnhub:hostpath-provisioner"
    return [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": STORAGE_CLASS,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                "labels": {"app.kubernetes.io/part-of": "finnhub-pipeline"},
            },
            "provisioner": PROVISIONER_NAME,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": role},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["persistentvolumes"],
                    "verbs": ["get", "list", "watch", "create", "delete"],
                },
                {
                    "apiGroups": [""],
                    "resources": ["persistentvolumeclaims"],
                    "verbs": ["get", "list", "watch"],
                },
                {
                    "apiGroups": ["storage.k8s.io"],
                    "resources": ["storageclasses"],
                    "verbs": ["get", "list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": role},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": role}],
        },
    ]


def coredns(settings: LocalClusterSettings, image_tag: str) -> list[dict[str, Any]]:
    labels = {"k8s-app": "kube-dns"}
    namespace = "kube-system"
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "coredns", "namespace": namespace},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "system:coredns"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "system:coredns"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:coredns",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": namespace}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": namespace},
            "data": {"Corefile": corefile(settings)},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": "coredns",
                        "priorityClassName": "system-cluster-critical",
                        # Default: the kubelet's resolv.conf, which names only the cluster's DNS.
                        "dnsPolicy": "Default",
                        "containers": [
                            {
                                "name": "coredns",
                                "image": f"{COREDNS_IMAGE_REPOSITORY}:{image_tag}",
                                "imagePullPolicy": "IfNotPresent",
                                "args": ["-conf", "/etc/coredns/Corefile"],
                                "ports": [
                                    {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                    {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                ],
                                "livenessProbe": {
                                    "httpGet": {"path": "/health", "port": 8080},
                                    "periodSeconds": 10,
                                },
                                "readinessProbe": {
                                    "httpGet": {"path": "/ready", "port": 8181},
                                    "periodSeconds": 2,
                                },
                                "resources": {
                                    "requests": {"cpu": "50m", "memory": "40Mi"},
                                    "limits": {"memory": "170Mi"},
                                },
                                "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns"}],
                            }
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": namespace, "labels": labels},
            "spec": {
                "clusterIP": settings.dns_service_ip,
                "selector": labels,
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                ],
            },
        },
    ]


def as_list(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "items": objects}
