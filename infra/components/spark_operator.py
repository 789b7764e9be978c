"""SparkOperatorStack: the Kubeflow spark-operator and the SparkApplication running the processor.

The operator lives in its own namespace (its webhook must be reachable by the API server, which
the pipeline namespace's default-deny policy would block) and watches only the pipeline
namespace. The driver's service account and its RBAC are created here, explicitly, instead of
by the chart, so a reader sees exactly what the driver may do: manage its executor pods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from finnhub_infra.components import manifests
from finnhub_infra.components.cassandra import APP_PASSWORD_KEY, APP_USER_KEY
from finnhub_infra.components.conventions import (
    container_security_context,
    object_meta,
    pod_security_context,
    recommended_labels,
    secret_env,
)
from finnhub_infra.config import SparkConfig

NAME = "finnhub-processor"
DRIVER_SERVICE_ACCOUNT = "spark-driver"
CHECKPOINT_CLAIM = "processor-checkpoints"
CHECKPOINT_DIR = "/checkpoints"
CHART_NAME = "spark-operator"
CHART_REPO = "https://kubeflow.github.io/spark-operator"
# The processor image's entry file (apps/processor/Dockerfile writes it).
MAIN_APPLICATION_FILE = "local:///opt/finnhub/processor_main.py"
# The processor image runs as Spark's conventional uid.
SPARK_UID = 185
K8S_MASTER = "k8s://https://kubernetes.default.svc:443"


@dataclass(frozen=True)
class SparkOperatorStackArgs:
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
    """Plain values the SparkApplication needs from the other components."""

    image: str
    kafka_bootstrap_servers: str
    kafka_topic: str
    kafka_dlq_topic: str
    cassandra_hosts: str
    cassandra_port: int
    cassandra_keyspace: str
    cassandra_credentials_secret: str


def operator_chart_values(job_namespace: str, cfg: SparkConfig) -> dict[str, Any]:
    """Helm values: watch only the pipeline namespace, no chart-made driver account, limits set."""
    resources = {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }
    return {
        "spark": {
            "jobNamespaces": [job_namespace],
            "serviceAccount": {"create": False, "name": DRIVER_SERVICE_ACCOUNT},
            "rbac": {"create": False},
        },
        "controller": {"replicas": 1, "resources": resources},
        # The webhook applies driver/executor env, volumes and security contexts.
        "webhook": {"enable": True, "resources": resources},
        "prometheus": {"metrics": {"enable": True}},
    }


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
        # The image carries the Kafka and Avro connectors only: write with cassandra-driver.
        {"name": "CASSANDRA_WRITER", "value": "driver"},
        {"name": "CHECKPOINT_DIR", "value": CHECKPOINT_DIR},
        {"name": "SPARK_MASTER", "value": K8S_MASTER},
    ]


def spark_application_manifest(
    namespace: str, cfg: SparkConfig, wiring: ProcessorWiring
) -> dict[str, Any]:
    version = wiring.image.rsplit(":", 1)[-1] if "@" not in wiring.image else cfg.spark_version
    labels = recommended_labels(NAME, "stream-processor", version)
    env = processor_env(wiring)
    mounts = [
        {"name": "checkpoints", "mountPath": CHECKPOINT_DIR},
        {"name": "spark-local", "mountPath": "/tmp"},
    ]
    pod = {
        "labels": labels,
        "env": env,
        "volumeMounts": mounts,
        "podSecurityContext": pod_security_context(SPARK_UID),
        # Spark writes shuffle and scratch files only to the /tmp volume.
        "securityContext": container_security_context(read_only_root=False),
    }
    return {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": object_meta(NAME, namespace, labels),
        "spec": {
            "type": "Python",
            "pythonVersion": "3",
            "mode": "cluster",
            "image": wiring.image,
            "imagePullPolicy": "IfNotPresent",
            "mainApplicationFile": MAIN_APPLICATION_FILE,
            "sparkVersion": cfg.spark_version,
            # A stream never finishes on purpose: restart it whatever made it stop.
            "restartPolicy": {
                "type": "Always",
                "onFailureRetryInterval": 10,
                "onSubmissionFailureRetryInterval": 30,
            },
            "sparkConf": {
                "spark.kubernetes.executor.deleteOnTermination": "true",
                "spark.sql.streaming.stopGracefullyOnShutdown": "true",
                "spark.ui.enabled": "false",
            },
            "volumes": [
                {"name": "checkpoints", "persistentVolumeClaim": {"claimName": CHECKPOINT_CLAIM}},
                {"name": "spark-local", "emptyDir": {"sizeLimit": "2Gi"}},
            ],
            "driver": {
                **pod,
                "cores": cfg.driver_cores,
                "coreLimit": cfg.driver_core_limit,
                "memory": cfg.driver_memory,
                "serviceAccount": DRIVER_SERVICE_ACCOUNT,
            },
            "executor": {
                **pod,
                "instances": cfg.executor_instances,
                "cores": cfg.executor_cores,
                "coreLimit": cfg.executor_core_limit,
                "memory": cfg.executor_memory,
            },
        },
    }


def support_object_meta(name: str, namespace: str) -> dict[str, Any]:
    """Metadata of the objects the processor runs with (account, RBAC, checkpoint claim)."""
    return object_meta(name, namespace, recommended_labels(NAME, "stream-processor", "v1"))


def driver_service_account_manifest(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": support_object_meta(DRIVER_SERVICE_ACCOUNT, namespace),
        "automountServiceAccountToken": True,
    }


def driver_role_manifest(namespace: str) -> dict[str, Any]:
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


def driver_role_binding_manifest(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": support_object_meta(DRIVER_SERVICE_ACCOUNT, namespace),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": DRIVER_SERVICE_ACCOUNT,
        },
        "subjects": [
            {"kind": "ServiceAccount", "name": DRIVER_SERVICE_ACCOUNT, "namespace": namespace}
        ],
    }


def checkpoint_claim_manifest(
    namespace: str, cfg: SparkConfig, storage_class: str, access_mode: str
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


class SparkOperatorStack(pulumi.ComponentResource):
    """The spark-operator Helm release and the processor's SparkApplication."""

    operator_namespace: pulumi.Output[str]
    application_name: str
    driver_service_account: str

    def __init__(
        self, name: str, args: SparkOperatorStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("finnhub:infra:SparkOperatorStack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = pulumi.Output.from_input(args.namespace)
        cfg = args.config

        operator_ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": cfg.operator_namespace,
                "labels": {
                    **recommended_labels(CHART_NAME, "operator", cfg.operator_chart_version),
                    # The chart's pods meet the restricted Pod Security Standard.
                    "pod-security.kubernetes.io/enforce": "restricted",
                },
            },
            opts=child,
        )
        release = k8s.helm.v3.Release(
            f"{name}-release",
            name=CHART_NAME,
            chart=CHART_NAME,
            version=cfg.operator_chart_version,
            repository_opts={"repo": CHART_REPO},
            namespace=operator_ns.metadata["name"],
            values=ns.apply(lambda n: operator_chart_values(n, cfg)),
            atomic=True,
            wait_for_jobs=True,
            opts=child,
        )

        account = k8s.core.v1.ServiceAccount(
            f"{name}-driver-sa",
            metadata=ns.apply(lambda n: driver_service_account_manifest(n)["metadata"]),
            automount_service_account_token=True,
            opts=child,
        )
        role = manifests.resource_from_manifest(
            k8s.rbac.v1.Role,
            f"{name}-driver-role",
            ns.apply(driver_role_manifest),
            child,
            rules="rules",
        )
        binding = manifests.resource_from_manifest(
            k8s.rbac.v1.RoleBinding,
            f"{name}-driver-binding",
            ns.apply(driver_role_binding_manifest),
            pulumi.ResourceOptions(parent=self, depends_on=[account, role]),
            role_ref="roleRef",
            subjects="subjects",
        )
        claim = manifests.resource_from_manifest(
            k8s.core.v1.PersistentVolumeClaim,
            f"{name}-checkpoints",
            ns.apply(
                lambda n: checkpoint_claim_manifest(
                    n, cfg, args.storage_class, args.checkpoint_access_mode
                )
            ),
            child,
            spec="spec",
        )

        app = pulumi.Output.all(
            ns,
            args.processor_image,
            args.kafka_bootstrap_servers,
            args.cassandra_hosts,
        ).apply(
            lambda v: spark_application_manifest(
                v[0],
                cfg,
                ProcessorWiring(
                    image=v[1],
                    kafka_bootstrap_servers=v[2],
                    kafka_topic=args.kafka_topic,
                    kafka_dlq_topic=args.kafka_dlq_topic,
                    cassandra_hosts=v[3],
                    cassandra_port=args.cassandra_port,
                    cassandra_keyspace=args.cassandra_keyspace,
                    cassandra_credentials_secret=args.cassandra_credentials_secret,
                ),
            )
        )
        k8s.apiextensions.CustomResource(
            f"{name}-application",
            api_version="sparkoperator.k8s.io/v1beta2",
            kind="SparkApplication",
            metadata=app.apply(lambda m: m["metadata"]),
            spec=app.apply(lambda m: m["spec"]),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[release, binding, claim]),
        )

        self.operator_namespace = operator_ns.metadata["name"]
        self.application_name = NAME
        self.driver_service_account = DRIVER_SERVICE_ACCOUNT
        self.register_outputs(
            {
                "operator_namespace": self.operator_namespace,
                "application_name": NAME,
                "driver_service_account": DRIVER_SERVICE_ACCOUNT,
            }
        )
