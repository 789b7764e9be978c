"""What each component is given, built alone from a stack config and stand-ins for the upstream
components: the wiring `__main__.py` composes, without the program or the engine."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from finnhub_infra import composition
from finnhub_infra.components.fake_feed import service_url
from finnhub_infra.config import StackConfig, parse_stack_config
from infra_harness import REPO_ROOT, run_mocked

PROGRAM = REPO_ROOT / "infra" / "__main__.py"


@dataclass(frozen=True)
class Kafka:
    bootstrap_servers: str = "kafka.ns.svc:9092"
    topic: str = "market"
    dlq_topic: str = "market.dlq"


@dataclass(frozen=True)
class Cassandra:
    contact_points: str = "cassandra.ns.svc"
    port: int = 9042
    keyspace: str = "market"
    credentials_secret_name: str = "cassandra-credentials"


@dataclass(frozen=True)
class Images:
    producer: str = "registry/producer@sha256:1"
    processor: str = "registry/processor@sha256:2"
    kafka: str = "registry/kafka@sha256:3"
    cassandra: str = "registry/cassandra@sha256:4"


@dataclass(frozen=True)
class Grafana:
    service_name: str = "grafana"
    admin_password: str = "admin-secret"


def stack(**sections: dict[str, Any]) -> StackConfig:
    return parse_stack_config({"cluster": {"storageClass": "fast"}, **sections})


def test_kafka_and_cassandra_get_their_section_the_clusters_storage_class_and_their_image() -> None:
    cfg = stack(kafka={"replicas": 3, "topicReplicationFactor": 3})
    kafka = composition.kafka_args(cfg, "ns", "kafka-image")
    cassandra = composition.cassandra_args(cfg, "ns", "cassandra-image")
    assert (kafka.config, kafka.storage_class, kafka.image) == (cfg.kafka, "fast", "kafka-image")
    assert (cassandra.config, cassandra.storage_class) == (cfg.cassandra, "fast")
    assert cassandra.image == "cassandra-image"


def test_the_processor_reads_kafkas_topics_and_writes_cassandras_keyspace() -> None:
    args = composition.processor_args(stack(), "ns", "processor-image", Kafka(), Cassandra())
    assert args.processor_image == "processor-image"
    assert (args.kafka_bootstrap_servers, args.kafka_topic, args.kafka_dlq_topic) == (
        "kafka.ns.svc:9092",
        "market",
        "market.dlq",
    )
    assert (args.cassandra_hosts, args.cassandra_port, args.cassandra_keyspace) == (
        "cassandra.ns.svc",
        9042,
        "market",
    )
    assert args.cassandra_credentials_secret == "cassandra-credentials"


def test_the_processors_checkpoints_use_their_own_storage_class_where_the_stack_names_one() -> None:
    own = stack(spark={"checkpointStorageClass": "shared", "checkpointAccessMode": "ReadWriteMany"})
    args = composition.processor_args(own, "ns", "image", Kafka(), Cassandra())
    assert (args.storage_class, args.checkpoint_access_mode) == ("shared", "ReadWriteMany")
    default = composition.processor_args(stack(), "ns", "image", Kafka(), Cassandra())
    assert default.storage_class == "fast"


def test_grafana_reads_the_keyspace_with_its_own_credentials_and_the_given_dashboards() -> None:
    dashboards = {"a.json": "{}"}
    args = composition.grafana_args(stack(), "ns", dashboards, Cassandra(), "chosen")
    assert args is not None
    assert (args.cassandra_hosts, args.cassandra_port, args.cassandra_keyspace) == (
        "cassandra.ns.svc",
        9042,
        "market",
    )
    assert args.cassandra_credentials_secret == "cassandra-credentials"
    assert (args.dashboards, args.admin_password) == (dashboards, "chosen")


def test_a_stack_without_grafana_gets_no_grafana_args() -> None:
    cfg = stack(grafana={"enabled": False})
    assert composition.grafana_args(cfg, "ns", {}, Cassandra(), None) is None


def test_the_fake_feed_is_left_out_unless_the_stack_enables_it() -> None:
    assert composition.fake_feed_args(stack(), "ns", None) is None


def test_an_enabled_fake_feed_gets_the_stacks_rate_extra_symbols_port_and_bound() -> None:
    cfg = stack(
        fakeFeed={
            "enabled": True,
            "rate": 2,
            "extraSymbols": ["X:Y"],
            "port": 9000,
            "keepTrades": 7,
        }
    )
    args = composition.fake_feed_args(cfg, "ns", "feed-image")
    assert args is not None
    assert (args.image, args.rate, args.symbols, args.port, args.keep_trades) == (
        "feed-image",
        2,
        ("X:Y",),
        9000,
        7,
    )
    assert args.resources == cfg.fake_feed.resources


def test_an_enabled_fake_feed_without_its_image_is_an_error_naming_the_setting() -> None:
    with pytest.raises(ValueError, match=r"fakeFeed\.enabled"):
        composition.fake_feed_args(stack(fakeFeed={"enabled": True}), "ns", None)


def test_the_producer_writes_kafkas_topics_with_the_stacks_token() -> None:
    args = composition.producer_args(stack(), "ns", "producer-image", "token", Kafka())
    assert (args.image, args.finnhub_token) == ("producer-image", "token")
    assert (args.kafka_bootstrap_servers, args.kafka_topic, args.kafka_dlq_topic) == (
        "kafka.ns.svc:9092",
        "market",
        "market.dlq",
    )
    assert args.config.ws_url == "wss://ws.finnhub.io"


def test_the_producer_reads_the_in_cluster_fake_feed_where_the_stack_enables_it() -> None:
    cfg = stack(fakeFeed={"enabled": True, "port": 9000})
    args = composition.producer_args(cfg, "ns", "producer-image", "token", Kafka())
    assert args.config.ws_url == service_url(9000)
    assert args.config.symbols == cfg.producer.symbols


def test_network_policies_open_the_feeds_port_only_where_the_feed_runs() -> None:
    assert composition.network_policies_args(stack(), "ns").fake_feed_port is None
    feed = stack(fakeFeed={"enabled": True, "port": 9000}, spark={"runner": "submit"})
    args = composition.network_policies_args(feed, "ns")
    assert (args.fake_feed_port, args.spark_runner) == (9000, "submit")


def test_the_stack_exports_the_endpoints_images_the_runners_output_and_grafana() -> None:
    outputs = composition.stack_outputs(
        "ns",
        Images(),
        Kafka(),
        Cassandra(),
        ("sparkOperatorNamespace", "spark-operator"),
        Grafana(),
    )
    assert outputs == {
        "namespace": "ns",
        "kafkaBootstrapServers": "kafka.ns.svc:9092",
        "cassandraContactPoints": "cassandra.ns.svc",
        "processorImage": "registry/processor@sha256:2",
        "producerImage": "registry/producer@sha256:1",
        "kafkaImage": "registry/kafka@sha256:3",
        "cassandraImage": "registry/cassandra@sha256:4",
        "sparkOperatorNamespace": "spark-operator",
        "grafanaService": "grafana",
        "grafanaAdminPassword": "admin-secret",
    }


def test_a_stack_without_grafana_exports_nothing_of_it() -> None:
    outputs = composition.stack_outputs(
        "ns", Images(), Kafka(), Cassandra(), ("sparkSubmitter", "submitter"), None
    )
    assert outputs["sparkSubmitter"] == "submitter"
    assert not {"grafanaService", "grafanaAdminPassword"} & set(outputs)


def test_components_go_on_the_cluster_after_only_the_parts_the_stack_has() -> None:
    seen: dict[str, Any] = {}

    def body() -> None:
        seen["provider"] = k8s.Provider("cluster", context="minikube")
        seen["kafka"] = pulumi.ComponentResource("test:index:Part", "kafka")
        seen["alone"] = composition.on_cluster(seen["provider"])
        seen["after"] = composition.on_cluster(seen["provider"], after=[seen["kafka"], None])

    run_mocked(body)
    alone, after = seen["alone"], seen["after"]
    assert alone.providers == after.providers == {"kubernetes": seen["provider"]}
    assert alone.depends_on is None
    assert after.depends_on == [seen["kafka"]]


def called_names(tree: ast.AST) -> list[str]:
    return [
        node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)
    ]


def test_the_program_builds_no_component_args_itself() -> None:
    # The composition stays readable as the data flow: argument lists live in composition.py.
    built_here = [
        name for name in called_names(ast.parse(PROGRAM.read_text())) if name.endswith("Args")
    ]
    assert built_here == []


def test_the_program_fits_one_screen() -> None:
    assert len(Path(PROGRAM).read_text().splitlines()) <= 80
