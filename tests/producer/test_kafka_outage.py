"""A Kafka that does not answer is said once, summarised while it lasts, never once per failure;
the metrics still count every failure."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from finnhub_fake_feed.server import FakeFinnhub
from finnhub_producer.kafka_outage import DeliveryFailures, KafkaOutage
from finnhub_producer.settings import ProducerSettings
from structlog.testing import capture_logs

CONSOLE_SCRIPT = Path(sys.executable).parent / "finnhub-producer"
SETTING_NAMES = {name.upper() for name in ProducerSettings.model_fields}
SYMBOLS = ("BINANCE:BTCUSDT", "AAPL")
KAFKA_EVENTS = {"kafka_unreachable", "kafka_still_unreachable", "kafka_reachable", "kafka_error"}


def _nothing_listening() -> str:
    """A loopback port that was free a moment ago: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def fake() -> Iterator[FakeFinnhub]:
    with FakeFinnhub(rate=50, burst=4, ping_interval_s=0.3, seed=23) as server:
        yield server


def test_a_broker_that_is_not_there_is_said_once_then_summarised(fake) -> None:
    window_s, interval_s = 12.0, 4.0
    environment = {
        **{k: v for k, v in os.environ.items() if k.upper() not in SETTING_NAMES},
        "FINNHUB_WS_URL": fake.url,
        "FINNHUB_SYMBOLS": ",".join(SYMBOLS),
        "KAFKA_BOOTSTRAP_SERVERS": _nothing_listening(),
        "METRICS_HOST": "127.0.0.1",
        "METRICS_PORT": "0",
        "LOG_SUMMARY_INTERVAL_S": str(interval_s),
    }
    process = subprocess.Popen(
        [str(CONSOLE_SCRIPT)], env=environment, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(window_s)
        assert process.poll() is None, "the producer gave up instead of waiting for Kafka"
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        stderr = process.communicate()[1]
        print(stderr[-5000:])
    events = [json.loads(line)["event"] for line in stderr.splitlines() if line.strip()]
    assert events.count("kafka_unreachable") == 1
    # One summary per interval at most (plus the last one at the stop), nothing per attempt.
    assert 1 <= events.count("kafka_still_unreachable") <= window_s / interval_s + 1
    assert len(events) <= 3 + window_s / interval_s + 1, events


def test_the_log_adds_up_to_the_error_metric(fake, start_producer, make_settings) -> None:
    settings = make_settings(
        fake.url,
        _nothing_listening(),
        SimpleNamespace(trades="market", dead_letters="market.dlq"),
        SYMBOLS,
        log_summary_interval_s=1.0,
    )
    with capture_logs() as logs:
        producer = start_producer(settings)
        time.sleep(6.0)
        assert producer.stop() == 0
    counted = producer.metrics.registry.get_sample_value
    errors = sum(
        counted("finnhub_kafka_client_errors_total", {"error": name}) or 0.0
        for name in ("_TRANSPORT", "_ALL_BROKERS_DOWN")
    )
    logged = [e for e in logs if e["event"] in KAFKA_EVENTS]
    said = sum(
        1 if e["event"] == "kafka_unreachable" else e["errors_since_last_line"] for e in logged
    )
    assert errors >= 2
    assert said == errors
    assert not [e for e in logs if e["event"].startswith("FAIL") and e["log_level"] != "debug"]


def test_outage_says_down_once_summarises_and_says_when_it_is_back() -> None:
    outage = KafkaOutage("k:9092", summary_interval_s=10.0)
    assert outage.brokers(True, 0.0) is None
    lines = [outage.error("1/1 brokers are down", 1.0, all_down=True)]
    lines += [outage.error("refused", 1.0 + i / 10) for i in range(1, 300)]
    lines += [outage.brokers(False, 1.0 + i) for i in range(30)]
    said = [line for line in lines if line is not None]
    assert [line.event for line in said] == ["kafka_unreachable"] + ["kafka_still_unreachable"] * 2
    back = outage.brokers(True, 40.0)
    assert back is not None and back.event == "kafka_reachable"
    assert back.fields["errors"] == 300
    assert (
        1
        + sum(line.fields["errors_since_last_line"] for line in said[1:])
        + back.fields["errors_since_last_line"]
        == 300
    )


def test_errors_while_a_broker_is_up_are_rate_limited_not_an_outage() -> None:
    outage = KafkaOutage("k:9092", summary_interval_s=10.0)
    outage.brokers(True, 0.0)
    said = [line for i in range(100) if (line := outage.error("one broker refused", i / 5))]
    assert [line.event for line in said] == ["kafka_error"] * 2
    assert outage.down_since is None
    last = outage.drain(20.0)
    assert last is not None
    assert 2 + said[1].fields["not_shown_before"] + last.fields["not_shown"] == 100


def test_delivery_failures_first_at_once_then_summaries_that_add_up() -> None:
    failures = DeliveryFailures(summary_interval_s=5.0)
    lines = [line for i in range(1000) for line in failures.failed("t", "refused", 3, i / 100)]
    lines += failures.drain(10.0)
    assert len(lines) == 3
    assert sum(line.fields["messages"] for line in lines) == 1000
    assert sum(line.fields["trades"] for line in lines) == 3000
