"""What the processor needs on Kubernetes whichever runner starts its driver and executors.

Both runners (`spark_operator.py`: a SparkApplication the spark-operator submits;
`spark_submit.py`: Spark's own Kubernetes scheduler driven by a submitter Deployment) run the
same image with the same environment, driver service account, checkpoint claim and pod
security. It is written here once, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import pulumi
import pulumi_kubernetes as k8s
from finnhub_contracts.versions import SPARK_VERSION

from finnhub_infra.components import manifests
from finnhub_infra.components.cassandra import APP_PASSWORD_KEY, APP_USER_KEY
from finnhub_infra.components.conventions import object_meta, recommended_labels, secret_env
from finnhub_infra.components.inputs import derive
from finnhub_infra.config import SparkConfig

U = TypeVar("U")

NAME = "finnhub-processor"
COMPONENT = "stream-processor"
DRIVER_SERVICE_ACCOUNT = "spark-driver"
CHECKPOINT_CLAIM = "processor-checkpoints"
CHECKPOINT_VOLUME = "checkpoints"
CHECKPOINT_DIR = "/checkpoints"
# Spark writes shuffle and scratch files only here, so the rest of the image stays untouched.
SCRATCH_VOLUME = "spark-local"
SCRATCH_DIR = "/tmp"
SCRATCH_SIZE = "2Gi"
# The processor image's entry file (apps/processor/Dockerfile writes it).
MAIN_APPLICATION_FILE = "local:///opt/finnhub/processor_main.py"
# The processor image runs as Spark's conventional uid.
SPARK_UID = 185
K8S_MASTER = "k8s://https://kubernetes.default.svc:443"


@dataclass(frozen=True)
class ProcessorWorkloadArgs:
    """The wiring both runners take from the other components."""

    namespace: pulumi.Input[str]
    config: SparkConfig
    storage_class: str
    checkpoint_access_mode: str
    processor_image: pulumi.Input[str]
    kafka_bootstrap_servers: pulumi.Input[str]
    kafka_topic: str
    kafka_dlq_topic: str
    cassandra_hosts: pulumi.Input[str]
    cassandra_port: int
    cassandra_keyspace: str
    cassandra_credentials_secret: str


@dataclass(frozen=True)
class ProcessorWiring:
    """What the processor's pods need from the other components: plain values, or Inputs the
    engine resolves later (the image digest, the Services' DNS names)."""

    image: pulumi.Input[str]
    kafka_bootstrap_servers: pulumi.Input[str]
    kafka_topic: str
    kafka_dlq_topic: str
    cassandra_hosts: pulumi.Input[str]
    cassandra_port: int
    cassandra_keyspace: str
    cassandra_credentials_secret: str
    trades_trigger: str = "micro-batch"


def wiring_of(args: ProcessorWorkloadArgs) -> ProcessorWiring:
    """The wiring in the runner's args, its Inputs as they are."""
    return ProcessorWiring(
        image=args.processor_image,
        kafka_bootstrap_servers=args.kafka_bootstrap_servers,
        kafka_topic=args.kafka_topic,
        kafka_dlq_topic=args.kafka_dlq_topic,
        cassandra_hosts=args.cassandra_hosts,
        cassandra_port=args.cassandra_port,
        cassandra_keyspace=args.cassandra_keyspace,
        cassandra_credentials_secret=args.cassandra_credentials_secret,
        trades_trigger=args.config.trades_trigger,
    )


def derive_from_wiring(
    wiring: ProcessorWiring, compute: Callable[[ProcessorWiring], U]
) -> U | pulumi.Output[U]:
    """`compute(wiring)` with every Input of the wiring known: at once where all are plain.
    For what is computed from the wiring as a whole (spark-submit's arguments)."""
    values = {field.name: getattr(wiring, field.name) for field in fields(wiring)}
    return derive(values, lambda known: compute(ProcessorWiring(**known)))


def processor_env(wiring: ProcessorWiring) -> list[dict[str, Any]]:
    """The processor's environment (names: docs/architecture.md); credentials via Secrets."""
    return [
        {"name": "KAFKA_BOOTSTRAP_SERVERS", "value": wiring.kafka_bootstrap_servers},
        {"name": "KAFKA_TOPIC", "value": wiring.kafka_topic},
        {"name": "KAFKA_DLQ_TOPIC", "value": wiring.kafka_dlq_topic},
        {"name": "CASSANDRA_HOSTS", "value": wiring.cassandra_hosts},
        {"name": "CASSANDRA_PORT", "value": str(wiring.cassandra_port)},
        {"name": "CASSANDRA_KEYSPACE", "value": wiring.cassandra_keyspace},
        secret_env("CASSANDRA_USERNAME", wiring.cassandra_credentials_secret, APP_USER_KEY),
        secret_env("CASSANDRA_PASSWORD", wiring.cassandra_credentials_secret, APP_PASSWORD_KEY),
        {"name": "CHECKPOINT_DIR", "value": CHECKPOINT_DIR},
        {"name": "SPARK_MASTER", "value": K8S_MASTER},
        {"name": "TRADES_TRIGGER", "value": wiring.trades_trigger},
    ]


def processor_labels(cfg: SparkConfig, image: pulumi.Input[str]) -> dict[str, Any]:
    """Labels of the driver and executor pods: a digest reference carries no version, so
    those are labelled with the Spark version instead."""
    version = derive(image, lambda i: i.rsplit(":", 1)[-1] if "@" not in i else SPARK_VERSION)
    return recommended_labels(NAME, COMPONENT, version)


def support_object_meta(name: str, namespace: pulumi.Input[str]) -> dict[str, Any]:
    """Metadata of the objects the processor runs with (account, RBAC, checkpoint claim)."""
    return object_meta(name, namespace, recommended_labels(NAME, COMPONENT, "v1"))


def service_account_manifest(name: str, namespace: pulumi.Input[str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": support_object_meta(name, namespace),
        "automountServiceAccountToken": True,
    }


def role_binding_manifest(name: str, namespace: pulumi.Input[str]) -> dict[str, Any]:
    """Binds the Role `name` to the service account `name`."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": support_object_meta(name, namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    }


def driver_service_account_manifest(namespace: pulumi.Input[str]) -> dict[str, Any]:
    return service_account_manifest(DRIVER_SERVICE_ACCOUNT, namespace)


def driver_role_manifest(namespace: pulumi.Input[str]) -> dict[str, Any]:
    """What a Spark driver needs to run executors: pods, their services, configmaps and PVCs."""
    verbs = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": support_object_meta(DRIVER_SERVICE_ACCOUNT, namespace),
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["pods", "services", "configmaps", "persistentvolumeclaims"],
                "verbs": verbs,
            }
        ],
    }


def driver_role_binding_manifest(namespace: pulumi.Input[str]) -> dict[str, Any]:
    return role_binding_manifest(DRIVER_SERVICE_ACCOUNT, namespace)


def checkpoint_claim_manifest(
    namespace: pulumi.Input[str], cfg: SparkConfig, storage_class: str, access_mode: str
) -> dict[str, Any]:
    """Driver and executors both write streaming state, so on a multi-node cluster the claim
    must be ReadWriteMany (EFS on eks); single-node minikube gets by with ReadWriteOnce."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": support_object_meta(CHECKPOINT_CLAIM, namespace),
        "spec": {
            "accessModes": [access_mode],
            "storageClassName": storage_class,
            "resources": {"requests": {"storage": cfg.checkpoint_size}},
        },
    }


def account_with_role(
    name: str,
    ns: pulumi.Input[str],
    account: Any,
    role: Any,
    binding: Any,
    parent: pulumi.Resource,
) -> pulumi.Resource:
    """A ServiceAccount, its Role and their RoleBinding from three `namespace -> manifest`
    builders; returns the binding, which is what a workload using the account waits for."""
    child = pulumi.ResourceOptions(parent=parent)
    created = k8s.core.v1.ServiceAccount(
        f"{name}-sa",
        metadata=account(ns)["metadata"],
        automount_service_account_token=True,
        opts=child,
    )
    created_role = manifests.resource_from_manifest(
        k8s.rbac.v1.Role, f"{name}-role", role(ns), child, rules="rules"
    )
    return manifests.resource_from_manifest(
        k8s.rbac.v1.RoleBinding,
        f"{name}-binding",
        binding(ns),
        pulumi.ResourceOptions(parent=parent, depends_on=[created, created_role]),
        role_ref="roleRef",
        subjects="subjects",
    )


def driver_support(
    name: str, args: ProcessorWorkloadArgs, parent: pulumi.Resource
) -> list[pulumi.Resource]:
    """The driver's account and RBAC and the checkpoint claim, children of `parent`; the
    resources the processor's pods must wait for."""
    binding = account_with_role(
        f"{name}-driver",
        args.namespace,
        driver_service_account_manifest,
        driver_role_manifest,
        driver_role_binding_manifest,
        parent,
    )
    claim = manifests.resource_from_manifest(
        k8s.core.v1.PersistentVolumeClaim,
        f"{name}-checkpoints",
        checkpoint_claim_manifest(
            args.namespace, args.config, args.storage_class, args.checkpoint_access_mode
        ),
        pulumi.ResourceOptions(parent=parent),
        spec="spec",
    )
    return [binding, claim]
