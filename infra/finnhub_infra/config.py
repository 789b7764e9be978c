"""Typed stack configuration: `Pulumi.<stack>.yaml` -> one `StackConfig` -> components.

Every key has a default that suits a single-node minikube; a stack file states only what differs
(replicas, storage class, resources, replication factor, registry, kubeconfig source). Secrets are
not here: they stay Pulumi `Output`s end to end (see `StackSecrets` in `__main__.py`).
"""

from __future__ import annotations

from typing import Any, Literal

import pulumi
from finnhub_contracts.symbols import DEFAULT_SYMBOLS
from finnhub_contracts.versions import GRAFANA_VERSION
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel


class ConfigModel(BaseModel):
    """Pulumi config keys are camelCase by convention; unknown keys are typos, so they fail."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class ResourceQuantities(ConfigModel):
    cpu: str
    memory: str


class Resources(ConfigModel):
    """Kubernetes requests and limits of one container."""

    requests: ResourceQuantities
    limits: ResourceQuantities

    def to_manifest(self) -> dict[str, dict[str, str]]:
        return {
            "requests": {"cpu": self.requests.cpu, "memory": self.requests.memory},
            "limits": {"cpu": self.limits.cpu, "memory": self.limits.memory},
        }


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Resources:
    return Resources(
        requests=ResourceQuantities(cpu=cpu, memory=memory),
        limits=ResourceQuantities(cpu=cpu_limit, memory=memory_limit),
    )


class ClusterConfig(ConfigModel):
    """Where the program deploys: the kubeconfig context (minikube, or the alias `aws eks
    update-kubeconfig --alias` gave the EKS cluster) and the storage class for volumes."""

    kube_context: str = "minikube"
    storage_class: str = "standard"


class TerraformStateConfig(ConfigModel):
    """Where `terraform-bootstrap/` keeps its state: a local file (minikube) or S3 (eks)."""

    backend: Literal["local", "s3"] = "local"
    path: str = "terraform-bootstrap/terraform.tfstate"
    bucket: str | None = None
    key: str | None = None
    region: str | None = None

    @model_validator(mode="after")
    def _s3_is_complete(self) -> TerraformStateConfig:
        if self.backend == "s3" and not (self.bucket and self.key and self.region):
            raise ValueError("terraformState: backend s3 needs bucket, key and region")
        return self


class GivenBootstrap(ConfigModel):
    """The bootstrap's outputs stated by the stack, where no Terraform runs: on `local-cluster`
    its `up` plays terraform-bootstrap's part (the namespace and the registry exist before
    Pulumi runs) and this names them. Set, it replaces reading `terraformState`."""

    namespace: str = Field(min_length=1)
    registry_url: str = Field(min_length=1)


class ImagesConfig(ConfigModel):
    """Where the images come from; the registry itself comes from the bootstrap.

    `source: build` has Pulumi's docker provider build every image from the project's
    Dockerfiles (minikube, eks). `source: prebuilt` deploys the digests `finnhub-images build`
    recorded in `referencesFile` (relative to the repository): CI or `make deploy-local` builds
    once, the stack deploys exactly that. `baseImages` overrides the Dockerfiles' pinned bases by
    kind (`python`, `jvm`: a mirror); unset keeps the Dockerfiles' own. Kafka's and Cassandra's
    versions are not stack settings: they are local-stack's pins, so every stack runs what the
    tests run.
    """

    source: Literal["build", "prebuilt"] = "build"
    references_file: str = ".state/images/references.json"
    tag: str = "0.1.0"
    platform: str = "linux/amd64"
    base_images: dict[str, str] = Field(default_factory=dict)


class KafkaConfig(ConfigModel):
    replicas: int = Field(default=1, ge=1)
    storage_size: str = "5Gi"
    topic_partitions: int = Field(default=3, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    retention_ms: int = Field(default=7 * 24 * 3600 * 1000, gt=0)
    dlq_retention_ms: int = Field(default=14 * 24 * 3600 * 1000, gt=0)
    heap: str = "512m"
    resources: Resources = _resources("250m", "1Gi", "1", "1Gi")
    # The data volumes go with the StatefulSet on delete (`pulumi destroy` leaves nothing);
    # off (the default, as Strimzi's deleteClaim), they outlive even a replaced StatefulSet.
    delete_claims: bool = False
    ui_enabled: bool = True
    # kafbat/kafka-ui: the maintained continuation of provectuslabs/kafka-ui (unmaintained since
    # v0.7.2), read by the same KAFKA_CLUSTERS_* variables, same port, health path and user.
    ui_image: str = "kafbat/kafka-ui:v1.5.0"
    ui_resources: Resources = _resources("100m", "384Mi", "500m", "512Mi")

    @model_validator(mode="after")
    def _replication_fits(self) -> KafkaConfig:
        if self.topic_replication_factor > self.replicas:
            raise ValueError("kafka: topicReplicationFactor exceeds the number of brokers")
        return self


class CassandraConfig(ConfigModel):
    replicas: int = Field(default=1, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    storage_size: str = "10Gi"
    heap: str = "1G"
    resources: Resources = _resources("500m", "2Gi", "2", "2Gi")
    # The data volumes go with the StatefulSet on delete (`pulumi destroy` leaves nothing);
    # off (the default, as Strimzi's deleteClaim), they outlive even a replaced StatefulSet.
    delete_claims: bool = False
    cluster_name: str = "finnhub"
    username: str = "finnhub"

    @model_validator(mode="after")
    def _replication_fits(self) -> CassandraConfig:
        if self.replication_factor > self.replicas:
            raise ValueError("cassandra: replicationFactor exceeds the number of nodes")
        return self


class SparkConfig(ConfigModel):
    """How the processor runs on Kubernetes.

    `runner` picks who creates its driver and executor pods: `operator` (the Kubeflow
    spark-operator and a SparkApplication, components/spark_operator.py) or `submit` (Spark's
    own Kubernetes scheduler: spark-submit in cluster mode from a one-pod submitter
    Deployment, components/spark_submit.py), for clusters where an operator and its CRDs may
    not be installed. Sizes and checkpoints apply to both; the operator_* keys only to the
    operator, submitter_resources only to the submitter. The Spark version is no stack setting:
    it is the image's pyspark (finnhub_contracts.versions.SPARK_VERSION).
    """

    runner: Literal["operator", "submit"] = "operator"
    operator_chart_version: str = "2.4.0"
    operator_namespace: str = "spark-operator"
    driver_cores: int = 1
    driver_core_limit: str = "1"
    driver_memory: str = "1g"
    executor_instances: int = Field(default=1, ge=1)
    executor_cores: int = 1
    # Task slots per executor (Spark's spark.executor.cores; tasks are threads). The trades
    # query's real-time tasks hold one per Kafka partition (topic_partitions, 3) for as long as
    # it runs, and the windows query's batches need slots beside them. The CPU the scheduler
    # reserves stays executor_core_request, or executor_cores without one.
    executor_task_slots: int = Field(default=6, ge=1)
    executor_core_limit: str = "1"
    # The processor's TRADES_TRIGGER: micro-batches (the default, measured faster on two cores
    # with the Python foreach writer) or Spark's real-time mode, which needs the task slots above.
    trades_trigger: Literal["micro-batch", "real-time"] = "micro-batch"
    executor_memory: str = "1g"
    # CPU the scheduler reserves for each (a Kubernetes quantity, e.g. "250m"); None reserves
    # the full driver/executor cores. A small node shared with Kafka and Cassandra needs less.
    driver_core_request: str | None = None
    executor_core_request: str | None = None
    checkpoint_size: str = "1Gi"
    # Driver and executors share the checkpoint volume: ReadWriteMany wherever pods may land on
    # different nodes. None = the cluster's storage class.
    checkpoint_access_mode: Literal["ReadWriteOnce", "ReadWriteMany"] = "ReadWriteOnce"
    checkpoint_storage_class: str | None = None
    # spark-submit's JVM (the launcher, not the driver): it only creates and watches the driver.
    submitter_resources: Resources = _resources("100m", "512Mi", "500m", "512Mi")


class GrafanaConfig(ConfigModel):
    # False leaves Grafana out (the local stack: its image cannot be had there).
    enabled: bool = True
    # A stack may name a mirror; the release is the contracts' (which the plugin supports).
    image: str = f"grafana/grafana:{GRAFANA_VERSION}"
    dashboards_dir: str = "dashboards/grafana"
    admin_user: str = "admin"
    resources: Resources = _resources("100m", "256Mi", "500m", "512Mi")


class ProducerConfig(ConfigModel):
    replicas: int = Field(default=1, ge=1)
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    ws_url: str = "wss://ws.finnhub.io"
    metrics_port: int = 9108
    resources: Resources = _resources("100m", "128Mi", "500m", "256Mi")


class FakeFeedConfig(ConfigModel):
    """The fake Finnhub feed (apps/fake-feed) as a Deployment, for an end-to-end run that needs
    no Finnhub account; when enabled the producer reads it instead of `producer.wsUrl`.

    `keep_trades` bounds what its `GET /sent` lists (the feed's own default, ~270 bytes each).
    """

    enabled: bool = False
    rate: float = Field(default=5.0, ge=0)
    # Symbols the feed lists besides its own defaults (which hold every default producer symbol).
    # Not the producer's list: changing what the producer subscribes to must not restart the
    # stand-in for Finnhub, just as it would not restart Finnhub.
    extra_symbols: tuple[str, ...] = ()
    port: int = Field(default=8765, ge=1, le=65535)
    keep_trades: int = Field(default=50_000, ge=0)
    resources: Resources = _resources("50m", "96Mi", "250m", "128Mi")


class StackConfig(ConfigModel):
    """The whole non-secret configuration of one stack."""

    cluster: ClusterConfig = ClusterConfig()
    terraform_state: TerraformStateConfig = TerraformStateConfig()
    bootstrap: GivenBootstrap | None = None
    images: ImagesConfig = ImagesConfig()
    kafka: KafkaConfig = KafkaConfig()
    cassandra: CassandraConfig = CassandraConfig()
    spark: SparkConfig = SparkConfig()
    grafana: GrafanaConfig = GrafanaConfig()
    producer: ProducerConfig = ProducerConfig()
    fake_feed: FakeFeedConfig = FakeFeedConfig()


SECTIONS = (
    "cluster",
    "terraformState",
    "bootstrap",
    "images",
    "kafka",
    "cassandra",
    "spark",
    "grafana",
    "producer",
    "fakeFeed",
)


def parse_stack_config(raw: dict[str, Any]) -> StackConfig:
    """Validate the stack's config sections (already read from YAML) into a `StackConfig`."""
    return StackConfig.model_validate(raw)


def load_stack_config(config: pulumi.Config) -> StackConfig:
    """Read this stack's plain (non-secret) config through Pulumi."""
    raw: dict[str, Any] = {}
    for section in SECTIONS:
        value = config.get_object(section)
        if value is not None:
            raw[section] = value
    return parse_stack_config(raw)
