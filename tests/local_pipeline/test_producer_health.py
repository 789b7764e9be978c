"""Reading the feed's state from the producer's /metrics text, as the producer writes it."""

from finnhub_producer.metrics import ProducerMetrics
from local_pipeline.producer_health import FeedState, parse_feed_state
from prometheus_client import generate_latest


def _served(state: str, reason: str = "") -> str:
    metrics = ProducerMetrics()
    metrics.feed_state.set(state, reason)
    return generate_latest(metrics.registry).decode()


def test_the_producers_own_metrics_text_parses_to_its_feed_state() -> None:
    reason = 'connect failed: HTTP 401 on the websocket handshake "quoted" \\ and\nnewline'
    assert parse_feed_state(_served("reconnecting", reason)) == FeedState("reconnecting", reason)
    assert parse_feed_state(_served("connected")) == FeedState("connected", "")


def test_metrics_without_a_feed_state_give_none() -> None:
    assert parse_feed_state("finnhub_connected 1.0\n") is None


def test_feed_state_reads_as_state_and_reason() -> None:
    assert FeedState("connected").describe() == "feed connected"
    assert (
        FeedState("reconnecting", "connect failed: refused").describe()
        == "feed reconnecting (connect failed: refused)"
    )
