"""Prometheus metrics and the liveness endpoint, served on one port.

`/metrics` is the Prometheus text format; `/healthz` answers 200 while the main loop has beaten
its heart within `liveness_timeout_s`, else 503, so a Kubernetes liveness probe restarts a producer
that hangs (the websocket loop wakes at least every read timeout, connected or not).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

FEED_STATES = ("starting", "connected", "reconnecting", "stopped")


class FeedStateGauge:
    """`finnhub_feed_state{state, reason} 1`: the feed's one current state and why it is so.

    Exactly one series at any scrape: the pair is swapped as one value, where a labelled Gauge
    would need a clear() and a set() that a scrape could fall between. `reason` is the last
    connect or disconnect error (already free of the URL and token), empty while connected.
    """

    def __init__(self) -> None:
        self._current = ("starting", "")

    def set(self, state: str, reason: str = "") -> None:
        if state not in FEED_STATES:
            raise ValueError(f"unknown feed state {state!r}; one of {FEED_STATES}")
        self._current = (state, reason)

    @property
    def current(self) -> tuple[str, str]:
        return self._current

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state, reason = self._current
        family = GaugeMetricFamily(
            "finnhub_feed_state",
            "1 for the feed's current state (starting, connected, reconnecting, stopped) and "
            "the last connection error",
            labels=["state", "reason"],
        )
        family.add_metric([state, reason], 1.0)
        yield family


class ProducerMetrics:
    """All producer metrics in a registry of their own (several producers may share a process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.frames_received = Counter(
            "finnhub_frames_received",
            "Websocket frames received, by Finnhub frame type",
            ["type"],
            registry=self.registry,
        )
        self.trades_received = Counter(
            "finnhub_trades_received",
            "Trades received in valid trade frames",
            registry=self.registry,
        )
        self.trades_produced = Counter(
            "finnhub_trades_produced",
            "Trades acknowledged by Kafka (all in-sync replicas)",
            registry=self.registry,
        )
        self.messages_produced = Counter(
            "finnhub_kafka_messages_produced",
            "Kafka messages acknowledged on the trade topic",
            registry=self.registry,
        )
        self.delivery_errors = Counter(
            "finnhub_kafka_delivery_errors",
            "Kafka messages (trades and dead letters) that ended without the broker's ack: "
            "a delivery error, or still queued when the shutdown flush timed out",
            registry=self.registry,
        )
        self.trades_unacknowledged = Counter(
            "finnhub_trades_unacknowledged",
            "Trades accepted from the feed that Kafka did not acknowledge (any makes the exit "
            "code 1)",
            registry=self.registry,
        )
        self.kafka_client_errors = Counter(
            "finnhub_kafka_client_errors",
            "Errors librdkafka reported (a failed connection, all brokers down), by error name",
            ["error"],
            registry=self.registry,
        )
        self.kafka_reachable = Gauge(
            "finnhub_kafka_reachable",
            "1 while at least one Kafka broker connection is up",
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "finnhub_dead_letters",
            "Frames sent to the dead-letter topic, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.backpressure_waits = Counter(
            "finnhub_kafka_backpressure_waits",
            "Times the local Kafka queue was full and the producer waited for it to drain",
            registry=self.registry,
        )
        self.reconnects = Counter(
            "finnhub_reconnects", "Websocket reconnect attempts", registry=self.registry
        )
        self.connected = Gauge(
            "finnhub_connected", "1 while subscribed to the feed", registry=self.registry
        )
        self.feed_state = FeedStateGauge()
        self.registry.register(self.feed_state)
        self.last_trade_age = Gauge(
            "finnhub_last_trade_age_seconds",
            "Seconds since the last trade arrived (-1 before the first)",
            registry=self.registry,
        )
        self._last_trade_at: float | None = None
        self.last_trade_age.set_function(self._seconds_since_last_trade)
        self._heartbeat_at = time.monotonic()

    def _seconds_since_last_trade(self) -> float:
        if self._last_trade_at is None:
            return -1.0
        return time.monotonic() - self._last_trade_at

    def trade_arrived(self) -> None:
        self._last_trade_at = time.monotonic()

    def heartbeat(self) -> None:
        self._heartbeat_at = time.monotonic()

    def is_alive(self, timeout_s: float) -> bool:
        return time.monotonic() - self._heartbeat_at < timeout_s


class MetricsServer:
    """HTTP server for /metrics and /healthz in a daemon thread."""

    def __init__(
        self, metrics: ProducerMetrics, host: str, port: int, liveness_timeout_s: float
    ) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    self._reply(200, CONTENT_TYPE_LATEST, generate_latest(metrics.registry))
                elif self.path == "/healthz":
                    if metrics.is_alive(liveness_timeout_s):
                        self._reply(200, "text/plain", b"ok\n")
                    else:
                        self._reply(503, "text/plain", b"main loop stuck\n")
                else:
                    self._reply(404, "text/plain", b"not found\n")

            def _reply(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                # Probes every few seconds would drown the event log.
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-http", daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
