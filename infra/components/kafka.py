"""KafkaStack: Apache Kafka in KRaft mode as a StatefulSet, topics created by a Job, optional UI.

Each broker is also a controller (combined mode): no ZooKeeper, one StatefulSet. Brokers find each
other through the headless Service's stable per-pod DNS names, which is also what they advertise,
so clients inside the cluster reach the partition leader directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from finnhub_infra.components.conventions import (
    container_security_context,
    image_tag,
    object_meta,
    pod_security_context,
    recommended_labels,
    secret_env,
    selector_labels,
)
from finnhub_infra.config import KafkaConfig

NAME = "kafka"
HEADLESS = "kafka-headless"
UI_NAME = "kafka-ui"
TOPICS_JOB = "kafka-topics"
CLIENT_PORT = 9092
CONTROLLER_PORT = 9093
UI_PORT = 8080
# apache/kafka runs as `appuser`, uid 1000.
KAFKA_UID = 1000
DATA_DIR = "/var/lib/kafka/data"
TOPIC = "market"
DLQ_TOPIC = "market.dlq"


@dataclass(frozen=True)
class KafkaStackArgs:
    namespace: pulumi.Input[str]
    config: KafkaConfig
    storage_class: str


def broker_dns(index: int, namespace: str) -> str:
    return f"{NAME}-{index}.{HEADLESS}.{namespace}.svc.cluster.local"


def bootstrap_servers(namespace: str) -> str:
    """What clients put in KAFKA_BOOTSTRAP_SERVERS: the client Service, any broker answers."""
    return f"{NAME}.{namespace}.svc.cluster.local:{CLIENT_PORT}"


def quorum_voters(replicas: int, namespace: str) -> str:
    return ",".join(f"{i}@{broker_dns(i, namespace)}:{CONTROLLER_PORT}" for i in range(replicas))


def broker_start_script(namespace: str) -> str:
    """Node id and advertised name depend on the pod's ordinal, known only inside the pod."""
    return (
        "set -eu\n"
        'export KAFKA_NODE_ID="${HOSTNAME##*-}"\n'
        f'export KAFKA_ADVERTISED_LISTENERS="PLAINTEXT://${{HOSTNAME}}.{HEADLESS}.{namespace}'
        f'.svc.cluster.local:{CLIENT_PORT}"\n'
        "exec /etc/kafka/docker/run\n"
    )


def headless_service_manifest(namespace: str, cfg: KafkaConfig) -> dict[str, Any]:
    labels = recommended_labels(NAME, "broker", image_tag(cfg.image))
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(HEADLESS, namespace, labels),
        "spec": {
            "clusterIP": "None",
            # Controllers must find each other before any of them is ready.
            "publishNotReadyAddresses": True,
            "selector": selector_labels(NAME),
            "ports": [
                {"name": "client", "port": CLIENT_PORT, "targetPort": CLIENT_PORT},
                {"name": "controller", "port": CONTROLLER_PORT, "targetPort": CONTROLLER_PORT},
            ],
        },
    }


def client_service_manifest(namespace: str, cfg: KafkaConfig) -> dict[str, Any]:
    labels = recommended_labels(NAME, "broker", image_tag(cfg.image))
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(NAME, namespace, labels),
        "spec": {
            "selector": selector_labels(NAME),
            "ports": [{"name": "client", "port": CLIENT_PORT, "targetPort": CLIENT_PORT}],
        },
    }


def statefulset_manifest(
    namespace: str, cfg: KafkaConfig, storage_class: str, cluster_id_secret: str
) -> dict[str, Any]:
    labels = recommended_labels(NAME, "broker", image_tag(cfg.image))
    env = [
        {"name": "KAFKA_PROCESS_ROLES", "value": "broker,controller"},
        {"name": "KAFKA_CONTROLLER_QUORUM_VOTERS", "value": quorum_voters(cfg.replicas, namespace)},
        {
            "name": "KAFKA_LISTENERS",
            "value": f"PLAINTEXT://:{CLIENT_PORT},CONTROLLER://:{CONTROLLER_PORT}",
        },
        {
            "name": "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
            "value": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        },
        {"name": "KAFKA_CONTROLLER_LISTENER_NAMES", "value": "CONTROLLER"},
        {"name": "KAFKA_INTER_BROKER_LISTENER_NAME", "value": "PLAINTEXT"},
        {"name": "KAFKA_LOG_DIRS", "value": DATA_DIR},
        # Topics are created by the topics Job with explicit settings, never implicitly.
        {"name": "KAFKA_AUTO_CREATE_TOPICS_ENABLE", "value": "false"},
        {
            "name": "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
            "value": str(cfg.topic_replication_factor),
        },
        {
            "name": "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
            "value": str(cfg.topic_replication_factor),
        },
        {
            "name": "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
            "value": str(min(2, cfg.topic_replication_factor)),
        },
        {"name": "KAFKA_HEAP_OPTS", "value": f"-Xms{cfg.heap} -Xmx{cfg.heap}"},
        secret_env("CLUSTER_ID", cluster_id_secret, "cluster-id"),
    ]
    container = {
        "name": NAME,
        "image": cfg.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/bash", "-c", broker_start_script(namespace)],
        "env": env,
        "ports": [
            {"name": "client", "containerPort": CLIENT_PORT},
            {"name": "controller", "containerPort": CONTROLLER_PORT},
        ],
        "resources": cfg.resources.to_manifest(),
        "securityContext": container_security_context(read_only_root=False),
        "readinessProbe": {
            "tcpSocket": {"port": CLIENT_PORT},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
        },
        "livenessProbe": {
            "tcpSocket": {"port": CONTROLLER_PORT},
            "initialDelaySeconds": 60,
            "periodSeconds": 20,
            "failureThreshold": 6,
        },
        "volumeMounts": [{"name": "data", "mountPath": DATA_DIR}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": object_meta(NAME, namespace, labels),
        "spec": {
            "serviceName": HEADLESS,
            "replicas": cfg.replicas,
            # Controllers form a quorum only when all voters start together.
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": selector_labels(NAME)},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": pod_security_context(KAFKA_UID),
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 60,
                    "containers": [container],
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data", "labels": labels},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": storage_class,
                        "resources": {"requests": {"storage": cfg.storage_size}},
                    },
                }
            ],
        },
    }


def topics_script(
    namespace: str, cfg: KafkaConfig, kafka_bin: str = "/opt/kafka/bin", retry_seconds: int = 5
) -> str:
    """Wait for the brokers (bounded retries), then create or update both topics idempotently.
    The tools' folder and the retry delay are parameters so tests can run it with fakes."""
    server = bootstrap_servers(namespace)
    topics = [(TOPIC, cfg.retention_ms), (DLQ_TOPIC, cfg.dlq_retention_ms)]
    lines = [
        "set -eu",
        f"bin={kafka_bin}",
        "attempt=0",
        f'until "$bin/kafka-topics.sh" --bootstrap-server {server} --list >/dev/null 2>&1; do',
        "  attempt=$((attempt + 1))",
        '  if [ "$attempt" -ge 60 ]; then',
        f'    echo "Kafka at {server} did not answer after $attempt attempts" >&2; exit 1',
        "  fi",
        f"  sleep {retry_seconds}",
        "done",
    ]
    for topic, retention in topics:
        lines += [
            f'"$bin/kafka-topics.sh" --bootstrap-server {server} --create --if-not-exists '
            f"--topic {topic} --partitions {cfg.topic_partitions} "
            f"--replication-factor {cfg.topic_replication_factor} "
            f"--config retention.ms={retention}",
            # --create leaves an existing topic alone: converge its settings explicitly.
            f'"$bin/kafka-configs.sh" --bootstrap-server {server} --alter --entity-type topics '
            f"--entity-name {topic} --add-config retention.ms={retention}",
            f'"$bin/kafka-topics.sh" --bootstrap-server {server} --alter --topic {topic} '
            f"--partitions {cfg.topic_partitions} 2>/dev/null || true",
        ]
    lines.append(f'"$bin/kafka-topics.sh" --bootstrap-server {server} --describe --topic {TOPIC}')
    return "\n".join(lines) + "\n"


def topics_job_manifest(namespace: str, cfg: KafkaConfig) -> dict[str, Any]:
    labels = recommended_labels(TOPICS_JOB, "topic-init", image_tag(cfg.image))
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": object_meta(TOPICS_JOB, namespace, labels),
        "spec": {
            "backoffLimit": 4,
            "activeDeadlineSeconds": 900,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "securityContext": pod_security_context(KAFKA_UID),
                    "enableServiceLinks": False,
                    "containers": [
                        {
                            "name": "create-topics",
                            "image": cfg.image,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["/bin/bash", "-c", topics_script(namespace, cfg)],
                            "env": [{"name": "KAFKA_HEAP_OPTS", "value": "-Xmx256m"}],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "384Mi"},
                                "limits": {"cpu": "500m", "memory": "384Mi"},
                            },
                            "securityContext": container_security_context(read_only_root=False),
                        }
                    ],
                },
            },
        },
    }


def ui_deployment_manifest(namespace: str, cfg: KafkaConfig) -> dict[str, Any]:
    labels = recommended_labels(UI_NAME, "ui", image_tag(cfg.ui_image))
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(UI_NAME, namespace, labels),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector_labels(UI_NAME)},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    # The image's own `kafkaui` user.
                    "securityContext": pod_security_context(100, 101),
                    "enableServiceLinks": False,
                    "containers": [
                        {
                            "name": UI_NAME,
                            "image": cfg.ui_image,
                            "imagePullPolicy": "IfNotPresent",
                            "env": [
                                {"name": "KAFKA_CLUSTERS_0_NAME", "value": "finnhub"},
                                {
                                    "name": "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS",
                                    "value": bootstrap_servers(namespace),
                                },
                                {"name": "KAFKA_CLUSTERS_0_READONLY", "value": "true"},
                            ],
                            "ports": [{"name": "http", "containerPort": UI_PORT}],
                            "resources": cfg.ui_resources.to_manifest(),
                            "securityContext": container_security_context(read_only_root=False),
                            "readinessProbe": {
                                "httpGet": {"path": "/actuator/health", "port": UI_PORT},
                                "initialDelaySeconds": 20,
                                "periodSeconds": 10,
                            },
                            "livenessProbe": {
                                "httpGet": {"path": "/actuator/health", "port": UI_PORT},
                                "initialDelaySeconds": 60,
                                "periodSeconds": 20,
                            },
                        }
                    ],
                },
            },
        },
    }


def ui_service_manifest(namespace: str, cfg: KafkaConfig) -> dict[str, Any]:
    labels = recommended_labels(UI_NAME, "ui", image_tag(cfg.ui_image))
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(UI_NAME, namespace, labels),
        "spec": {
            "selector": selector_labels(UI_NAME),
            "ports": [{"name": "http", "port": UI_PORT, "targetPort": UI_PORT}],
        },
    }


def cluster_id_secret_manifest(namespace: str, cluster_id: pulumi.Input[str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": object_meta(
            "kafka-cluster-id", namespace, recommended_labels(NAME, "broker", "v1")
        ),
        "type": "Opaque",
        "stringData": {"cluster-id": cluster_id},
    }


class KafkaStack(pulumi.ComponentResource):
    """Kafka brokers, their Services, the `market` and `market.dlq` topics and an optional UI."""

    bootstrap_servers: pulumi.Output[str]
    topic: str
    dlq_topic: str

    def __init__(
        self, name: str, args: KafkaStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("finnhub:infra:KafkaStack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = pulumi.Output.from_input(args.namespace)
        cfg = args.config

        # A KRaft cluster id is 16 random bytes, base64url without padding: 22 characters.
        cluster_id = random.RandomId(f"{name}-cluster-id", byte_length=16, opts=child)
        secret = ns.apply(lambda n: cluster_id_secret_manifest(n, cluster_id.b64_url))
        id_secret = k8s.core.v1.Secret(
            f"{name}-cluster-id",
            metadata=secret.apply(lambda m: m["metadata"]),
            string_data={"cluster-id": cluster_id.b64_url},
            type="Opaque",
            opts=child,
        )
        headless = _service(
            f"{name}-headless", ns.apply(lambda n: headless_service_manifest(n, cfg)), child
        )
        client = _service(
            f"{name}-client", ns.apply(lambda n: client_service_manifest(n, cfg)), child
        )
        sts_manifest = ns.apply(
            lambda n: statefulset_manifest(n, cfg, args.storage_class, "kafka-cluster-id")
        )
        statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-brokers",
            metadata=sts_manifest.apply(lambda m: m["metadata"]),
            spec=sts_manifest.apply(lambda m: m["spec"]),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[headless, id_secret]),
        )
        job_manifest = ns.apply(lambda n: topics_job_manifest(n, cfg))
        k8s.batch.v1.Job(
            f"{name}-topics",
            metadata=job_manifest.apply(lambda m: m["metadata"]),
            spec=job_manifest.apply(lambda m: m["spec"]),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[statefulset, client],
                # Job templates are immutable; a changed topic spec means a new Job.
                replace_on_changes=["spec"],
                delete_before_replace=True,
            ),
        )
        if cfg.ui_enabled:
            ui = ns.apply(lambda n: ui_deployment_manifest(n, cfg))
            k8s.apps.v1.Deployment(
                f"{name}-ui",
                metadata=ui.apply(lambda m: m["metadata"]),
                spec=ui.apply(lambda m: m["spec"]),
                opts=child,
            )
            _service(f"{name}-ui", ns.apply(lambda n: ui_service_manifest(n, cfg)), child)

        self.bootstrap_servers = ns.apply(bootstrap_servers)
        self.topic = TOPIC
        self.dlq_topic = DLQ_TOPIC
        self.register_outputs(
            {"bootstrap_servers": self.bootstrap_servers, "topic": TOPIC, "dlq_topic": DLQ_TOPIC}
        )


def _service(
    name: str, manifest: pulumi.Output[dict[str, Any]], opts: pulumi.ResourceOptions
) -> k8s.core.v1.Service:
    return k8s.core.v1.Service(
        name,
        metadata=manifest.apply(lambda m: m["metadata"]),
        spec=manifest.apply(lambda m: m["spec"]),
        opts=opts,
    )
