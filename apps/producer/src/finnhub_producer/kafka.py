"""The Kafka edge: confluent-kafka producer for trades and dead letters."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from confluent_kafka import KafkaError, Message, Producer

from finnhub_producer.encode import FINGERPRINT_HEADER, KafkaRecord
from finnhub_producer.metrics import ProducerMetrics
from finnhub_producer.settings import ProducerSettings

log = structlog.get_logger("finnhub_producer.kafka")

# How long one wait for the local queue to drain lasts; short so the loop stays responsive.
_BACKPRESSURE_POLL_S = 0.05


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
    }


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
    ) -> None:
        # librdkafka's own log lines go through structlog too, so stderr stays one JSON event
        # per line.
        self._producer = Producer(
            {**config, "error_cb": self._on_error, "logger": structlog.get_logger("librdkafka")}
        )
        self._topic = topic
        self._dlq_topic = dlq_topic
        self._headers = [(FINGERPRINT_HEADER, fingerprint)]
        self._metrics = metrics
        self._dlq_source = dlq_source.encode("utf-8")
        self._callbacks: dict[int, Callable[[KafkaError | None, Message], None]] = {}
        self.fatal_error: KafkaError | None = None
        self._on_fatal = on_fatal

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

    def flush(self, timeout_s: float) -> int:
        """Wait for every queued message's ack; returns how many are still unacknowledged."""
        return self._producer.flush(timeout_s)

    def close(self) -> None:
        """Release connections and threads now; call after a flush that left nothing behind
        (close() itself would wait for unacknowledged messages)."""
        self._producer.close()

    def _on_trade_delivery(self, trade_count: int, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self._metrics.trades_produced.inc(trade_count)
            self._metrics.messages_produced.inc()
        else:
            self._metrics.delivery_errors.inc()
            log.error(
                "kafka_delivery_failed",
                topic=msg.topic(),
                key=(msg.key() or b"").decode("utf-8", "replace"),
                trades=trade_count,
                error=err.str(),
            )

    def _on_dead_letter_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._metrics.delivery_errors.inc()
            log.error("kafka_dead_letter_delivery_failed", topic=msg.topic(), error=err.str())

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self.fatal_error = err
            log.error("kafka_fatal_error", error=err.str())
            if self._on_fatal is not None:
                self._on_fatal()
        else:
            # Transient (broker down, connection refused): librdkafka retries by itself.
            log.warning("kafka_error", error=err.str())
