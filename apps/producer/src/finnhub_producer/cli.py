"""`finnhub-producer`: Finnhub websocket -> Kafka topic `market`, until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from types import FrameType

import structlog
from confluent_kafka import KafkaException
from finnhub_logs import configure_logging
from pydantic import ValidationError
from pydantic_settings import SettingsError

from finnhub_producer.encode import TradeEncoder
from finnhub_producer.feed import FeedClient, url_for_logs
from finnhub_producer.ingest import FrameIngestor
from finnhub_producer.kafka import TradeProducer, producer_config
from finnhub_producer.metrics import MetricsServer, ProducerMetrics
from finnhub_producer.settings import (
    ProducerSettings,
    describe_settings,
    settings_problems,
    unknown_environment,
)
from finnhub_producer.symbols import unknown_symbols

log = structlog.get_logger("finnhub_producer")

# Kubernetes gives 30 s between SIGTERM and SIGKILL by default; leave room to exit cleanly.
SHUTDOWN_FLUSH_TIMEOUT_S = 25.0


def run_producer(
    settings: ProducerSettings,
    stop: threading.Event,
    metrics: ProducerMetrics | None = None,
    read_timeout_s: float = 0.5,
    flush_timeout_s: float = SHUTDOWN_FLUSH_TIMEOUT_S,
) -> int:
    """Runs until `stop` is set, then flushes Kafka. Returns the process exit code."""
    metrics = metrics or ProducerMetrics()
    if settings.finnhub_validate_symbols:
        unknown = unknown_symbols(
            settings.finnhub_symbols, settings.finnhub_rest_url, settings.finnhub_token
        )
        if unknown:
            log.error("unknown_symbols", symbols=list(unknown))
            return 2
    encoder = TradeEncoder()
    try:
        producer = TradeProducer(
            producer_config(settings),
            settings.kafka_topic,
            settings.kafka_dlq_topic,
            encoder.fingerprint,
            metrics,
            dlq_source=url_for_logs(settings.finnhub_ws_url),
            # An idempotent producer in a fatal state can no longer promise order or
            # exactly-once; stopping lets the supervisor start a fresh one.
            on_fatal=stop.set,
            summary_interval_s=settings.log_summary_interval_s,
        )
    except KafkaException as exc:
        # librdkafka refuses inconsistent settings the settings model does not know about.
        log.error("kafka_config_rejected", error=str(exc.args[0].str()))
        return 2
    try:
        server = MetricsServer(
            metrics, settings.metrics_host, settings.metrics_port, settings.liveness_timeout_s
        )
    except OSError as exc:
        log.error(
            "metrics_port_unavailable",
            address=f"{settings.metrics_host}:{settings.metrics_port}",
            error=str(exc),
            hint="set METRICS_PORT to a free port (0 picks one)",
        )
        producer.close()
        return 2
    server.start()
    log.info(
        "producer_starting",
        endpoint=url_for_logs(settings.finnhub_ws_url),
        symbols=list(settings.finnhub_symbols),
        kafka=settings.kafka_bootstrap_servers,
        topic=settings.kafka_topic,
        metrics_port=server.port,
    )
    try:
        # Before the first trade is accepted: a trade for a topic that is not there could
        # only fail later, one delivery report at a time.
        missing = producer.missing_topics(stop)
        if missing:
            log.error(
                "kafka_topic_missing",
                message=f"topic {', '.join(missing)} does not exist on "
                f"{settings.kafka_bootstrap_servers}",
                topics=missing,
                kafka=settings.kafka_bootstrap_servers,
                hint="create it, or set KAFKA_TOPIC / KAFKA_DLQ_TOPIC to topics that exist",
            )
            return 2
        if missing is None:
            log.info("producer_stopped", before="kafka answered")
            return 0
        _run_feed(settings, stop, metrics, producer, encoder, read_timeout_s, flush_timeout_s)
    finally:
        producer.close()
        server.stop()
    if producer.unacknowledged_messages:
        log.error(
            "producer_stopped_with_unacknowledged_messages",
            messages=producer.unacknowledged_messages,
            trades=producer.unacknowledged_trades,
        )
        return 1
    if producer.fatal_error is not None:
        log.error("producer_stopped_on_fatal_kafka_error", error=producer.fatal_error.str())
        return 1
    log.info("producer_stopped")
    return 0


def _run_feed(
    settings: ProducerSettings,
    stop: threading.Event,
    metrics: ProducerMetrics,
    producer: TradeProducer,
    encoder: TradeEncoder,
    read_timeout_s: float,
    flush_timeout_s: float,
) -> None:
    """The feed until `stop`, then the flush: every accepted message ends acknowledged or
    counted as unacknowledged."""
    feed = FeedClient(
        settings.finnhub_ws_url,
        settings.finnhub_token,
        settings.finnhub_symbols,
        on_frame=FrameIngestor(encoder, producer, metrics).handle,
        on_idle=producer.poll,
        metrics=metrics,
        reconnect_initial_s=settings.reconnect_initial_s,
        reconnect_max_s=settings.reconnect_max_s,
        stall_timeout_s=settings.stall_timeout_s,
        read_timeout_s=read_timeout_s,
    )
    try:
        feed.run(stop)
    finally:
        log.info("producer_flushing")
        producer.flush(flush_timeout_s)


def warn_about_unknown_environment(environ: Mapping[str, str]) -> None:
    """One warning line naming the producer-prefixed variables it does not read (never values)."""
    if unknown := unknown_environment(environ):
        log.warning("unknown_variables", names=unknown, hint="misspelt or renamed? see --help")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="finnhub-producer",
        description="Subscribe to Finnhub trades and write them to Kafka as Avro, one message "
        "per symbol. Configured only by environment variables.",
        epilog=describe_settings(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    try:
        settings = ProducerSettings()
    except (ValidationError, SettingsError) as exc:
        print(f"finnhub-producer: invalid settings: {settings_problems(exc)}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    warn_about_unknown_environment(os.environ)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        # No logging here: a handler that writes can interrupt a write to the same stream.
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return run_producer(settings, stop)


if __name__ == "__main__":
    sys.exit(main())
