"""KafkaStack: Apache Kafka in KRaft mode as a StatefulSet, topics created by a Job, optional UI.

Each broker is also a controller (combined mode): no ZooKeeper, one StatefulSet. Brokers find each
other through the headless Service's stable per-pod DNS names, which is also what they advertise,
so clients inside the cluster reach the partition leader directly.

The pods run the project's own Kafka image (the jar set local-stack runs, at the version pinned in
`local_stack.artifacts`); the files it reads and the commands it runs are rendered in
`kafka_container`, delivered by a ConfigMap.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from finnhub_contracts.kafka import DLQ_TOPIC, TOPIC
from finnhub_contracts.versions import KAFKA_VERSION

from finnhub_infra.components import kafka_container, manifests
from finnhub_infra.components.conventions import image_tag, recommended_labels, secret_env
from finnhub_infra.components.inputs import derive
from finnhub_infra.components.kafka_container import (
    CONFIG_COMMAND_MAIN,
    POD_NETWORK,
    POD_PATHS,
    TOPIC_COMMAND_MAIN,
    BrokerNetwork,
    BrokerPaths,
)
from finnhub_infra.config import KafkaConfig

NAME = "kafka"
HEADLESS = "kafka-headless"
UI_NAME = "kafka-ui"
TOPICS_JOB = "kafka-topics"
CONFIGMAP = "kafka-config"
CLIENT_PORT = POD_NETWORK.client_port
CONTROLLER_PORT = POD_NETWORK.controller_port
UI_PORT = 8080
# The image's `kafka` user (images/kafka/Dockerfile).
KAFKA_UID = 1000


@dataclass(frozen=True)
class KafkaStackArgs:
    namespace: pulumi.Input[str]
    config: KafkaConfig
    storage_class: str
    # The pinned (digest) reference of the project's Kafka image, from AppImages.
    image: pulumi.Input[str]


def broker_dns(index: int, namespace: str) -> str:
    return f"{NAME}-{index}.{HEADLESS}.{namespace}.svc.cluster.local"


def bootstrap_servers(namespace: str) -> str:
    """What clients put in KAFKA_BOOTSTRAP_SERVERS: the client Service, any broker answers."""
    return f"{NAME}.{namespace}.svc.cluster.local:{CLIENT_PORT}"


def quorum_voters(replicas: int, namespace: str, network: BrokerNetwork = POD_NETWORK) -> str:
    hosts = network.voter_hosts or tuple(broker_dns(i, namespace) for i in range(replicas))
    return ",".join(f"{i}@{host}:{network.controller_port}" for i, host in enumerate(hosts))


def broker_labels() -> dict[str, str]:
    return recommended_labels(NAME, "broker", KAFKA_VERSION)


def config_map_manifest(
    namespace: pulumi.Input[str],
    cfg: KafkaConfig,
    network: BrokerNetwork = POD_NETWORK,
    paths: BrokerPaths = POD_PATHS,
) -> dict[str, Any]:
    files = derive(
        namespace,
        lambda n: kafka_container.config_files(
            cfg, quorum_voters(cfg.replicas, n, network), network, paths
        ),
    )
    return manifests.config_map(CONFIGMAP, namespace, broker_labels(), files)


def headless_service_manifest(namespace: pulumi.Input[str], cfg: KafkaConfig) -> dict[str, Any]:
    return manifests.service(
        HEADLESS,
        namespace,
        broker_labels(),
        NAME,
        {"client": CLIENT_PORT, "controller": CONTROLLER_PORT},
        headless=True,
        # Controllers must find each other before any of them is ready.
        publish_not_ready=True,
    )


def client_service_manifest(namespace: pulumi.Input[str], cfg: KafkaConfig) -> dict[str, Any]:
    return manifests.service(
        NAME,
        namespace,
        broker_labels(),
        NAME,
        {"client": CLIENT_PORT},
    )


def statefulset_manifest(
    namespace: pulumi.Input[str],
    cfg: KafkaConfig,
    storage_class: str,
    cluster_id_secret: str,
    image: pulumi.Input[str],
    paths: BrokerPaths = POD_PATHS,
    config_files_sha256: pulumi.Input[str] = "",
) -> dict[str, Any]:
    """Brokers: an init container renders the pod's server.properties and formats the storage,
    then the broker JVM runs from the image's jars (no image entrypoint is involved)."""
    labels = broker_labels()
    mounts = [
        {"name": "data", "mountPath": paths.data},
        {"name": "templates", "mountPath": paths.templates, "readOnly": True},
        {"name": "config", "mountPath": paths.config},
    ]
    prepare = manifests.container(
        "prepare-node",
        image,
        {
            "requests": {"cpu": "100m", "memory": "384Mi"},
            "limits": {"cpu": "500m", "memory": "384Mi"},
        },
        # A JVM, like the broker: it keeps its perf data under /tmp.
        read_only_root=False,
        command=kafka_container.prepare_command(paths),
        env=[
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            # What clients are told to connect to: this pod's own stable DNS name.
            {
                "name": "ADVERTISED_HOST",
                "value": derive(
                    namespace, lambda n: f"$(POD_NAME).{HEADLESS}.{n}.svc.cluster.local"
                ),
            },
            secret_env("CLUSTER_ID", cluster_id_secret, "cluster-id"),
        ],
        volume_mounts=mounts,
    )
    broker = manifests.container(
        NAME,
        image,
        cfg.resources.to_manifest(),
        read_only_root=False,
        command=kafka_container.broker_command(cfg, paths),
        ports={"client": CLIENT_PORT, "controller": CONTROLLER_PORT},
        readiness=manifests.tcp_probe(CLIENT_PORT, initial_delay=10, period=10),
        liveness=manifests.tcp_probe(
            CONTROLLER_PORT, initial_delay=60, period=20, failure_threshold=6
        ),
        volume_mounts=mounts,
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
            labels,
            [broker],
            init_containers=[prepare],
            uid=KAFKA_UID,
            termination_grace_seconds=60,
            # A changed config file changes the template, so the brokers roll.
            annotations={"finnhub/config-sha256": config_files_sha256},
            volumes=[
                {"name": "templates", "configMap": {"name": CONFIGMAP}},
                {"name": "config", "emptyDir": {"sizeLimit": "1Mi"}},
            ],
        ),
        volume_claim=manifests.data_volume_claim(labels, storage_class, cfg.storage_size),
        delete_claims=cfg.delete_claims,
    )


def files_sha256(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def topics_script(
    namespace: str,
    cfg: KafkaConfig,
    paths: BrokerPaths = POD_PATHS,
    retry_seconds: int = 5,
    server: str | None = None,
) -> str:
    """Wait for the brokers (bounded retries), then create or update both topics idempotently.
    Kafka's own admin tools run from the image's jars. The retry delay and the brokers' address
    (default: the client Service) are parameters so tests can run the script against a fake
    `java`, or a real broker on loopback."""
    server = server or bootstrap_servers(namespace)
    topics = [(TOPIC, cfg.retention_ms), (DLQ_TOPIC, cfg.dlq_retention_ms)]
    lines = [
        "set -eu",
        kafka_container.tool_shell_function("kafka_topics", TOPIC_COMMAND_MAIN, paths),
        kafka_container.tool_shell_function("kafka_configs", CONFIG_COMMAND_MAIN, paths),
        "attempt=0",
        f"until kafka_topics --bootstrap-server {server} --list >/dev/null 2>&1; do",
        "  attempt=$((attempt + 1))",
        '  if [ "$attempt" -ge 60 ]; then',
        f'    echo "Kafka at {server} did not answer after $attempt attempts" >&2; exit 1',
        "  fi",
        f"  sleep {retry_seconds}",
        "done",
    ]
    for topic, retention in topics:
        lines += [
            f"kafka_topics --bootstrap-server {server} --create --if-not-exists "
            f"--topic {topic} --partitions {cfg.topic_partitions} "
            f"--replication-factor {cfg.topic_replication_factor} "
            f"--config retention.ms={retention}",
            # --create leaves an existing topic alone: converge its settings explicitly.
            f"kafka_configs --bootstrap-server {server} --alter --entity-type topics "
            f"--entity-name {topic} --add-config retention.ms={retention}",
            f"kafka_topics --bootstrap-server {server} --alter --topic {topic} "
            f"--partitions {cfg.topic_partitions} 2>/dev/null || true",
        ]
    lines.append(f"kafka_topics --bootstrap-server {server} --describe --topic {TOPIC}")
    return "\n".join(lines) + "\n"


def topics_job_manifest(
    namespace: pulumi.Input[str], cfg: KafkaConfig, image: pulumi.Input[str]
) -> dict[str, Any]:
    labels = recommended_labels(TOPICS_JOB, "topic-init", KAFKA_VERSION)
    container = manifests.container(
        "create-topics",
        image,
        {
            "requests": {"cpu": "100m", "memory": "384Mi"},
            "limits": {"cpu": "500m", "memory": "384Mi"},
        },
        read_only_root=False,
        command=["/bin/bash", "-c", derive(namespace, lambda n: topics_script(n, cfg))],
        # The tools log with the brokers' log4j2.properties.
        volume_mounts=[{"name": "templates", "mountPath": POD_PATHS.templates, "readOnly": True}],
    )
    return manifests.job(
        TOPICS_JOB,
        namespace,
        labels,
        deadline_seconds=900,
        template=manifests.pod_template(
            labels,
            [container],
            uid=KAFKA_UID,
            restart_policy="OnFailure",
            volumes=[{"name": "templates", "configMap": {"name": CONFIGMAP}}],
        ),
    )


def ui_deployment_manifest(namespace: pulumi.Input[str], cfg: KafkaConfig) -> dict[str, Any]:
    labels = recommended_labels(UI_NAME, "ui", image_tag(cfg.ui_image))
    container = manifests.container(
        UI_NAME,
        cfg.ui_image,
        cfg.ui_resources.to_manifest(),
        read_only_root=False,
        env=[
            {"name": "KAFKA_CLUSTERS_0_NAME", "value": "finnhub"},
            {
                "name": "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS",
                "value": derive(namespace, bootstrap_servers),
            },
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


def ui_service_manifest(namespace: pulumi.Input[str], cfg: KafkaConfig) -> dict[str, Any]:
    return manifests.service(
        UI_NAME,
        namespace,
        recommended_labels(UI_NAME, "ui", image_tag(cfg.ui_image)),
        UI_NAME,
        {"http": UI_PORT},
    )


def cluster_id_secret_manifest(
    namespace: pulumi.Input[str], cluster_id: pulumi.Input[str]
) -> dict[str, Any]:
    return manifests.secret(
        "kafka-cluster-id",
        namespace,
        broker_labels(),
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
        secret = cluster_id_secret_manifest(ns, cluster_id.b64_url)
        id_secret = k8s.core.v1.Secret(
            f"{name}-cluster-id",
            metadata=secret["metadata"],
            string_data=secret["stringData"],
            type=secret["type"],
            opts=child,
        )
        headless = manifests.resource_from_manifest(
            k8s.core.v1.Service,
            f"{name}-headless",
            headless_service_manifest(ns, cfg),
            child,
            spec="spec",
        )
        client = manifests.resource_from_manifest(
            k8s.core.v1.Service,
            f"{name}-client",
            client_service_manifest(ns, cfg),
            child,
            spec="spec",
        )
        config_map = config_map_manifest(ns, cfg)
        broker_config = manifests.resource_from_manifest(
            k8s.core.v1.ConfigMap, f"{name}-config", config_map, child, data="data"
        )
        statefulset = manifests.resource_from_manifest(
            k8s.apps.v1.StatefulSet,
            f"{name}-brokers",
            statefulset_manifest(
                ns,
                cfg,
                args.storage_class,
                "kafka-cluster-id",
                args.image,
                config_files_sha256=derive(config_map["data"], files_sha256),
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[headless, id_secret, broker_config]),
            spec="spec",
        )
        manifests.resource_from_manifest(
            k8s.batch.v1.Job,
            f"{name}-topics",
            topics_job_manifest(ns, cfg, args.image),
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
                ui_deployment_manifest(ns, cfg),
                child,
                spec="spec",
            )
            manifests.resource_from_manifest(
                k8s.core.v1.Service, f"{name}-ui", ui_service_manifest(ns, cfg), child, spec="spec"
            )

        self.bootstrap_servers = ns.apply(bootstrap_servers)
        self.topic = TOPIC
        self.dlq_topic = DLQ_TOPIC
        self.register_outputs(
            {"bootstrap_servers": self.bootstrap_servers, "topic": TOPIC, "dlq_topic": DLQ_TOPIC}
        )
