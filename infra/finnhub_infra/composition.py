"""What each component of the program is given: its Args, from the stack config and the
components before it in the data flow, and the stack's outputs.

`__main__.py` calls these in data-flow order and creates the components; here are only plain
functions of values (the upstream components are read through the few attributes named by the
protocols below), so each one is tested alone, without the program or the mocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import pulumi

from finnhub_infra.components.cassandra import CassandraStackArgs
from finnhub_infra.components.fake_feed import FakeFeedArgs, producer_config_for
from finnhub_infra.components.grafana import GrafanaStackArgs
from finnhub_infra.components.images import AppImagesArgs
from finnhub_infra.components.kafka import KafkaStackArgs
from finnhub_infra.components.network_policy import NetworkPoliciesArgs
from finnhub_infra.components.processor_workload import ProcessorWorkloadArgs
from finnhub_infra.components.producer import ProducerDeploymentArgs
from finnhub_infra.config import StackConfig
from finnhub_infra.processor_runner import checkpoint_storage_class


class KafkaEndpoint(Protocol):
    """What the processor and the producer take of Kafka (a `KafkaStack`)."""

    @property
    def bootstrap_servers(self) -> pulumi.Input[str]: ...
    @property
    def topic(self) -> str: ...
    @property
    def dlq_topic(self) -> str: ...


class CassandraEndpoint(Protocol):
    """What the processor and Grafana take of Cassandra (a `CassandraStack`)."""

    @property
    def contact_points(self) -> pulumi.Input[str]: ...
    @property
    def port(self) -> int: ...
    @property
    def keyspace(self) -> str: ...
    @property
    def credentials_secret_name(self) -> str: ...


class ImageReferences(Protocol):
    """The images' references the stack exports (an `AppImages`)."""

    @property
    def producer(self) -> pulumi.Input[str]: ...
    @property
    def processor(self) -> pulumi.Input[str]: ...
    @property
    def kafka(self) -> pulumi.Input[str]: ...
    @property
    def cassandra(self) -> pulumi.Input[str]: ...


class GrafanaAccess(Protocol):
    """What a user needs to open Grafana (a `GrafanaStack`)."""

    @property
    def service_name(self) -> str: ...
    @property
    def admin_password(self) -> pulumi.Input[str]: ...


def on_cluster(
    provider: pulumi.ProviderResource, after: Sequence[pulumi.Resource | None] = ()
) -> pulumi.ResourceOptions:
    """Options of a component on the stack's cluster, created after the parts in `after` that
    the stack has (`None`: a part it leaves out)."""
    depends_on = [part for part in after if part is not None]
    return pulumi.ResourceOptions(providers={"kubernetes": provider}, depends_on=depends_on or None)


def images_args(
    cfg: StackConfig, registry_url: pulumi.Input[str], repo_root: Path
) -> AppImagesArgs:
    return AppImagesArgs(
        registry_url=registry_url,
        config=cfg.images,
        repo_root=str(repo_root),
        with_fake_feed=cfg.fake_feed.enabled,
    )


def kafka_args(
    cfg: StackConfig, namespace: pulumi.Input[str], image: pulumi.Input[str]
) -> KafkaStackArgs:
    return KafkaStackArgs(
        namespace=namespace,
        config=cfg.kafka,
        storage_class=cfg.cluster.storage_class,
        image=image,
    )


def cassandra_args(
    cfg: StackConfig, namespace: pulumi.Input[str], image: pulumi.Input[str]
) -> CassandraStackArgs:
    return CassandraStackArgs(
        namespace=namespace,
        config=cfg.cassandra,
        storage_class=cfg.cluster.storage_class,
        image=image,
    )


def processor_args(
    cfg: StackConfig,
    namespace: pulumi.Input[str],
    image: pulumi.Input[str],
    kafka: KafkaEndpoint,
    cassandra: CassandraEndpoint,
) -> ProcessorWorkloadArgs:
    """The wiring of either runner: it reads the topics and writes the keyspace."""
    return ProcessorWorkloadArgs(
        namespace=namespace,
        config=cfg.spark,
        storage_class=checkpoint_storage_class(cfg.spark, cfg.cluster.storage_class),
        checkpoint_access_mode=cfg.spark.checkpoint_access_mode,
        processor_image=image,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_topic=kafka.topic,
        kafka_dlq_topic=kafka.dlq_topic,
        cassandra_hosts=cassandra.contact_points,
        cassandra_port=cassandra.port,
        cassandra_keyspace=cassandra.keyspace,
        cassandra_credentials_secret=cassandra.credentials_secret_name,
    )


def grafana_args(
    cfg: StackConfig,
    namespace: pulumi.Input[str],
    dashboards: dict[str, str],
    cassandra: CassandraEndpoint,
    admin_password: pulumi.Input[str] | None,
) -> GrafanaStackArgs | None:
    """Grafana reading the keyspace, or None where the stack leaves Grafana out."""
    if not cfg.grafana.enabled:
        return None
    return GrafanaStackArgs(
        namespace=namespace,
        config=cfg.grafana,
        dashboards=dashboards,
        cassandra_hosts=cassandra.contact_points,
        cassandra_port=cassandra.port,
        cassandra_keyspace=cassandra.keyspace,
        cassandra_credentials_secret=cassandra.credentials_secret_name,
        admin_password=admin_password,
    )


def fake_feed_args(
    cfg: StackConfig, namespace: pulumi.Input[str], image: pulumi.Input[str] | None
) -> FakeFeedArgs | None:
    """The in-cluster stand-in for Finnhub, or None where the stack does not enable it."""
    feed = cfg.fake_feed
    if not feed.enabled:
        return None
    if image is None:
        raise ValueError("fakeFeed.enabled, but the images were built without the fake feed")
    return FakeFeedArgs(
        namespace=namespace,
        image=image,
        rate=feed.rate,
        symbols=feed.extra_symbols,
        port=feed.port,
        resources=feed.resources,
        keep_trades=feed.keep_trades,
    )


def producer_args(
    cfg: StackConfig,
    namespace: pulumi.Input[str],
    image: pulumi.Input[str],
    finnhub_token: pulumi.Input[str],
    kafka: KafkaEndpoint,
) -> ProducerDeploymentArgs:
    """The producer writing the topics; it reads the fake feed instead of Finnhub where the
    stack enables the feed."""
    return ProducerDeploymentArgs(
        namespace=namespace,
        config=producer_config_for(cfg.producer, cfg.fake_feed),
        image=image,
        finnhub_token=finnhub_token,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_topic=kafka.topic,
        kafka_dlq_topic=kafka.dlq_topic,
    )


def network_policies_args(cfg: StackConfig, namespace: pulumi.Input[str]) -> NetworkPoliciesArgs:
    return NetworkPoliciesArgs(
        namespace=namespace,
        fake_feed_port=cfg.fake_feed.port if cfg.fake_feed.enabled else None,
        spark_runner=cfg.spark.runner,
    )


def stack_outputs(
    namespace: pulumi.Input[str],
    images: ImageReferences,
    kafka: KafkaEndpoint,
    cassandra: CassandraEndpoint,
    processor: tuple[str, pulumi.Input[str]],
    grafana: GrafanaAccess | None,
) -> dict[str, pulumi.Input[str]]:
    """The stack's outputs by name; `processor` is the runner's own (`runner_export`)."""
    outputs: dict[str, pulumi.Input[str]] = {
        "namespace": namespace,
        "kafkaBootstrapServers": kafka.bootstrap_servers,
        "cassandraContactPoints": cassandra.contact_points,
        "processorImage": images.processor,
        "producerImage": images.producer,
        "kafkaImage": images.kafka,
        "cassandraImage": images.cassandra,
    }
    name, value = processor
    outputs[name] = value
    if grafana is not None:
        outputs["grafanaService"] = grafana.service_name
        outputs["grafanaAdminPassword"] = grafana.admin_password
    return outputs
