"""Wires the queries: Kafka `market` -> transforms -> Cassandra (and dead letters to Kafka).

Two streaming queries read the topic, each with its own checkpoint under CHECKPOINT_DIR:

- `trades`: every decoded trade upserted into `market.trades`, undecodable records to the DLQ,
  by a row-wise foreach writer (`sinks.TradesWriter`) under Spark's **real-time** trigger:
  long-running tasks read Kafka continuously and an epoch is checkpointed every
  TRADES_INTERVAL. Real-time mode holds a task slot per Kafka partition for as long
  as the query runs, beside the slots the windows query's batches use.
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
import os
import threading
import time
from collections.abc import Callable

from finnhub_contracts.cassandra import WINDOW_DURATION
from pyspark import SparkConf, SparkContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from finnhub_processor.progress import (
    FALLING_BEHIND_LOGGER,
    batch_summary,
    epoch_summary,
    interval_ms,
    new_progress,
)
from finnhub_processor.settings import ProcessorSettings
from finnhub_processor.sinks import (
    RUNNING_AVERAGES,
    TRADE_WINDOWS,
    TradesWriter,
    stopping_query,
    write_to_cassandra,
)
from finnhub_processor.transforms import (
    decode_messages,
    explode_trades,
    known_writer_schemas,
    running_average_rows,
    trade_window_rows,
    trade_writes,
    trades_avro_schema,
    window_aggregates,
)

log = logging.getLogger(__name__)

TRADES_QUERY = "trades"
WINDOWS_QUERY = "trade_windows"

BatchWriter = Callable[[DataFrame, int], None]

# py4j's loggers: they report a Python callback's failure (foreachBatch) with its traceback.
PY4J_LOGGERS = ("py4j.clientserver", "py4j.java_gateway")


# Every socket the driver opens (RPC, block manager, UI) binds here: the project talks only to
# loopback. Without it Spark binds the first non-loopback interface it finds on a host whose
# name resolves to 127.0.0.1 ("Your hostname ... resolves to a loopback address").
LOOPBACK_ADDRESS = "127.0.0.1"


def submitted_conf() -> SparkConf:
    """What the launching spark-submit set (master, driver address), empty without one.

    Under spark-submit the JVM is up before Python starts; until pyspark connects to it, a
    `SparkConf()` is an empty Python dict and sees none of spark-submit's settings. Connecting
    early is harmless then (the launcher fixed the JVM's options already); without a launcher
    the JVM is not started here, so that the builder's options still reach its launch.
    """
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        return SparkConf()
    SparkContext._ensure_initialized()
    return SparkConf()


def spark_session_builder(settings: ProcessorSettings) -> SparkSession.Builder:
    """The processor's session settings, the one place every Spark the project starts gets them.

    The job, the tests and the benchmarks all build from here, so the semantics a test checks
    (late-trade filtering, no-data batches) are those the job runs with. What spark-submit set
    wins: its master over SPARK_MASTER, its driver address over loopback (on Kubernetes it is
    the driver pod's, which executors connect to).
    """
    # Read by the JVM's launcher (spark-submit) and by the web UI's bind; the conf entries below
    # cover the driver once the JVM is up. setdefault: an address set on purpose is kept.
    os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK_ADDRESS)
    submitted = submitted_conf()
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
        # By default (since Spark 3.4) late rows are filtered against the watermark of the
        # PREVIOUS micro-batch, so that chained stateful operators work. With no-data batches
        # off, the first batch after a quiet spell then filtered with a watermark that lagged
        # the one the windows had been closed by, and a late trade was added to a closed
        # window. One stateful operator per query here: filter against the
        # current batch's watermark, the one that also evicts (see the README, "late").
        .config("spark.sql.streaming.statefulOperator.allowMultiple", "false")
        # A stop kills the real-time query's tasks mid-epoch; this daemon keeps their Python
        # workers from printing the closed connection's EOFError traceback into the log.
        .config("spark.python.daemon.module", "finnhub_processor.spark_daemon")
        # Real-time mode refuses epochs shorter than this (5 s by default). A Python foreach
        # writer gets its rows at an epoch's end, so the epoch is the trades' latency floor.
        .config(
            "spark.sql.streaming.realTimeMode.minBatchDuration",
            f"{interval_ms(settings.trades_interval)}ms",
        )
    )
    for key in ("spark.driver.bindAddress", "spark.driver.host"):
        if not submitted.contains(key):
            builder = builder.config(key, LOOPBACK_ADDRESS)
    if settings.spark_jar_list:
        builder = builder.config("spark.jars", ",".join(settings.spark_jar_list))
    if not submitted.contains("spark.master"):
        builder = builder.master(settings.spark_master)
    return builder


def create_spark_session(settings: ProcessorSettings) -> SparkSession:
    """The Spark session of `spark_session_builder`."""
    return spark_session_builder(settings).getOrCreate()


def kafka_source(
    spark: SparkSession, settings: ProcessorSettings, capped: bool = True
) -> DataFrame:
    """The `market` topic as a stream of Kafka rows (key, value, topic, partition, offset, ...);
    `capped`: with KAFKA_MAX_OFFSETS_PER_TRIGGER (micro-batches only, not real-time mode)."""
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap_servers)
        .option("subscribe", settings.kafka_topic)
        .option("startingOffsets", settings.kafka_starting_offsets)
        # Retention deleting unread offsets must not stop the pipeline; it is logged by Spark.
        .option("failOnDataLoss", "false")
        # The producer's `schema-fingerprint` header says which writer schema a record has.
        .option("includeHeaders", "true")
    )
    if capped and settings.kafka_max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", settings.kafka_max_offsets_per_trigger)
    return reader.load()


class BatchStopped(Exception):
    """A batch writer cut short because its query is stopping; the batch is replayed later."""


def ending_cleanly_on_stop(query_name: str, writer: BatchWriter) -> BatchWriter:
    """`writer`, but a write cut short by the query's stop ends in a short `BatchStopped`.

    Spark tells its own stop from a failure of a Python foreachBatch by matching the Python
    error's text against a backtracking regex; the text of a cancelled job carries the whole
    Java stack trace, which overflows that regex (`StackOverflowError` in the stream thread
    on every stop). A short error in the shape Spark looks for ends the batch as a stop. The
    batch was not committed, so the next start replays it.
    """

    def write(batch: DataFrame, batch_id: int) -> None:
        try:
            writer(batch, batch_id)
        except Exception as error:
            if not stopping_query(error):
                raise
            raise BatchStopped(
                "py4j.protocol.Py4JJavaError: An error occurred while calling foreachBatch.\n"
                f": java.lang.InterruptedException: {query_name} batch {batch_id} stopped"
            ) from None

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


def trades_trigger(settings: ProcessorSettings) -> dict[str, object]:
    """The trades query's trigger: TRADES_TRIGGER picks micro-batches or real-time epochs."""
    if settings.trades_trigger == "real-time":
        return {"realTime": settings.trades_interval}
    return {"processingTime": settings.trades_interval}


def start_trades_query(
    spark: SparkSession, settings: ProcessorSettings, trigger: dict[str, object] | None = None
) -> StreamingQuery:
    """The trades query, on `trades_trigger` unless a `trigger` (e.g. availableNow) is given."""
    known = known_writer_schemas()
    # Real-time mode takes no cap; micro-batches do, so a backlog drains in bounded steps.
    capped = trigger is not None or settings.trades_trigger == "micro-batch"
    source = kafka_source(spark, settings, capped=capped)
    return (
        trade_writes(decode_messages(source, trades_avro_schema(), known), known)
        .writeStream.queryName(TRADES_QUERY)
        .outputMode("update")
        .foreach(TradesWriter(settings))
        .option("checkpointLocation", settings.checkpoint_location(TRADES_QUERY))
        .trigger(**(trigger or trades_trigger(settings)))
        .start()
    )


def start_windows_query(
    spark: SparkSession, settings: ProcessorSettings, trigger: dict[str, object] | None = None
) -> StreamingQuery:
    """The windows query, every TRIGGER_INTERVAL unless a `trigger` is given."""
    decoded = decode_messages(
        kafka_source(spark, settings), trades_avro_schema(), known_writer_schemas()
    )
    aggregates = window_aggregates(
        explode_trades(decoded), WINDOW_DURATION, settings.watermark_delay
    )
    return (
        aggregates.writeStream.queryName(WINDOWS_QUERY)
        .outputMode("update")
        .foreachBatch(ending_cleanly_on_stop(WINDOWS_QUERY, windows_batch_writer(settings)))
        .option("checkpointLocation", settings.checkpoint_location(WINDOWS_QUERY))
        .trigger(**(trigger or {"processingTime": settings.trigger_interval}))
        .start()
    )


def start_queries(
    spark: SparkSession, settings: ProcessorSettings, trigger: dict[str, object] | None = None
) -> list[StreamingQuery]:
    """Starts both queries: trades in real-time mode, windows every TRIGGER_INTERVAL; a given
    `trigger` (e.g. availableNow) is used for both instead."""
    return [
        start_trades_query(spark, settings, trigger),
        start_windows_query(spark, settings, trigger),
    ]


def silence_falling_behind_warning(spark: SparkSession) -> None:
    """Spark's warning per batch that outlasts the trigger, replaced by `batch_summary` lines."""
    jvm = spark.sparkContext._jvm
    log4j = jvm.org.apache.logging.log4j
    log4j.core.config.Configurator.setLevel(FALLING_BEHIND_LOGGER, log4j.Level.toLevel("ERROR"))


# Spark loggers that report a cancelled batch's tasks, and the level each is raised to once a
# stop begins. BlockManager warns that a cancelled task's blocks could not be stored;
# TaskContextImpl logs, as an ERROR, a killed task's completion listener finding its broadcast
# block already cleaned up (`Block broadcast_N does not exist`): seen in a clean-clone CI run
# although no job was left running. Both concern only the cancelled, uncommitted batch that the
# next start replays.
STOP_NOISE_LOGGERS = {
    "org.apache.spark.storage.BlockManager": "ERROR",
    "org.apache.spark.TaskContextImpl": "FATAL",
    # A cancelled shuffle task's temporary file may already be gone when it tries to delete it.
    "org.apache.spark.storage.DiskBlockObjectWriter": "ERROR",
    # The stop interrupts the stream thread while it renames a checkpoint file; Hadoop's Shell
    # warns "Interrupted while joining" with the trace. That batch is replayed on restart.
    "org.apache.hadoop.util.Shell": "ERROR",
    # The real-time trades query's tasks run for a whole epoch, so a stop always cancels them
    # mid-write: the write aborts (ERROR "Aborting commit", "is aborting"), the interrupted
    # Kafka consumer's close is suppressed (WARN) and each killed task is reported lost.
    "org.apache.spark.sql.execution.datasources.v2.WriteToDataSourceV2Exec": "FATAL",
    "org.apache.spark.sql.execution.datasources.v2.DataWritingSparkTask": "FATAL",
    "org.apache.spark.util.Utils": "FATAL",
    "org.apache.spark.scheduler.TaskSetManager": "ERROR",
    "org.apache.spark.scheduler.DAGScheduler": "ERROR",
    # A real-time task whose Kafka consumer pool the stop already closed ("Pool not open").
    "org.apache.spark.executor.Executor": "FATAL",
}


def quiet_expected_stop_warnings(spark: SparkSession) -> None:
    log4j = spark.sparkContext._jvm.org.apache.logging.log4j
    for name, level in STOP_NOISE_LOGGERS.items():
        log4j.core.config.Configurator.setLevel(name, log4j.Level.toLevel(level))


def wait_for_cancelled_tasks(spark: SparkSession, timeout_s: float = 30.0) -> None:
    """Waits (bounded) until no Spark job runs: stopping the session under a cancelled batch's
    still-running tasks makes them fail loudly (`Block broadcast_N does not exist`)."""
    # A cancelled job leaves the active list at once; its killed tasks may run on a while, so
    # count the tasks still running on the executors (the JVM tracker; pyspark's lacks them).
    tracker = spark.sparkContext._jsc.sc().statusTracker()

    def running_tasks() -> int:
        return sum(info.numRunningTasks() for info in tracker.getExecutorInfos())

    deadline = time.monotonic() + timeout_s
    while running_tasks() and time.monotonic() < deadline:
        time.sleep(0.2)


class StopInterruptionFilter(logging.Filter):
    """Drops py4j's error report of a foreachBatch call cut short by a requested stop.

    Stopping a query cancels its running batch: the Python batch writer then fails with an
    InterruptedException or a cancelled job, py4j logs that as an error with both stack traces,
    and Spark itself (rightly) treats it as the stop. The batch was not committed and is
    replayed at the next start, so after a requested stop it is no error worth a traceback.
    """

    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self._stop = stop

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._stop.is_set() or record.exc_info is None or record.exc_info[1] is None:
            return True
        return not stopping_query(record.exc_info[1])


def log_batch_summaries(
    queries: list[StreamingQuery],
    last_batch: dict[str, int],
    trigger_ms: int,
    period_s: float,
    epoch_ms: int | None = None,
) -> None:
    """One line per query for the batches since the previous summary: `epoch_summary` for the
    trades query when it runs in real-time mode (`epoch_ms` given), else `batch_summary`."""
    for query in queries:
        fresh = new_progress(query.recentProgress, last_batch.get(query.name, -1))
        if fresh:
            last_batch[query.name] = fresh[-1]["batchId"]
        if epoch_ms is not None and query.name == TRADES_QUERY:
            log.info(epoch_summary(query.name, fresh, epoch_ms, period_s))
        else:
            log.info(batch_summary(query.name, fresh, trigger_ms, period_s))


def await_queries(
    spark: SparkSession,
    queries: list[StreamingQuery],
    stop: threading.Event,
    trigger_ms: int = 1_000,
    summary_s: float = 60.0,
    epoch_ms: int | None = None,
) -> None:
    """Blocks until a query ends (raising its error) or `stop` is set (stopping all cleanly).

    Every `summary_s` it logs how the batches of each query kept up with the trigger.
    """
    last_batch: dict[str, int] = {}
    next_summary = time.monotonic() + summary_s
    while not stop.is_set():
        if spark.streams.awaitAnyTermination(1):
            break
        if time.monotonic() >= next_summary:
            log_batch_summaries(queries, last_batch, trigger_ms, summary_s, epoch_ms)
            next_summary += summary_s
    # A stop cancels the running batch: its cached blocks then fail to store, which Spark
    # warns about with the cancellation's exception. Expected here, so not worth a warning.
    quiet_expected_stop_warnings(spark)
    # In start order: trades first, so no window is written for trades not yet in `trades`
    # beyond what one replayed batch rewrites anyway.
    for query in queries:
        query.stop()
    wait_for_cancelled_tasks(spark)
    for query in queries:
        error = query.exception()
        if error is not None:
            raise RuntimeError(f"query {query.name} failed: {error}")


def run(
    settings: ProcessorSettings,
    stop: threading.Event,
    install_signal_handlers: Callable[[], None] = lambda: None,
) -> None:
    """Runs the processor until `stop` is set or a query fails; then stops queries, then Spark.

    `install_signal_handlers` runs once the Spark session exists: creating the SparkContext
    replaces the SIGINT handler with pyspark's own, which cancels every job and raises
    KeyboardInterrupt, which would kill the process mid-batch instead of stopping it.
    """
    quiet_stop = StopInterruptionFilter(stop)
    for name in PY4J_LOGGERS:
        logging.getLogger(name).addFilter(quiet_stop)
    spark = create_spark_session(settings)
    install_signal_handlers()
    silence_falling_behind_warning(spark)
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
        await_queries(
            spark,
            queries,
            stop,
            interval_ms(settings.trigger_interval),
            settings.progress_summary_seconds,
            interval_ms(settings.trades_interval)
            if settings.trades_trigger == "real-time"
            else None,
        )
    finally:
        spark.stop()
