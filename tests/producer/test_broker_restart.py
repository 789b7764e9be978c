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
from background_processes.pid_files import start_background
from finnhub_fake_feed.server import FakeFinnhub
from local_stack import processes
from local_stack.artifacts import KAFKA_JARS, JarResolver
from local_stack.kafka import KafkaService
from local_stack.network import free_ports
from local_stack.settings import LocalStackSettings
from structlog.testing import capture_logs

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
        start_background(
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


def test_a_broker_outage_mid_stream_is_said_once_summarised_and_its_end_said(
    private_kafka, create_topics, make_settings, start_producer
) -> None:
    topics = create_topics(private_kafka.bootstrap)
    with FakeFinnhub(rate=50, burst=4, ping_interval_s=0.3, seed=7) as fake:
        settings = make_settings(
            fake.url, private_kafka.bootstrap, topics, SYMBOLS, log_summary_interval_s=2.0
        )
        with capture_logs() as logs:
            producer = start_producer(settings)
            fake.wait_until_subscribed(SYMBOLS)
            producer.wait_until_produced(20)
            private_kafka.stop()
            down_at = time.monotonic()
            time.sleep(8.0)
            private_kafka.start()
            down_s = time.monotonic() - down_at
            producer.wait_for(
                lambda: any(e["event"] == "kafka_reachable" for e in logs), "kafka_reachable", 60
            )
            fake.pause()
            producer.wait_until_produced(len(fake.sent_trades()), timeout_s=120)
            assert producer.stop() == 0

    # Shown by pytest when the test fails.
    print("\n".join(json.dumps(e, default=str) for e in logs if e.get("log_level") != "debug"))
    events = [e["event"] for e in logs if e.get("log_level") != "debug"]
    kafka = [e for e in events if e.startswith(("kafka", "FAIL", "librdkafka"))]
    assert events.count("kafka_unreachable") == 1
    assert events.count("kafka_reachable") == 1
    # A start-up at most per interval while down, plus the transition lines: not per attempt.
    assert len(kafka) <= 3 + down_s / 2.0 + 1, kafka
    assert producer.value("finnhub_kafka_reachable") == 1


def test_trades_still_unacknowledged_when_the_flush_times_out_make_the_exit_code_1(
    private_kafka, create_topics, make_settings, start_producer
) -> None:
    topics = create_topics(private_kafka.bootstrap)
    with FakeFinnhub(rate=50, burst=4, ping_interval_s=0.3, seed=9) as fake:
        settings = make_settings(fake.url, private_kafka.bootstrap, topics, SYMBOLS)
        producer = start_producer(settings, flush_timeout_s=1.0)
        fake.wait_until_subscribed(SYMBOLS)
        producer.wait_until_produced(20)
        private_kafka.stop()
        try:
            received = producer.value("finnhub_trades_received_total")
            producer.wait_for(
                lambda: producer.value("finnhub_trades_received_total") > received + 20,
                "trades accepted while the broker is down",
            )
            fake.pause()
            assert producer.stop() == 1
        finally:
            private_kafka.start()

    received = producer.value("finnhub_trades_received_total")
    produced = producer.value("finnhub_trades_produced_total")
    assert produced < received
    assert producer.value("finnhub_trades_unacknowledged_total") == received - produced
