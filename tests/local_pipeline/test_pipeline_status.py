"""`make run`'s status line against a real producer whose feed cannot connect (real Kafka)."""

import time
from pathlib import Path

import pytest
from local_pipeline.pipeline import Pipeline, producer_spec, status_line
from local_pipeline.producer_health import FeedState, metrics_url, read_feed_state
from local_stack.network import free_ports

pytestmark = pytest.mark.services


def test_status_says_the_feed_is_reconnecting_and_why_when_the_endpoint_is_unreachable(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nobody_listens, metrics_port = free_ports(2)
    # With a token the producer goes to the endpoint it is given, as against real Finnhub.
    monkeypatch.setenv("FINNHUB_TOKEN", "not-a-real-token")
    spec = producer_spec(
        kafka_bootstrap, ["BINANCE:BTCUSDT"], f"ws://127.0.0.1:{nobody_listens}", 20.0, metrics_port
    )
    state: FeedState | None = None
    with Pipeline(tmp_path) as pipeline:
        producer = pipeline.start(spec)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and producer.exit_code() is None:
            state = read_feed_state(metrics_url(metrics_port))
            if state is not None and state.state == "reconnecting":
                break
            time.sleep(0.2)
        line = status_line(pipeline.children, state)
        log = producer.tail()
    assert "producer: running, feed reconnecting (connect failed: " in line, log
    assert "Connection refused" in line
    assert "not-a-real-token" not in line
