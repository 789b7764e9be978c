"""Wires the queries: Kafka `market` -> transforms -> Cassandra (and dead letters to Kafka).

Two streaming queries read the topic, each with its own checkpoint under CHECKPOINT_DIR:

- `trades`: every decoded trade upserted into `market.trades`; undecodable records to the DLQ.
- `trade_windows`: tumbling event-time windows per symbol into `market.trade_windows` and
  `market.running_averages_15_sec`, in **update** output mode. Update mode emits a window's row
  again at every micro-batch that changes it, so the dashboard sees the current window filling
  up within a trigger interval; append mode would hold each window back until the watermark
  passes its end (window + allowed lateness, 25 s by default) and show only closed windows.
  The upsert key (symbol, window_start) makes each re-emission overwrite the previous one.

Kafka offsets and window state live in the checkpoint and every write is an idempotent upsert,
so a killed processor restarted on the same checkpoint replays at most the unfinished batch
and ends with the same rows as a run without the kill.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pyspark import SparkConf
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from finnhub_processor.settings import ProcessorSettings
from finnhub_processor.sinks import (
    RUNNING_AVERAGES,
    TRADE_WINDOWS,
    TRADES,
    write_dead_letters,
    write_to_cassandra,
)
from finnhub_processor.transforms import (
    avro_decode_error,
    dead_letter_records,
    decode_messages,
    explode_trades,
    parsed_trades_schema,
    running_average_rows,
    trade_rows,
    trade_window_rows,
    trades_avro_schema,
    undecodable_messages,
    window_aggregates,
)

log = logging.getLogger(__name__)

TRADES_QUERY = "trades"
WINDOWS_QUERY = "trade_windows"

BatchWriter = Callable[[DataFrame, int], None]


def create_spark_session(settings: ProcessorSettings) -> SparkSession:
    """The Spark session; a master given by spark-submit (e.g. the spark-operator) wins."""
    builder = (
        SparkSession.builder.appName("finnhub-processor")
        # Windows are epoch-aligned either way; UTC keeps rendered timestamps unambiguous.
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
        .config("spark.ui.enabled", str(settings.spark_ui_enabled).lower())
        # The console progress bar garbles the log lines a pod or `make run` shows.
        .config("spark.ui.showConsoleProgress", "false")
        # Batches without data only advance the watermark to evict old window state; a live
        # feed brings data every trigger anyway, and on small machines they steal its CPU.
        .config("spark.sql.streaming.noDataMicroBatches.enabled", "false")
    )
    if settings.spark_jar_list:
        builder = builder.config("spark.jars", ",".join(settings.spark_jar_list))
    if not SparkConf().contains("spark.master"):
        builder = builder.master(settings.spark_master)
    return builder.getOrCreate()


def kafka_source(spark: SparkSession, settings: ProcessorSettings) -> DataFrame:
    """The `market` topic as a stream of Kafka rows (key, value, topic, partition, offset, ...)."""
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap_servers)
        .option("subscribe", settings.kafka_topic)
        .option("startingOffsets", settings.kafka_starting_offsets)
        # Retention deleting unread offsets must not stop the pipeline; it is logged by Spark.
        .option("failOnDataLoss", "false")
    )
    if settings.kafka_max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", settings.kafka_max_offsets_per_trigger)
    return reader.load()


def trades_batch_writer(settings: ProcessorSettings) -> BatchWriter:
    """foreachBatch body of the trades query: dead letters out, then trades upserted."""
    parsed_schema = parsed_trades_schema()
    decode_error = F.udf(
        lambda value: avro_decode_error(value, parsed_schema), "string", useArrow=False
    )

    def write(batch: DataFrame, batch_id: int) -> None:
        batch.persist()
        try:
            dead = undecodable_messages(batch)
            if not dead.isEmpty():
                letters = dead_letter_records(dead, decode_error(F.col("value")))
                write_dead_letters(letters, settings)
            write_to_cassandra(trade_rows(explode_trades(batch)), TRADES, settings)
        finally:
            batch.unpersist()

    return write


def windows_batch_writer(settings: ProcessorSettings) -> BatchWriter:
    """foreachBatch body of the windows query: the changed windows into both window tables."""

    def write(batch: DataFrame, batch_id: int) -> None:
        batch.persist()
        try:
            write_to_cassandra(trade_window_rows(batch), TRADE_WINDOWS, settings)
            write_to_cassandra(running_average_rows(batch), RUNNING_AVERAGES, settings)
        finally:
            batch.unpersist()

    return write


def start_queries(
    spark: SparkSession, settings: ProcessorSettings, trigger: dict[str, object] | None = None
) -> list[StreamingQuery]:
    """Starts both queries; `trigger` defaults to the configured processing-time interval."""
    trigger = trigger or {"processingTime": settings.trigger_interval}
    decoded = decode_messages(kafka_source(spark, settings), trades_avro_schema())
    trades = (
        decoded.writeStream.queryName(TRADES_QUERY)
        .foreachBatch(trades_batch_writer(settings))
        .option("checkpointLocation", settings.checkpoint_location(TRADES_QUERY))
        .trigger(**trigger)
        .start()
    )
    aggregates = window_aggregates(
        explode_trades(decoded), settings.window_duration, settings.watermark_delay
    )
    windows = (
        aggregates.writeStream.queryName(WINDOWS_QUERY)
        .outputMode("update")
        .foreachBatch(windows_batch_writer(settings))
        .option("checkpointLocation", settings.checkpoint_location(WINDOWS_QUERY))
        .trigger(**trigger)
        .start()
    )
    return [trades, windows]


def await_queries(
    spark: SparkSession, queries: list[StreamingQuery], stop: threading.Event
) -> None:
    """Blocks until a query ends (raising its error) or `stop` is set (stopping all cleanly)."""
    while not stop.is_set():
        if spark.streams.awaitAnyTermination(1):
            break
    for query in queries:
        query.stop()
    for query in queries:
        error = query.exception()
        if error is not None:
            raise RuntimeError(f"query {query.name} failed: {error}")


def run(settings: ProcessorSettings, stop: threading.Event) -> None:
    """Runs the processor until `stop` is set or a query fails."""
    spark = create_spark_session(settings)
    try:
        queries = start_queries(spark, settings)
        log.info(
            "processor started: %s topic %s -> Cassandra %s:%s/%s, checkpoints in %s",
            settings.kafka_bootstrap_servers,
            settings.kafka_topic,
            settings.cassandra_hosts,
            settings.cassandra_port,
            settings.cassandra_keyspace,
            settings.checkpoint_dir,
        )
        await_queries(spark, queries, stop)
    finally:
        spark.stop()
