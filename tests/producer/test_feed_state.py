"""The feed's state is served on /metrics: what `make run`'s screen reads to say what happens."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from finnhub_fake_feed.server import FakeFinnhub
from finnhub_producer.feed import FeedClient
from finnhub_producer.metrics import MetricsServer, ProducerMetrics
from local_stack.network import free_ports


def _wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture
def metrics() -> Iterator[ProducerMetrics]:
    yield ProducerMetrics()


def _run_feed(url: str, metrics: ProducerMetrics, stop: threading.Event) -> threading.Thread:
    client = FeedClient(
        url,
        None,
        ["AAPL"],
        on_frame=lambda _frame: None,
        on_idle=lambda: None,
        metrics=metrics,
        reconnect_initial_s=0.05,
        reconnect_max_s=0.1,
        stall_timeout_s=30.0,
        read_timeout_s=0.05,
    )
    thread = threading.Thread(target=client.run, args=(stop,), daemon=True)
    thread.start()
    return thread


def _scrape(server: MetricsServer) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as reply:
        return reply.read().decode()


def test_unreachable_endpoint_is_served_as_reconnecting_with_the_reason(
    metrics: ProducerMetrics,
) -> None:
    (nobody_listens,) = free_ports(1)
    server = MetricsServer(metrics, "127.0.0.1", 0, 60.0)
    server.start()
    stop = threading.Event()
    thread = _run_feed(f"ws://127.0.0.1:{nobody_listens}", metrics, stop)
    try:
        _wait_for(lambda: metrics.feed_state.current[0] == "reconnecting")
        state_lines = [
            line for line in _scrape(server).splitlines() if line.startswith("finnhub_feed_state{")
        ]
    finally:
        stop.set()
        thread.join(10)
        server.stop()
    (line,) = state_lines
    assert 'state="reconnecting"' in line and "Connection refused" in line
    assert line.endswith(" 1.0")
    assert metrics.feed_state.current == ("stopped", "")


def test_feed_state_follows_connect_drop_and_reconnect(metrics: ProducerMetrics) -> None:
    with FakeFinnhub(rate=5) as fake:
        stop = threading.Event()
        thread = _run_feed(fake.url, metrics, stop)
        try:
            first = fake.wait_until_subscribed(["AAPL"])
            _wait_for(lambda: metrics.feed_state.current == ("connected", ""))
            fake.drop_connections()
            _wait_for(lambda: metrics.feed_state.current[0] == "reconnecting")
            assert metrics.feed_state.current[1].startswith("disconnected: ")
            fake.wait_until_subscribed(["AAPL"], after_connection=first)
            _wait_for(lambda: metrics.feed_state.current == ("connected", ""))
        finally:
            stop.set()
            thread.join(10)
    assert metrics.feed_state.current == ("stopped", "")
