"""Typed stack configuration: `Pulumi.<stack>.yaml` -> one `StackConfig` -> components.

Every key has a default that suits a single-node minikube; a stack file states only what differs
(replicas, storage class, resources, replication factor, registry, kubeconfig source). Secrets are
not here: they stay Pulumi `Output`s end to end (see `StackSecrets` in `__main__.py`).
"""

from __future__ import annotations

from typing import Any, Literal

import pulumi
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


class ImagesConfig(ConfigModel):
    """How the images are built; the registry itself comes from the Terraform bootstrap.

    `jvm_base_image` overrides the Kafka and Cassandra Dockerfiles' Debian base (for a mirror);
    None keeps the Dockerfiles' own pinned default. Kafka's and Cassandra's versions are not
    stack settings: they are local-stack's pins, so every stack runs what the tests run.
    """

    tag: str = "0.1.0"
    platform: str = "linux/amd64"
    jvm_base_image: str | None = None


class KafkaConfig(ConfigModel):
    replicas: int = Field(default=1, ge=1)
    storage_size: str = "5Gi"
    topic_partitions: int = Field(default=3, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    retention_ms: int = Field(default=7 * 24 * 3600 * 1000, gt=0)
    dlq_retention_ms: int = Field(default=14 * 24 * 3600 * 1000, gt=0)
    heap: str = "512m"
    resources: Resources = _resources("250m", "1Gi", "1", "1Gi")
    ui_enabled: bool = True
    ui_image: str = "provectuslabs/kafka-ui:v0.7.2"
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
    not be installed. Sizes, checkpoints and the Spark version apply to both; the operator_*
    keys only to the operator, submitter_resources only to the submitter.
    """

    runner: Literal["operator", "submit"] = "operator"
    operator_chart_version: str = "2.4.0"
    operator_namespace: str = "spark-operator"
    spark_version: str = "4.2.0"
    driver_cores: int = 1
    driver_core_limit: str = "1"
    driver_memory: str = "1g"
    executor_instances: int = Field(default=1, ge=1)
    executor_cores: int = 1
    executor_core_limit: str = "1"
    executor_memory: str = "1g"
    checkpoint_size: str = "1Gi"
    # Driver and executors share the checkpoint volume: ReadWriteMany wherever pods may land on
    # different nodes. None = the cluster's storage class.
    checkpoint_access_mode: Literal["ReadWriteOnce", "ReadWriteMany"] = "ReadWriteOnce"
    checkpoint_storage_class: str | None = None
    # spark-submit's JVM (the launcher, not the driver): it only creates and watches the driver.
    submitter_resources: Resources = _resources("100m", "512Mi", "500m", "512Mi")


class GrafanaConfig(ConfigModel):
    image: str = "grafana/grafana:12.1.1"
    cassandra_plugin: str = "hadesarchitect-cassandra-datasource@3.1.0"
    dashboards_dir: str = "dashboards/grafana"
    admin_user: str = "admin"
    resources: Resources = _resources("100m", "256Mi", "500m", "512Mi")


class ProducerConfig(ConfigModel):
    replicas: int = Field(default=1, ge=1)
    symbols: tuple[str, ...] = (
        "BINANCE:BTCUSDT",
        "BINANCE:ETHUSDT",
        "BINANCE:XRPUSDT",
        "BINANCE:DOGEUSDT",
    )
    ws_url: str = "wss://ws.finnhub.io"
    metrics_port: int = 9108
    resources: Resources = _resources("100m", "128Mi", "500m", "256Mi")


class StackConfig(ConfigModel):
    """The whole non-secret configuration of one stack."""

    target: Literal["minikube", "eks"] = "minikube"
    cluster: ClusterConfig = ClusterConfig()
    terraform_state: TerraformStateConfig = TerraformStateConfig()
    images: ImagesConfig = ImagesConfig()
    kafka: KafkaConfig = KafkaConfig()
    cassandra: CassandraConfig = CassandraConfig()
    spark: SparkConfig = SparkConfig()
    grafana: GrafanaConfig = GrafanaConfig()
    producer: ProducerConfig = ProducerConfig()


SECTIONS = (
    "cluster",
    "terraformState",
    "images",
    "kafka",
    "cassandra",
    "spark",
    "grafana",
    "producer",
)


def parse_stack_config(raw: dict[str, Any]) -> StackConfig:
    """Validate the stack's config sections (already read from YAML) into a `StackConfig`."""
    return StackConfig.model_validate(raw)


def load_stack_config(config: pulumi.Config) -> StackConfig:
    """Read this stack's plain (non-secret) config through Pulumi."""
    raw: dict[str, Any] = {}
    target = config.get("target")
    if target is not None:
        raw["target"] = target
    for section in SECTIONS:
        value = config.get_object(section)
        if value is not None:
            raw[section] = value
    return parse_stack_config(raw)
