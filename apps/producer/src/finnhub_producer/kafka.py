"""The Kafka edge: confluent-kafka producer for trades and dead letters."""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from finnhub_producer.encode import FINGERPRINT_HEADER, KafkaRecord
from finnhub_producer.kafka_outage import DeliveryFailures, KafkaOutage, LogLine, any_broker_up
from finnhub_producer.metrics import ProducerMetrics
from finnhub_producer.settings import ProducerSettings

log = structlog.get_logger("finnhub_producer.kafka")

# How long one wait for the local queue to drain lasts; short so the loop stays responsive.
_BACKPRESSURE_POLL_S = 0.05
# One metadata request at start-up; while no broker is up we wait for one instead of asking
# again (each request makes librdkafka retry the connection at once, bypassing its backoff).
_METADATA_TIMEOUT_S = 5.0
_WAIT_FOR_BROKER_POLL_S = 0.5
# After purging what the flush left, the purge's delivery reports arrive at once.
_PURGE_REPORTS_TIMEOUT_S = 5.0


def producer_config(settings: ProducerSettings) -> dict[str, Any]:
    """The whole librdkafka configuration, in one place."""
    return {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "client.id": "finnhub-producer",
        # Idempotence makes librdkafka's retries (after a broker restart, a lost ack) write each
        # message once and in order per partition; it requires acks=all.
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": settings.kafka_compression,
        "linger.ms": settings.kafka_linger_ms,
        "batch.size": settings.kafka_batch_size,
        # The bound of the local queue: beyond it produce() raises BufferError and we wait.
        "queue.buffering.max.messages": settings.kafka_queue_max_messages,
        "queue.buffering.max.kbytes": 262144,
        "message.timeout.ms": settings.kafka_delivery_timeout_ms,
        # Partition by the key's murmur2 hash, as the Java client does, so any client agrees
        # on which partition holds a symbol.
        "partitioner": "murmur2_random",
        # Broker states once a second, so the log can say when Kafka is back (librdkafka
        # reports errors, never recoveries).
        "statistics.interval.ms": 1000,
    }


class _LibrdkafkaLog:
    """librdkafka's own log lines, through structlog. Its FAIL lines (a connection attempt
    failed) repeat what the error callback reports and KafkaOutage summarises: debug only."""

    def __init__(self) -> None:
        self._log = structlog.get_logger("librdkafka")

    def log(self, level: int, msg: str, *args: object) -> None:
        if args and args[0] == "FAIL":
            level = logging.DEBUG
        self._log.log(level, msg, *args)


class TradeProducer:
    """Sends encoded trades and dead letters; counts what the broker acknowledged."""

    def __init__(
        self,
        config: dict[str, Any],
        topic: str,
        dlq_topic: str,
        fingerprint: bytes,
        metrics: ProducerMetrics,
        dlq_source: str = "finnhub-producer",
        on_fatal: Callable[[], None] | None = None,
        summary_interval_s: float = 60.0,
    ) -> None:
        self._outage = KafkaOutage(config["bootstrap.servers"], summary_interval_s)
        self._failures = DeliveryFailures(summary_interval_s)
        # librdkafka's own log lines go through structlog too, so stderr stays one JSON event
        # per line.
        self._producer = Producer(
            {
                **config,
                "error_cb": self._on_error,
                "stats_cb": self._on_stats,
                "logger": _LibrdkafkaLog(),
            }
        )
        self._topic = topic
        self._dlq_topic = dlq_topic
        self._headers = [(FINGERPRINT_HEADER, fingerprint)]
        self._metrics = metrics
        self._dlq_source = dlq_source.encode("utf-8")
        self._callbacks: dict[int, Callable[[KafkaError | None, Message], None]] = {}
        self.fatal_error: KafkaError | None = None
        self._on_fatal = on_fatal
        # Messages and trades that ended without the broker's ack (delivery error or purged at
        # the end): what makes the exit code non-zero.
        self.unacknowledged_messages = 0
        self.unacknowledged_trades = 0

    def missing_topics(self, stop: threading.Event) -> list[str] | None:
        """Waits until Kafka answers a metadata request; returns which of the two topics it
        does not have (empty: both exist), or None when `stop` came first."""
        while not stop.is_set():
            self._metrics.heartbeat()
            if self._outage.down_since is None or self._outage.brokers_up:
                try:
                    metadata = self._producer.list_topics(timeout=_METADATA_TIMEOUT_S)
                except KafkaException:
                    # The error callback reports why (and KafkaOutage says it once).
                    pass
                else:
                    return [
                        topic
                        for topic in (self._topic, self._dlq_topic)
                        if _topic_missing(metadata.topics.get(topic))
                    ]
            self._producer.poll(_WAIT_FOR_BROKER_POLL_S)
        self._emit([self._outage.drain(time.monotonic())])
        return None

    def send(self, record: KafkaRecord) -> None:
        """Queue one record; waits (never drops) while the local queue is full."""
        callback = self._callbacks.get(record.trade_count)
        if callback is None:
            callback = functools.partial(self._on_trade_delivery, record.trade_count)
            if record.trade_count < 1024:
                self._callbacks[record.trade_count] = callback
        self._produce(self._topic, record.value, record.key, self._headers, callback)

    def send_dead_letter(self, raw: str | bytes, reason: str, error: str) -> None:
        value = raw.encode("utf-8") if isinstance(raw, str) else raw
        headers = [
            ("source", self._dlq_source),
            ("error", f"{reason}: {error}".encode()),
            ("time", datetime.now(UTC).isoformat().encode("ascii")),
        ]
        self._produce(self._dlq_topic, value, None, headers, self._on_dead_letter_delivery)

    def _produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        headers: list[tuple[str, bytes]],
        callback: Callable[[KafkaError | None, Message], None],
    ) -> None:
        while True:
            try:
                self._producer.produce(topic, value, key, headers=headers, on_delivery=callback)
                break
            except BufferError:
                # The queue is full: serve delivery reports until there is room. The heartbeat
                # keeps liveness green: waiting on a slow broker is not being stuck.
                self._metrics.backpressure_waits.inc()
                self._metrics.heartbeat()
                self._producer.poll(_BACKPRESSURE_POLL_S)
        self._producer.poll(0)

    def poll(self, timeout_s: float = 0.0) -> None:
        self._producer.poll(timeout_s)

    def flush(self, timeout_s: float) -> None:
        """Waits up to `timeout_s` for every ack. What is still unacknowledged then is purged,
        so it too gets a delivery report and is counted; then the summaries still owed."""
        if self._producer.flush(timeout_s):
            self._producer.purge(in_queue=True, in_flight=True)
            self._producer.flush(_PURGE_REPORTS_TIMEOUT_S)
        now = time.monotonic()
        self._emit(self._failures.drain(now))
        self._emit([self._outage.drain(now)])

    def close(self) -> None:
        """Release connections and threads now; call after flush() (close() itself would wait
        for unacknowledged messages)."""
        self._producer.close()
        # close() can still serve an error callback; its count must reach the log too.
        self._emit([self._outage.drain(time.monotonic())])

    def _on_trade_delivery(self, trade_count: int, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self._metrics.trades_produced.inc(trade_count)
            self._metrics.messages_produced.inc()
        else:
            self._delivery_failed(msg, err, trade_count)

    def _on_dead_letter_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._delivery_failed(msg, err, 0)

    def _delivery_failed(self, msg: Message, err: KafkaError, trades: int) -> None:
        self._metrics.delivery_errors.inc()
        self._metrics.trades_unacknowledged.inc(trades)
        self.unacknowledged_messages += 1
        self.unacknowledged_trades += trades
        self._emit(self._failures.failed(msg.topic(), err.str(), trades, time.monotonic()))

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self.fatal_error = err
            log.error("kafka_fatal_error", error=err.str())
            if self._on_fatal is not None:
                self._on_fatal()
            return
        # Transient (broker down, connection refused): librdkafka retries by itself. Every
        # one is counted; the log gets the state changes.
        self._metrics.kafka_client_errors.labels(err.name()).inc()
        all_down = err.code() == KafkaError._ALL_BROKERS_DOWN
        if all_down:
            self._metrics.kafka_reachable.set(0)
        self._emit([self._outage.error(err.str(), time.monotonic(), all_down=all_down)])

    def _on_stats(self, stats_json: str) -> None:
        up = any_broker_up(json.loads(stats_json))
        self._metrics.kafka_reachable.set(1 if up else 0)
        now = time.monotonic()
        self._emit([self._outage.brokers(up, now)])
        self._emit(self._failures.tick(now))

    @staticmethod
    def _emit(lines: Iterable[LogLine | None]) -> None:
        for line in lines:
            if line is not None:
                getattr(log, line.level)(line.event, **line.fields)


def _topic_missing(topic: Any) -> bool:
    if topic is None:
        return True
    return topic.error is not None and topic.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
