"""The exit code keeps its promise: 0 only when every trade accepted was acknowledged by Kafka;
a missing topic is refused at start-up, before any trade is accepted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from finnhub_fake_feed.server import FakeFinnhub
from finnhub_producer.settings import ProducerSettings
from structlog.testing import capture_logs

pytestmark = pytest.mark.services

SYMBOLS = ("BINANCE:BTCUSDT", "AAPL")
CONSOLE_SCRIPT = Path(sys.executable).parent / "finnhub-producer"
SETTING_NAMES = {name.upper() for name in ProducerSettings.model_fields}


def _refusing_topic(bootstrap: str) -> str:
    """A real broker refusing every batch: the topic's size limit is below any record."""
    topic = f"market-test-refusing-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics(
        [NewTopic(topic, 1, 1, config={"max.message.bytes": "64"})], operation_timeout=30
    ).values():
        future.result(60)
    return topic


@pytest.fixture
def fake() -> Iterator[FakeFinnhub]:
    with FakeFinnhub(rate=100, burst=4, ping_interval_s=0.3, seed=17) as server:
        yield server


def test_delivery_errors_make_the_exit_code_1_and_count_every_trade(
    fake, kafka_bootstrap, topics, make_settings, start_producer
) -> None:
    refusing = _refusing_topic(kafka_bootstrap)
    settings = make_settings(
        fake.url, kafka_bootstrap, topics, SYMBOLS, kafka_topic=refusing, kafka_compression="none"
    )
    producer = start_producer(settings)
    fake.wait_until_subscribed(SYMBOLS)
    producer.wait_for(
        lambda: producer.value("finnhub_kafka_delivery_errors_total") >= 3, "delivery errors"
    )
    fake.pause()
    producer.wait_for(
        lambda: (
            producer.value("finnhub_trades_unacknowledged_total")
            == producer.value("finnhub_trades_received_total")
        ),
        "every received trade counted as unacknowledged",
    )
    assert producer.stop() == 1
    assert producer.value("finnhub_trades_produced_total") == 0
    assert producer.value("finnhub_trades_unacknowledged_total") == len(fake.sent_trades())


def test_missing_topic_is_refused_at_start_up_naming_it_and_the_broker(
    fake, kafka_bootstrap, topics
) -> None:
    absent = f"market-test-absent-{uuid.uuid4().hex[:10]}"
    environment = {
        **{k: v for k, v in os.environ.items() if k.upper() not in SETTING_NAMES},
        "FINNHUB_WS_URL": fake.url,
        "FINNHUB_SYMBOLS": ",".join(SYMBOLS),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC": absent,
        "KAFKA_DLQ_TOPIC": topics.dead_letters,
        "METRICS_HOST": "127.0.0.1",
        "METRICS_PORT": "0",
    }
    done = subprocess.run(
        [str(CONSOLE_SCRIPT)], env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    errors = [e for e in map(json.loads, done.stderr.splitlines()) if e["level"] == "error"]
    assert len(errors) == 1, errors
    assert absent in errors[0]["message"] and kafka_bootstrap in errors[0]["message"]
    # Refused before the first trade was accepted: the feed was never even opened.
    assert fake.connections_total == 0


def test_delivery_errors_are_logged_once_per_kind_not_once_per_message(
    fake, kafka_bootstrap, topics, make_settings, start_producer
) -> None:
    refusing = _refusing_topic(kafka_bootstrap)
    settings = make_settings(
        fake.url,
        kafka_bootstrap,
        topics,
        SYMBOLS,
        kafka_topic=refusing,
        kafka_compression="none",
        # Longer than the test: no periodic summary, only the first line and the final one.
        log_summary_interval_s=600.0,
    )
    with capture_logs() as logs:
        producer = start_producer(settings)
        fake.wait_until_subscribed(SYMBOLS)
        producer.wait_for(
            lambda: producer.value("finnhub_kafka_delivery_errors_total") >= 50, "delivery errors"
        )
        assert producer.stop() == 1
    failures = [e for e in logs if e["event"] == "kafka_delivery_failed"]
    # The first at once, the rest in the summary at the end: the counts add up.
    assert len(failures) == 2, failures
    assert sum(e["messages"] for e in failures) == producer.value(
        "finnhub_kafka_delivery_errors_total"
    )
    assert sum(e["trades"] for e in failures) == producer.value(
        "finnhub_trades_unacknowledged_total"
    )
