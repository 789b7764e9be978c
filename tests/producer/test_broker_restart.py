"""A Kafka broker restart mid-stream loses nothing and duplicates nothing.

Runs its own single Kafka node (the session's broker is shared with other tests and must not
restart under them), started from the jars the session's local stack already resolved.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from finnhub_producer.fake_server import FakeFinnhub
from local_stack import processes
from local_stack.artifacts import KAFKA_JARS, JarResolver
from local_stack.kafka import KafkaService
from local_stack.network import free_ports
from local_stack.settings import LocalStackSettings

pytestmark = pytest.mark.services

SYMBOLS = ("BINANCE:BTCUSDT", "BINANCE:ETHUSDT", "AAPL")


@dataclass
class PrivateKafka:
    service: KafkaService
    settings: LocalStackSettings

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap

    def start(self, timeout_s: float = 240.0) -> None:
        self.service.prepare()
        processes.start_background(
            self.service.command(), self.service.files, self.service.home, stop_with_parent=True
        )
        deadline = time.monotonic() + timeout_s
        while not self.service.answers():
            if processes.recorded_pid(self.service.files) is None:
                raise RuntimeError(f"private kafka exited:\n{self.service.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"private kafka on {self.bootstrap} did not answer in {timeout_s}s:\n"
                    f"{self.service.log_tail()}"
                )
            time.sleep(0.5)

    def stop(self) -> None:
        processes.stop(self.service.files, self.settings.stop_timeout_s)


@pytest.fixture(scope="module")
def private_kafka(local_stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateKafka]:
    # Depending on the session stack reuses its skip-or-fail decision and its resolved jars.
    kafka_port, controller_port = free_ports(2)
    settings = LocalStackSettings(
        kafka_port=kafka_port,
        kafka_controller_port=controller_port,
        state_dir=Path(tmp_path_factory.mktemp("private-kafka")),
        kafka_heap="256m",
    )
    service = KafkaService(
        settings, processes.find_java(settings.java), JarResolver(settings).jar_dir(KAFKA_JARS)
    )
    kafka = PrivateKafka(service, settings)
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()


def test_broker_restart_mid_stream_loses_and_duplicates_nothing(
    private_kafka, create_topics, make_settings, start_producer, read_topic, decode_original
) -> None:
    topics = create_topics(private_kafka.bootstrap)
    with FakeFinnhub(rate=50, burst=4, ping_interval_s=0.3, seed=5) as fake:
        producer = start_producer(make_settings(fake.url, private_kafka.bootstrap, topics, SYMBOLS))
        fake.wait_until_subscribed(SYMBOLS)
        producer.wait_until_produced(20)
        private_kafka.stop()
        sent_while_down_from = len(fake.sent_trades())
        time.sleep(1.5)
        private_kafka.start()
        time.sleep(0.5)
        fake.pause()
        sent = fake.sent_trades()
        assert len(sent) > sent_while_down_from, "no trade was sent while the broker was down"
        producer.wait_until_produced(len(sent), timeout_s=120)
        assert producer.stop() == 0

    assert producer.value("finnhub_kafka_delivery_errors_total") == 0
    arrived = [
        t
        for m in read_topic(private_kafka.bootstrap, topics.trades)
        for t in decode_original(m.value())["data"]
    ]
    key = lambda t: json.dumps(t, sort_keys=True)  # noqa: E731
    assert Counter(map(key, arrived)) == Counter(map(key, sent))
