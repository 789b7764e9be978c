"""Producer test fixtures: fresh topics on the session's real Kafka, a topic reader, and a
producer running in a thread against a fake Finnhub."""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import fastavro
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from finnhub_producer.cli import run_producer
from finnhub_producer.encode import load_trade_schema
from finnhub_producer.metrics import ProducerMetrics
from finnhub_producer.settings import ProducerSettings

# The original design's schema, as its consumers knew it: whatever we write must stay readable
# with it.
ORIGINAL_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "message",
    "namespace": "FinnhubProducer",
    "fields": [
        {
            "name": "data",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "data",
                    "fields": [
                        {
                            "name": "c",
                            "type": [{"type": "array", "items": ["null", "string"]}, "null"],
                            "default": [],
                        },
                        {"name": "p", "type": "double"},
                        {"name": "s", "type": "string"},
                        {"name": "t", "type": "long"},
                        {"name": "v", "type": "double"},
                    ],
                },
            },
        },
        {"name": "type", "type": "string"},
    ],
}


@pytest.fixture(scope="session")
def original_schema() -> dict[str, Any]:
    return ORIGINAL_SCHEMA


@dataclass(frozen=True)
class Topics:
    trades: str
    dead_letters: str


def _create_topics(bootstrap: str, partitions: int = 3) -> Topics:
    """A private topic pair, so tests never see each other's (or the pipeline's) messages."""
    suffix = uuid.uuid4().hex[:10]
    topics = Topics(f"market-test-{suffix}", f"market-test-{suffix}.dlq")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(topics.trades, partitions, 1), NewTopic(topics.dead_letters, 1, 1)],
        operation_timeout=30,
    )
    for future in futures.values():
        future.result(60)
    return topics


@pytest.fixture
def topics(kafka_bootstrap: str) -> Topics:
    return _create_topics(kafka_bootstrap)


@pytest.fixture(scope="session")
def create_topics() -> Callable[..., Topics]:
    """`create_topics(bootstrap)`: a fresh private topic pair on any broker."""
    return _create_topics


def _read_topic(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list[Message]:
    """Every message in the topic, from the first offset up to the current end."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"producer-test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=30)
        partitions = sorted(metadata.topics[topic].partitions)
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in partitions
        }
        pending = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
        messages: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: partitions {sorted(pending)} not read to their end")
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error() is not None:
                raise RuntimeError(f"{topic}: {message.error()}")
            messages.append(message)
            if message.offset() + 1 >= ends[message.partition()]:
                pending.discard(message.partition())
        return messages
    finally:
        consumer.close()


@pytest.fixture(scope="session")
def read_topic() -> Callable[..., list[Message]]:
    """`read_topic(bootstrap, topic)`: every message in the topic, first offset to current end."""
    return _read_topic


@pytest.fixture(scope="session")
def decode_original() -> Callable[[bytes], dict[str, Any]]:
    """Decodes a value as a consumer holding only the original design's schema would."""
    writer = fastavro.parse_schema(load_trade_schema())
    reader = fastavro.parse_schema(ORIGINAL_SCHEMA)
    return lambda value: fastavro.schemaless_reader(io.BytesIO(value), writer, reader)


@dataclass
class RunningProducer:
    metrics: ProducerMetrics
    stop_event: threading.Event
    thread: threading.Thread
    exit_codes: list[int] = field(default_factory=list)

    def value(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    def wait_for(self, condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"producer: {what} not reached within {timeout_s}s")
            time.sleep(0.05)

    def wait_until_produced(self, trades: int, timeout_s: float = 60.0) -> None:
        self.wait_for(
            lambda: self.value("finnhub_trades_produced_total") >= trades,
            f"{trades} trades acknowledged",
            timeout_s,
        )

    def stop(self) -> int:
        self.stop_event.set()
        self.thread.join(60)
        assert not self.thread.is_alive(), "producer thread did not stop"
        return self.exit_codes[0]


def _producer_settings(
    feed_url: str, bootstrap: str, topics: Topics, symbols: tuple[str, ...], **overrides: Any
) -> ProducerSettings:
    values: dict[str, Any] = {
        "finnhub_ws_url": feed_url,
        "finnhub_symbols": symbols,
        "finnhub_token": None,
        "kafka_bootstrap_servers": bootstrap,
        "kafka_topic": topics.trades,
        "kafka_dlq_topic": topics.dead_letters,
        "metrics_host": "127.0.0.1",
        "metrics_port": 0,
        "reconnect_initial_s": 0.05,
        "reconnect_max_s": 0.5,
        "stall_timeout_s": 5.0,
        "kafka_linger_ms": 5,
    }
    values.update(overrides)
    return ProducerSettings(**values)


@pytest.fixture(scope="session")
def make_settings() -> Callable[..., ProducerSettings]:
    """`make_settings(feed_url, bootstrap, topics, symbols, **overrides)`, test-speed timings."""
    return _producer_settings


@pytest.fixture
def start_producer() -> Iterator[Callable[..., RunningProducer]]:
    """`start_producer(settings, flush_timeout_s=...)`: runs `run_producer` in a thread; stops
    every producer a test started."""
    started: list[RunningProducer] = []

    def start(settings: ProducerSettings, **run_options: Any) -> RunningProducer:
        metrics = ProducerMetrics()
        stop_event = threading.Event()
        running = RunningProducer(metrics, stop_event, threading.Thread())

        def target() -> None:
            running.exit_codes.append(
                run_producer(
                    settings, stop_event, metrics=metrics, read_timeout_s=0.1, **run_options
                )
            )

        running.thread = threading.Thread(target=target, name="producer-under-test", daemon=True)
        running.thread.start()
        started.append(running)
        return running

    yield start
    for running in started:
        if running.thread.is_alive():
            running.stop()
