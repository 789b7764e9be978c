"""Frame -> records/dead letters, and the metrics endpoint: no Kafka (an in-memory sink)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from finnhub_fake_feed.faults import GARBAGE_SAMPLES
from finnhub_producer.encode import KafkaRecord, TradeEncoder
from finnhub_producer.ingest import FrameIngestor
from finnhub_producer.metrics import MetricsServer, ProducerMetrics


class MemorySink:
    def __init__(self) -> None:
        self.records: list[KafkaRecord] = []
        self.dead_letters: list[tuple[str | bytes, str, str]] = []

    def send(self, record: KafkaRecord) -> None:
        self.records.append(record)

    def send_dead_letter(self, raw: str | bytes, reason: str, error: str) -> None:
        self.dead_letters.append((raw, reason, error))


@pytest.fixture
def metrics() -> ProducerMetrics:
    return ProducerMetrics()


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def ingestor(sink: MemorySink, metrics: ProducerMetrics) -> FrameIngestor:
    return FrameIngestor(TradeEncoder(), sink, metrics)


def _value(metrics: ProducerMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_trade_frame_becomes_one_record_per_symbol(
    ingestor: FrameIngestor, sink: MemorySink, metrics: ProducerMetrics
) -> None:
    trades = [
        {"c": None, "p": 1.0, "s": "A", "t": 1, "v": 1.0},
        {"c": None, "p": 1.0, "s": "B", "t": 1, "v": 1.0},
        {"c": None, "p": 1.0, "s": "A", "t": 2, "v": 1.0},
    ]
    ingestor.handle(json.dumps({"type": "trade", "data": trades}))
    assert [(r.key, r.trade_count) for r in sink.records] == [(b"A", 2), (b"B", 1)]
    assert _value(metrics, "finnhub_trades_received_total") == 3
    assert _value(metrics, "finnhub_frames_received_total", type="trade") == 1


def test_garbage_goes_to_dead_letters_raw_and_counted(
    ingestor: FrameIngestor, sink: MemorySink, metrics: ProducerMetrics
) -> None:
    for raw in GARBAGE_SAMPLES:
        ingestor.handle(raw)
    assert [raw for raw, _, _ in sink.dead_letters] == list(GARBAGE_SAMPLES)
    assert sink.records == []
    assert _value(metrics, "finnhub_dead_letters_total", reason="malformed") == len(GARBAGE_SAMPLES)


def test_ping_error_and_unknown_frames_are_counted_not_sent(
    ingestor: FrameIngestor, sink: MemorySink, metrics: ProducerMetrics
) -> None:
    for raw in ['{"type":"ping"}', '{"type":"error","msg":"x"}', '{"type":"news"}']:
        ingestor.handle(raw)
    assert sink.records == [] and sink.dead_letters == []
    for kind in ("ping", "error", "unknown"):
        assert _value(metrics, "finnhub_frames_received_total", type=kind) == 1


def test_metrics_and_liveness_are_served_over_http(metrics: ProducerMetrics) -> None:
    server = MetricsServer(metrics, "127.0.0.1", 0, liveness_timeout_s=60)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
            body = response.read().decode()
        for name in (
            "finnhub_frames_received_total",
            "finnhub_trades_produced_total",
            "finnhub_kafka_delivery_errors_total",
            "finnhub_reconnects_total",
            "finnhub_last_trade_age_seconds",
        ):
            assert name in body
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            assert response.status == 200
    finally:
        server.stop()


def test_liveness_fails_when_the_loop_stops_beating(metrics: ProducerMetrics) -> None:
    server = MetricsServer(metrics, "127.0.0.1", 0, liveness_timeout_s=0.01)
    server.start()
    time.sleep(0.05)
    try:
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
        assert error.value.code == 503
    finally:
        server.stop()
