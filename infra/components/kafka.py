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
from finnhub_infra.components import manifests
from finnhub_infra.components.conventions import image_tag, recommended_labels, secret_env
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
    return manifests.service(
        HEADLESS,
        namespace,
        recommended_labels(NAME, "broker", image_tag(cfg.image)),
        NAME,
        {"client": CLIENT_PORT, "controller": CONTROLLER_PORT},
        headless=True,
        # Controllers must find each other before any of them is ready.
        publish_not_ready=True,
    )


def client_service_manifest(namespace: str, cfg: KafkaConfig) -> dict[str, Any]:
    return manifests.service(
        NAME,
        namespace,
        recommended_labels(NAME, "broker", image_tag(cfg.image)),
        NAME,
        {"client": CLIENT_PORT},
    )


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
    container = manifests.container(
        NAME,
        cfg.image,
        cfg.resources.to_manifest(),
        read_only_root=False,
        command=["/bin/bash", "-c", broker_start_script(namespace)],
        env=env,
        ports={"client": CLIENT_PORT, "controller": CONTROLLER_PORT},
        readiness=manifests.tcp_probe(CLIENT_PORT, initial_delay=10, period=10),
        liveness=manifests.tcp_probe(
            CONTROLLER_PORT, initial_delay=60, period=20, failure_threshold=6
        ),
        volume_mounts=[{"name": "data", "mountPath": DATA_DIR}],
    )
    return manifests.stateful_set(
        NAME,
        namespace,
        labels,
        service_name=HEADLESS,
        replicas=cfg.replicas,
        # Controllers form a quorum only when all voters start together.
        pod_management_policy="Parallel",
        template=manifests.pod_template(
            labels, [container], uid=KAFKA_UID, termination_grace_seconds=60
        ),
        volume_claim=manifests.data_volume_claim(labels, storage_class, cfg.storage_size),
    )


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
    container = manifests.container(
        "create-topics",
        cfg.image,
        {
            "requests": {"cpu": "100m", "memory": "384Mi"},
            "limits": {"cpu": "500m", "memory": "384Mi"},
        },
        read_only_root=False,
        command=["/bin/bash", "-c", topics_script(namespace, cfg)],
        env=[{"name": "KAFKA_HEAP_OPTS", "value": "-Xmx256m"}],
    )
    return manifests.job(
        TOPICS_JOB,
        namespace,
        labels,
        deadline_seconds=900,
        template=manifests.pod_template(
            labels, [container], uid=KAFKA_UID, restart_policy="OnFailure"
        ),
    )


def ui_deployment_manifest(namespace: str, cfg: KafkaConfig) -> dict[str, Any]:
    labels = recommended_labels(UI_NAME, "ui", image_tag(cfg.ui_image))
    container = manifests.container(
        UI_NAME,
        cfg.ui_image,
        cfg.ui_resources.to_manifest(),
        read_only_root=False,
        env=[
            {"name": "KAFKA_CLUSTERS_0_NAME", "value": "finnhub"},
            {"name": "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS", "value": bootstrap_servers(namespace)},
            {"name": "KAFKA_CLUSTERS_0_READONLY", "value": "true"},
        ],
        ports={"http": UI_PORT},
        readiness=manifests.http_probe("/actuator/health", UI_PORT, initial_delay=20, period=10),
        liveness=manifests.http_probe("/actuator/health", UI_PORT, initial_delay=60, period=20),
    )
    return manifests.deployment(
        UI_NAME,
        namespace,
        labels,
        replicas=1,
        # The image's own `kafkaui` user.
        template=manifests.pod_template(labels, [container], uid=100, gid=101),
    )


def ui_service_manifest(namespace: str, cfg: KafkaConfig) -> dict[str, Any]:
    return manifests.service(
        UI_NAME,
        namespace,
        recommended_labels(UI_NAME, "ui", image_tag(cfg.ui_image)),
        UI_NAME,
        {"http": UI_PORT},
    )


def cluster_id_secret_manifest(namespace: str, cluster_id: pulumi.Input[str]) -> dict[str, Any]:
    return manifests.secret(
        "kafka-cluster-id",
        namespace,
        recommended_labels(NAME, "broker", "v1"),
        {"cluster-id": cluster_id},
    )


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
        headless = manifests.resource_from_manifest(
            k8s.core.v1.Service,
            f"{name}-headless",
            ns.apply(lambda n: headless_service_manifest(n, cfg)),
            child,
            spec="spec",
        )
        client = manifests.resource_from_manifest(
            k8s.core.v1.Service,
            f"{name}-client",
            ns.apply(lambda n: client_service_manifest(n, cfg)),
            child,
            spec="spec",
        )
        statefulset = manifests.resource_from_manifest(
            k8s.apps.v1.StatefulSet,
            f"{name}-brokers",
            ns.apply(
                lambda n: statefulset_manifest(n, cfg, args.storage_class, "kafka-cluster-id")
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[headless, id_secret]),
            spec="spec",
        )
        manifests.resource_from_manifest(
            k8s.batch.v1.Job,
            f"{name}-topics",
            ns.apply(lambda n: topics_job_manifest(n, cfg)),
            pulumi.ResourceOptions(
                parent=self,
                depends_on=[statefulset, client],
                # Job templates are immutable; a changed topic spec means a new Job.
                replace_on_changes=["spec"],
                delete_before_replace=True,
            ),
            spec="spec",
        )
        if cfg.ui_enabled:
            manifests.resource_from_manifest(
                k8s.apps.v1.Deployment,
                f"{name}-ui",
                ns.apply(lambda n: ui_deployment_manifest(n, cfg)),
                child,
                spec="spec",
            )
            manifests.resource_from_manifest(
                k8s.core.v1.Service,
                f"{name}-ui",
                ns.apply(lambda n: ui_service_manifest(n, cfg)),
                child,
                spec="spec",
            )

        self.bootstrap_servers = ns.apply(bootstrap_servers)
        self.topic = TOPIC
        self.dlq_topic = DLQ_TOPIC
        self.register_outputs(
            {"bootstrap_servers": self.bootstrap_servers, "topic": TOPIC, "dlq_topic": DLQ_TOPIC}
        )
