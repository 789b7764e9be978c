"""One received frame -> Kafka: parse, count, split per symbol, encode, send or dead-letter."""

from __future__ import annotations

from typing import Protocol

import structlog

from finnhub_producer.encode import KafkaRecord, TradeEncoder
from finnhub_producer.frames import (
    ErrorFrame,
    Frame,
    PingFrame,
    TradeFrame,
    UnknownFrame,
    parse_frame,
)
from finnhub_producer.metrics import ProducerMetrics

log = structlog.get_logger("finnhub_producer.ingest")


class RecordSink(Protocol):
    def send(self, record: KafkaRecord) -> None: ...

    def send_dead_letter(self, raw: str | bytes, reason: str, error: str) -> None: ...


class FrameIngestor:
    """Turns raw websocket frames into Kafka messages; a bad frame never stops it."""

    def __init__(self, encoder: TradeEncoder, sink: RecordSink, metrics: ProducerMetrics) -> None:
        self._encoder = encoder
        self._sink = sink
        self._metrics = metrics
        self._frame_counters = {
            name: metrics.frames_received.labels(name)
            for name in ("trade", "ping", "error", "unknown", "malformed")
        }

    def handle(self, raw: str | bytes) -> Frame:
        frame = parse_frame(raw)
        if isinstance(frame, TradeFrame):
            self._frame_counters["trade"].inc()
            self._send_trades(raw, frame)
        elif isinstance(frame, PingFrame):
            self._frame_counters["ping"].inc()
        elif isinstance(frame, ErrorFrame):
            self._frame_counters["error"].inc()
            log.warning("finnhub_error_frame", message=frame.message)
        elif isinstance(frame, UnknownFrame):
            # New frame types appear without notice; they are not trades, so skip and count.
            self._frame_counters["unknown"].inc()
            log.info("unknown_frame_type", frame_type=frame.frame_type)
        else:
            self._frame_counters["malformed"].inc()
            log.warning("malformed_frame", error=frame.error, size=len(raw))
            self._sink.send_dead_letter(raw, "malformed", frame.error)
            self._metrics.dead_letters.labels("malformed").inc()
        return frame

    def _send_trades(self, raw: str | bytes, frame: TradeFrame) -> None:
        if not frame.trades:
            return
        try:
            records = self._encoder.records(frame.trades)
        except (ValueError, TypeError, OverflowError) as exc:
            # parse_frame checks every field's type, so this is a value Avro still refuses;
            # the frame is kept whole in the dead letters rather than half-sent.
            log.warning("unencodable_frame", error=str(exc), size=len(raw))
            self._sink.send_dead_letter(raw, "unencodable", str(exc))
            self._metrics.dead_letters.labels("unencodable").inc()
            return
        self._metrics.trades_received.inc(len(frame.trades))
        self._metrics.trade_arrived()
        for record in records:
            self._sink.send(record)
