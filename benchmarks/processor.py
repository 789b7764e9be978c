"""Processor throughput and latency, each printed beside its baseline from the same run.

Throughput: a backlog of trades in Kafka drained into Cassandra by both queries (trades and
windows) with each Cassandra writer, against cassandra-driver writing the same rows directly
from this machine's two cores (the ceiling of a Python client here). Latency: trades produced
at a steady rate, each probe trade's time from produce (its event time is the produce time)
to its row being readable, found by polling Cassandra. Real-time mode is tried and reported.

    uv run python benchmarks/processor.py                     # starts its own Kafka + Cassandra
    uv run python benchmarks/processor.py --kafka-bootstrap 127.0.0.1:9092 --cassandra-port 9042

Figures on a shared 2-core machine move with whatever else runs: compare columns of one run.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import multiprocessing
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import fastavro
from cassandra.cluster import Cluster, Session
from cassandra.concurrent import execute_concurrent_with_args
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from finnhub_contracts.avro import trades_schema
from finnhub_contracts.cassandra import TRADE_COLUMNS, TRADES_TABLE, setup_cql
from finnhub_contracts.symbols import DEFAULT_SYMBOLS
from finnhub_processor.job import create_spark_session, start_queries, trades_batch_writer
from finnhub_processor.settings import ProcessorSettings
from finnhub_processor.transforms import decode_messages, trade_uuid, trades_avro_schema
from local_stack.schema import apply_cql
from pyspark.sql import SparkSession

ROOT = Path(__file__).resolve().parents[1]
CASSANDRA_CONNECTOR = "com.datastax.spark:spark-cassandra-connector_2.13:3.5.1"
SYMBOLS = DEFAULT_SYMBOLS
PROBE_SYMBOL = "BENCH:PROBE"
# The driver returns timestamps as naive datetimes in UTC.
EPOCH = datetime.datetime(1970, 1, 1)
TRADES_PER_MESSAGE = 5
ALLOW_MULTIPLE = "spark.sql.streaming.statefulOperator.allowMultiple"
TRADES_INSERT = (
    f"INSERT INTO {{ks}}.{TRADES_TABLE} ({', '.join(TRADE_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in TRADE_COLUMNS)})"
)


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str
    cassandra_host: str
    cassandra_port: int


@contextmanager
def services(args: argparse.Namespace) -> Iterator[Endpoints]:
    """The given Kafka and Cassandra, or a private local stack started and stopped here."""
    if args.kafka_bootstrap and args.cassandra_port:
        yield Endpoints(args.kafka_bootstrap, "127.0.0.1", args.cassandra_port)
        return
    from local_stack.network import free_ports
    from local_stack.settings import LocalStackSettings
    from local_stack.stack import LocalStack

    kafka, controller, native, storage, jmx = free_ports(5)
    with tempfile.TemporaryDirectory(prefix="bench-processor-") as state:
        stack = LocalStack(
            LocalStackSettings(
                kafka_port=kafka,
                kafka_controller_port=controller,
                cassandra_port=native,
                cassandra_storage_port=storage,
                cassandra_jmx_port=jmx,
                state_dir=Path(state),
                start_timeout_s=400.0,
            )
        )
        try:
            up = stack.up()
            yield Endpoints(up.kafka_bootstrap, up.cassandra_host, up.cassandra_port)
        finally:
            stack.down()


def spark_jars() -> list[Path]:
    from local_stack.artifacts import (
        JarResolver,
        JarSet,
        MavenArtifact,
        jars_not_shipped,
        pyspark_shipped_jars,
        spark_connector_jars,
    )
    from local_stack.settings import LocalStackSettings

    cassandra = JarSet("spark-cassandra", (MavenArtifact(*CASSANDRA_CONNECTOR.split(":")),))
    extra = JarResolver(LocalStackSettings()).jars(cassandra)
    return spark_connector_jars() + jars_not_shipped(extra, pyspark_shipped_jars() or [])


def create_keyspace(session: Session, keyspace: str) -> None:
    apply_cql(session, setup_cql(keyspace), timeout_s=120)


def create_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics(
        [NewTopic(topic, num_partitions=3), NewTopic(f"{topic}.dlq", num_partitions=1)]
    ).values():
        future.result(timeout=60)


class TradeEncoder:
    def __init__(self) -> None:
        schema = json.loads(trades_schema())
        self._schema = fastavro.parse_schema(schema)

    def encode(self, trades: list[dict]) -> bytes:
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, self._schema, {"data": trades, "type": "trade"})
        return buffer.getvalue()


def backlog_trades(count: int, start_ms: int) -> list[tuple[str, list[dict]]]:
    """`count` trades as messages of TRADES_PER_MESSAGE, event time advancing 1 ms a trade."""
    messages = []
    for m in range(count // TRADES_PER_MESSAGE):
        symbol = SYMBOLS[m % len(SYMBOLS)]
        trades = [
            {
                "c": ["1"],
                "p": 100.0 + (m * 7 + i) % 50,
                "s": symbol,
                "t": start_ms + m * TRADES_PER_MESSAGE + i,
                "v": 0.25 + i,
            }
            for i in range(TRADES_PER_MESSAGE)
        ]
        messages.append((symbol, trades))
    return messages


def produce_backlog(bootstrap: str, topic: str, messages: list[tuple[str, list[dict]]]) -> list:
    """Sends the messages; returns the `trades` rows they become (for the direct baseline)."""
    encoder = TradeEncoder()
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    rows: list[tuple] = []

    def on_delivery(trades: list[dict]):
        def report(error, message) -> None:
            if error is not None:
                raise RuntimeError(error)
            for index, t in enumerate(trades):
                u = trade_uuid(topic, message.partition(), message.offset(), index)
                rows.append((t["s"], t["t"], u, "1", t["p"], t["v"], int(time.time() * 1000)))

        return report

    for symbol, trades in messages:
        producer.produce(
            topic,
            key=symbol.encode(),
            value=encoder.encode(trades),
            on_delivery=on_delivery(trades),
        )
        producer.poll(0)
    producer.flush(120)
    return rows


def _write_direct(args: tuple[str, int, str, list[tuple]]) -> int:
    host, port, keyspace, rows = args
    cluster = Cluster([host], port=port)
    session = cluster.connect()
    statement = session.prepare(TRADES_INSERT.format(ks=keyspace))
    results = execute_concurrent_with_args(session, statement, rows, concurrency=64)
    cluster.shutdown()
    return sum(1 for ok, _ in results if ok)


def direct_baseline(endpoints: Endpoints, keyspace: str, rows: list[tuple]) -> float:
    """Rows/s of cassandra-driver writing `rows` from two processes (one per core)."""
    halves = [rows[0::2], rows[1::2]]
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        # Connecting is not writing: warm both processes up before the clock starts.
        pool.map(
            _write_direct,
            [
                (endpoints.cassandra_host, endpoints.cassandra_port, keyspace, h[:200])
                for h in halves
            ],
        )
        started = time.perf_counter()
        written = sum(
            pool.map(
                _write_direct,
                [(endpoints.cassandra_host, endpoints.cassandra_port, keyspace, h) for h in halves],
            )
        )
        seconds = time.perf_counter() - started
    assert written == len(rows), (written, len(rows))
    return len(rows) / seconds


def settings_for(
    endpoints: Endpoints, topic: str, keyspace: str, checkpoints: Path, **extra
) -> ProcessorSettings:
    return ProcessorSettings(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap,
        kafka_topic=topic,
        kafka_dlq_topic=f"{topic}.dlq",
        cassandra_hosts=endpoints.cassandra_host,
        cassandra_port=endpoints.cassandra_port,
        cassandra_keyspace=keyspace,
        checkpoint_dir=str(checkpoints),
        spark_shuffle_partitions=2,
        **extra,
    )


def drain(spark: SparkSession, settings: ProcessorSettings) -> float:
    """Seconds for both queries to process everything in the topic (availableNow)."""
    started = time.perf_counter()
    queries = start_queries(spark, settings, trigger={"availableNow": True})
    for query in queries:
        query.awaitTermination()
        if query.exception() is not None:
            raise RuntimeError(str(query.exception()))
    return time.perf_counter() - started


def count_rows(session: Session, keyspace: str) -> int:
    return session.execute(f"SELECT count(*) FROM {keyspace}.trades", timeout=120).one()[0]


def throughput(args, spark, endpoints, session, work: Path) -> None:
    run = uuid.uuid4().hex[:8]
    topic = f"bench-{run}"
    create_topic(endpoints.kafka_bootstrap, topic)
    rows = produce_backlog(
        endpoints.kafka_bootstrap, topic, backlog_trades(args.trades, 1_767_225_600_000)
    )
    warm_topic = f"bench-warm-{run}"
    create_topic(endpoints.kafka_bootstrap, warm_topic)
    produce_backlog(endpoints.kafka_bootstrap, warm_topic, backlog_trades(2_000, 1_767_225_600_000))

    figures: dict[str, float] = {}
    for writer in ("driver", "connector"):
        keyspace = f"bench_{writer}_{run}"
        create_keyspace(session, keyspace)
        # First queries in a session compile code and start Python workers: not the steady state.
        drain(
            spark,
            settings_for(
                endpoints, warm_topic, keyspace, work / f"warm-{writer}", cassandra_writer=writer
            ),
        )
        session.execute(f"TRUNCATE {keyspace}.trades", timeout=120)
        settings = settings_for(
            endpoints, topic, keyspace, work / f"ckpt-{writer}", cassandra_writer=writer,
            kafka_max_offsets_per_trigger=args.batch_messages,
        )  # fmt: skip
        seconds = drain(spark, settings)
        written = count_rows(session, keyspace)
        assert written == len(rows), f"{written} of {len(rows)} trades written"
        figures[writer] = len(rows) / seconds
        print(f"  processor ({writer:9s}) {len(rows)} trades in {seconds:6.1f} s", flush=True)
    baseline_keyspace = f"bench_direct_{run}"
    create_keyspace(session, baseline_keyspace)
    baseline = direct_baseline(endpoints, baseline_keyspace, rows)

    print(f"\nThroughput, Kafka -> Cassandra, {len(rows)} trades, both queries running")
    print(f"  {'what':44s} {'trades/s':>10s} {'vs baseline':>12s}")
    print(f"  {'baseline: cassandra-driver direct, 2 procs':44s} {baseline:10.0f} {'100 %':>12s}")
    for writer, rate in figures.items():
        print(f"  {'processor, writer=' + writer:44s} {rate:10.0f} {rate / baseline * 100:10.0f} %")


def produce_steadily(
    bootstrap: str, topic: str, rate: int, seconds: float, stop: threading.Event
) -> None:
    """`rate` trades/s for `seconds`, in messages of TRADES_PER_MESSAGE plus 10 probes/s.

    Event time is the produce time, so a row's latency is (seen - trade_timestamp).
    """
    encoder = TradeEncoder()
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    per_tick = max(1, rate // TRADES_PER_MESSAGE // 100)  # messages every 10 ms
    started = time.monotonic()
    tick = 0
    while not stop.is_set() and time.monotonic() - started < seconds:
        now_ms = int(time.time() * 1000)
        for m in range(per_tick):
            symbol = SYMBOLS[(tick + m) % len(SYMBOLS)]
            trades = [
                {"c": ["1"], "p": 100.0, "s": symbol, "t": now_ms, "v": 1.0}
            ] * TRADES_PER_MESSAGE
            producer.produce(topic, key=symbol.encode(), value=encoder.encode(trades))
        if tick % 10 == 0:
            probe = [{"c": None, "p": 1.0, "s": PROBE_SYMBOL, "t": now_ms, "v": 1.0}]
            producer.produce(topic, key=PROBE_SYMBOL.encode(), value=encoder.encode(probe))
        producer.poll(0)
        tick += 1
        time.sleep(max(0.0, started + tick * 0.01 - time.monotonic()))
    producer.flush(30)


def watch_probes(session: Session, keyspace: str, seen: dict, stop: threading.Event) -> None:
    """Records when each probe row first becomes readable (polling every 20 ms)."""
    query = session.prepare(
        f"SELECT trade_timestamp, uuid FROM {keyspace}.trades "
        "WHERE symbol = ? AND trade_timestamp > ?"
    )
    while not stop.is_set():
        now = time.time()
        # A wide look-back: on a loaded machine a probe may take tens of seconds to land.
        for row in session.execute(query, (PROBE_SYMBOL, int((now - 120) * 1000))):
            seen.setdefault(row.uuid, (row.trade_timestamp, now))
        time.sleep(0.02)


def latency(
    args, spark, endpoints, session, work: Path, writer: str, trigger: str, label: str = ""
) -> None:
    run = uuid.uuid4().hex[:8]
    topic = f"bench-latency-{run}"
    keyspace = f"bench_latency_{run}"
    create_topic(endpoints.kafka_bootstrap, topic)
    create_keyspace(session, keyspace)
    settings = settings_for(
        endpoints, topic, keyspace, work / f"latency-{run}", cassandra_writer=writer,
        trigger_interval=trigger, kafka_starting_offsets="latest",
    )  # fmt: skip
    queries = start_queries(spark, settings)
    stop = threading.Event()
    seen: dict = {}
    watcher = threading.Thread(target=watch_probes, args=(session, keyspace, seen, stop))
    try:
        while not all(q.lastProgress for q in queries):  # both queries past their first batch
            time.sleep(0.5)
        watcher.start()
        produce_steadily(endpoints.kafka_bootstrap, topic, args.rate, args.latency_seconds, stop)
        time.sleep(5)
        windows_batch_ms = statistics.median(
            p["durationMs"].get("triggerExecution", 0) for p in queries[1].recentProgress
        )
    finally:
        stop.set()
        for query in queries:
            query.stop()
        if watcher.is_alive():
            watcher.join()
    expected = int(args.latency_seconds * 10)
    latencies = sorted(
        (seen_at - (t - EPOCH).total_seconds()) * 1000 for t, seen_at in seen.values()
    )
    if not latencies:
        errors = [str(q.exception())[:300] for q in queries if q.exception() is not None]
        print(f"  writer={writer} trigger={trigger}: no probe row seen {errors}")
        return
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"  {writer:9s} {trigger:>16s} {p50:8.0f} {p99:8.0f} {latencies[-1]:8.0f} "
        f"{len(latencies):5d}/{expected} {windows_batch_ms:14.0f}  {label}",
        flush=True,
    )


def try_real_time_mode(spark: SparkSession, endpoints: Endpoints, work: Path) -> None:
    """Starts the trades query's shape under trigger(realTime=...) and reports what happens."""
    run = uuid.uuid4().hex[:8]
    topic = f"bench-rtm-{run}"
    create_topic(endpoints.kafka_bootstrap, topic)
    settings = settings_for(endpoints, topic, "market", work / f"rtm-{run}")
    source = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap_servers)
        .option("subscribe", topic)
        .load()
    )
    decoded = decode_messages(source, trades_avro_schema())
    try:
        query = (
            decoded.writeStream.foreachBatch(trades_batch_writer(settings))
            .option("checkpointLocation", settings.checkpoint_location("rtm"))
            .trigger(realTime="5 seconds")
            .start()
        )
        time.sleep(5)
        query.stop()
        print("  real-time mode started the trades query (foreachBatch sink)")
    except Exception as error:
        reason = str(error).strip().splitlines()[0][:300]
        print(f"  real-time mode refused the trades query (foreachBatch sink): {reason}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trades", type=int, default=100_000, help="backlog size for throughput")
    parser.add_argument("--batch-messages", type=int, default=4_000, help="maxOffsetsPerTrigger")
    parser.add_argument("--rate", type=int, default=1_000, help="trades/s for the latency run")
    parser.add_argument("--latency-seconds", type=float, default=45.0)
    parser.add_argument("--kafka-bootstrap")
    parser.add_argument("--cassandra-port", type=int)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--late-filter-cost",
        action="store_true",
        help="only latency, driver writer, 1 s trigger: late rows filtered against the previous "
        "batch's watermark (Spark's default, the old behaviour) vs the current one (the job's)",
    )
    args = parser.parse_args()

    jars = spark_jars()
    with services(args) as endpoints, tempfile.TemporaryDirectory(prefix="bench-ckpt-") as tmp:
        work = Path(tmp)
        cluster = Cluster([endpoints.cassandra_host], port=endpoints.cassandra_port)
        session = cluster.connect()
        # The job's own session factory, so the benchmark measures the job's Spark settings.
        spark = create_spark_session(
            ProcessorSettings(
                spark_master="local[2]",
                spark_jars=",".join(str(j) for j in jars),
                spark_shuffle_partitions=2,
            )
        )
        spark.sparkContext.setLogLevel("ERROR")
        try:
            if not (args.skip_throughput or args.late_filter_cost):
                throughput(args, spark, endpoints, session, work)
            print(
                f"\nLatency, produce -> row readable, {args.rate} trades/s "
                f"for {args.latency_seconds:.0f} s (10 probes/s)"
            )
            print(
                f"  {'writer':9s} {'trigger':>16s} {'p50 ms':>8s} {'p99 ms':>8s} "
                f"{'max ms':>8s} {'probes':>11s} {'windows ms':>14s}"
            )
            if args.late_filter_cost:
                for allow_multiple, label in (
                    ("true", "late rows vs previous batch's watermark (before)"),
                    ("false", "late rows vs current watermark (the job's setting)"),
                ):
                    spark.conf.set(ALLOW_MULTIPLE, allow_multiple)
                    latency(args, spark, endpoints, session, work, "driver", "1 second", label)
                spark.conf.set(ALLOW_MULTIPLE, "false")
                return
            for writer, trigger in (
                ("driver", "1 second"),
                ("driver", "0 seconds"),
                ("connector", "0 seconds"),
            ):
                latency(args, spark, endpoints, session, work, writer, trigger)
            print("\nReal-time mode (pyspark has trigger(realTime=...))")
            try_real_time_mode(spark, endpoints, work)
        finally:
            spark.stop()
            cluster.shutdown()


if __name__ == "__main__":
    main()
