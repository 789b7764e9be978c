"""Every variable an infra component sets on an app's container is one the app's settings read,
and the fake feed's container arguments are flags the feed knows: a renamed or misspelt name
fails here instead of the pod running silently on a default."""

from __future__ import annotations

from dataclasses import replace

import pytest
from finnhub_contracts.environment import container_env_names, unread_variables, variable_names
from finnhub_contracts.kafka import DLQ_TOPIC, TOPIC
from finnhub_fake_feed.settings import parse_settings
from finnhub_infra.components import producer
from finnhub_infra.components.fake_feed import feed_command
from finnhub_infra.components.processor_workload import ProcessorWiring, processor_env
from finnhub_infra.components.producer import producer_env
from finnhub_infra.config import FakeFeedConfig, ProducerConfig
from finnhub_processor.settings import SPARK_RUNTIME_VARIABLES, ProcessorSettings
from finnhub_producer.settings import ProducerSettings
from infra_harness import Rendered

PRODUCER_READS = variable_names(ProducerSettings)
PROCESSOR_READS = variable_names(ProcessorSettings) | SPARK_RUNTIME_VARIABLES
WIRING = ProcessorWiring(
    image="registry.test/finnhub-processor:0.1.0",
    kafka_bootstrap_servers="kafka:9092",
    kafka_topic=TOPIC,
    kafka_dlq_topic=DLQ_TOPIC,
    cassandra_hosts="cassandra-0.cassandra",
    cassandra_port=9042,
    cassandra_keyspace="market",
    cassandra_credentials_secret="cassandra-credentials",
)


def test_the_producer_reads_every_variable_its_container_is_given() -> None:
    env = container_env_names(producer_env(ProducerConfig(), "kafka:9092", TOPIC, DLQ_TOPIC))
    assert env and unread_variables(env, PRODUCER_READS) == []


def test_the_processor_reads_every_variable_its_pods_are_given() -> None:
    env = container_env_names(processor_env(WIRING))
    assert env and unread_variables(env, PROCESSOR_READS) == []


def test_a_misspelt_name_in_a_containers_env_is_named() -> None:
    env = [*processor_env(WIRING), {"name": "CASANDRA_HOSTS", "value": "x"}]
    assert unread_variables(container_env_names(env), PROCESSOR_READS) == ["CASANDRA_HOSTS"]


@pytest.mark.parametrize("symbols", [(), ("AAPL",)])
def test_the_fake_feed_knows_every_flag_its_container_is_given(symbols: tuple[str, ...]) -> None:
    cfg = FakeFeedConfig(enabled=True)
    command = feed_command(cfg.rate, symbols, cfg.port, cfg.keep_trades)
    assert command[:3] == ["python", "-m", "finnhub_fake_feed"]
    settings = parse_settings(command[3:])
    assert (settings.port, settings.keep_trades) == (cfg.port, cfg.keep_trades)


def test_the_rendered_producer_deployment_sets_only_what_the_producer_reads(
    minikube: Rendered,
) -> None:
    deployment = minikube.manifest("Deployment", producer.NAME)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert unread_variables(container_env_names(container["env"]), PRODUCER_READS) == []


def test_the_rendered_spark_application_sets_only_what_the_processor_reads(
    minikube: Rendered,
) -> None:
    app = minikube.manifest("SparkApplication", "finnhub-processor")
    for role in ("driver", "executor"):
        env = container_env_names(app["spec"][role].get("env", []))
        assert unread_variables(env, PROCESSOR_READS) == [], role


def test_the_stack_picks_the_trades_trigger_the_processor_reads() -> None:
    env = {
        item["name"]: item.get("value")
        for item in processor_env(replace(WIRING, trades_trigger="real-time"))
    }
    assert env["TRADES_TRIGGER"] == "real-time"
    assert "TRADES_TRIGGER" in variable_names(ProcessorSettings)
