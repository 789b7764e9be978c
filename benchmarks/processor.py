"""Processor latency and throughput, each printed beside its baseline from the same run.

Latency (the job's own query shape: trades on TRADES_TRIGGER, windows in micro-batches), at
each --rates value: trades produced at a steady rate plus 10 probe trades/s whose event time is
their produce time; a poller finds when each probe's `trades` row becomes readable, and when
its window's `trade_windows` row first counts it. Printed with the CPU and memory the processor
(the Spark JVM and its Python workers) used, read from /proc.

Throughput: a backlog of trades in Kafka drained by each query alone (availableNow, the same
writers), against cassandra-driver writing the same `trades` rows directly from two processes
(the ceiling of a Python client on this machine's two cores).

    uv run python benchmarks/processor.py                     # starts its own Kafka + Cassandra
    uv run python benchmarks/processor.py --kafka-bootstrap 127.0.0.1:9092 --cassandra-port 9042

Figures on a shared 2-core machine move with whatever else runs: compare columns of one run,
and read them with the load average printed beside them.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import multiprocessing
import os
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
from finnhub_processor.job import (
    create_spark_session,
    start_queries,
    start_trades_query,
    start_windows_query,
)
from finnhub_processor.settings import ProcessorSettings
from finnhub_processor.transforms import trade_uuid
from local_stack.schema import apply_cql
from pyspark.sql import SparkSession

ROOT = Path(__file__).resolve().parents[1]
SYMBOLS = DEFAULT_SYMBOLS
PROBE_SYMBOL = "BENCH:PROBE"
# The driver returns timestamps as naive datetimes in UTC.
EPOCH = datetime.datetime(1970, 1, 1)
TRADES_PER_MESSAGE = 5
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
    from local_stack.artifacts import spark_connector_jars

    return spark_connector_jars()


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


def drain(spark: SparkSession, settings: ProcessorSettings, start) -> float:
    """Seconds for one query (`start_trades_query` or `start_windows_query`) to process
    everything in the topic (availableNow)."""
    started = time.perf_counter()
    query = start(spark, settings, {"availableNow": True})
    query.awaitTermination()
    if query.exception() is not None:
        raise RuntimeError(str(query.exception()))
    return time.perf_counter() - started


def count_rows(session: Session, keyspace: str, table: str = "trades") -> int:
    return session.execute(f"SELECT count(*) FROM {keyspace}.{table}", timeout=120).one()[0]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


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

    figures: dict[str, tuple[float, float]] = {}
    for name, start, table in (
        ("trades query  -> trades", start_trades_query, "trades"),
        ("windows query -> trade_windows + running_averages", start_windows_query, "trade_windows"),
    ):
        keyspace = f"bench_{table}_{run}"
        create_keyspace(session, keyspace)
        # First queries in a session compile code and start Python workers: not the steady state.
        drain(spark, settings_for(endpoints, warm_topic, keyspace, work / f"warm-{table}"), start)
        session.execute(f"TRUNCATE {keyspace}.{table}", timeout=120)
        settings = settings_for(
            endpoints, topic, keyspace, work / f"ckpt-{table}",
            kafka_max_offsets_per_trigger=args.batch_messages,
        )  # fmt: skip
        meter = ProcessTreeMeter(spark)
        with meter:
            seconds = drain(spark, settings, start)
        if table == "trades":
            written = count_rows(session, keyspace)
            assert written == len(rows), f"{written} of {len(rows)} trades written"
        else:
            assert count_rows(session, keyspace, table) > 0, "no window written"
        figures[name] = (len(rows) / seconds, meter.cpu_percent(seconds))
        print(f"  {name}: {len(rows)} trades in {seconds:6.1f} s", flush=True)
    baseline_keyspace = f"bench_direct_{run}"
    create_keyspace(session, baseline_keyspace)
    baseline = direct_baseline(endpoints, baseline_keyspace, rows)

    print(f"\nThroughput, Kafka -> Cassandra, {len(rows)} trades, one query at a time")
    print(f"  load average {load_average()}")
    print(f"  {'what':52s} {'trades/s':>10s} {'vs baseline':>12s} {'CPU':>7s}")
    print(f"  {'baseline: cassandra-driver direct, 2 procs':52s} {baseline:10.0f} {'100 %':>12s}")
    for name, (rate, cpu) in figures.items():
        print(f"  {name:52s} {rate:10.0f} {rate / baseline * 100:10.0f} % {cpu:5.0f} %")


class ProcessTreeMeter:
    """CPU and memory of the Spark JVM and everything under it (Python workers), from /proc,
    sampled twice a second while in use."""

    TICKS = os.sysconf("SC_CLK_TCK")
    PAGE = os.sysconf("SC_PAGE_SIZE")

    def __init__(self, spark: SparkSession) -> None:
        self.root = spark.sparkContext._gateway.proc.pid
        self.ticks: dict[int, int] = {}
        self.start_ticks: dict[int, int] = {}
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self) -> list[int]:
        parents = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        found, frontier = [self.root], [self.root]
        while frontier:
            frontier = [pid for pid, parent in parents.items() if parent in frontier]
            found += frontier
        return found

    def _sample(self) -> None:
        rss = 0
        for pid in self._tree():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            self.ticks[pid] = int(fields[11]) + int(fields[12])
            rss += int(fields[21]) * self.PAGE
        self.peak_rss = max(self.peak_rss, rss)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def __enter__(self) -> ProcessTreeMeter:
        self._sample()
        self.start_ticks = dict(self.ticks)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def cpu_percent(self, seconds: float) -> float:
        used = sum(t - self.start_ticks.get(pid, 0) for pid, t in self.ticks.items())
        return used / self.TICKS / seconds * 100


@dataclass
class Probes:
    """Probe trades sent (uuid-less: found by event time) and when their rows were seen."""

    sent: list[int]  # event (= produce) time, ms
    trade_seen: dict[int, float]  # event time ms -> when its trades row was first read
    window_seen: dict[int, float]  # event time ms -> when its window row first counted it


def produce_steadily(
    bootstrap: str, topic: str, rate: int, seconds: float, stop: threading.Event, probes: Probes
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
            probes.sent.append(now_ms)
        producer.poll(0)
        tick += 1
        time.sleep(max(0.0, started + tick * 0.01 - time.monotonic()))
    producer.flush(30)


def watch_probes(
    session: Session, keyspace: str, window_ms: int, probes: Probes, stop: threading.Event
) -> None:
    """Records when each probe's trades row is first readable, and when the row of its window
    in `trade_windows` first counts it (polling every 20 ms)."""
    trades = session.prepare(
        f"SELECT trade_timestamp FROM {keyspace}.trades WHERE symbol = ? AND trade_timestamp > ?"
    )
    windows = session.prepare(
        f"SELECT window_start, trade_count FROM {keyspace}.trade_windows "
        "WHERE symbol = ? AND window_start > ?"
    )
    while not stop.is_set():
        now = time.time()
        since = int((now - 120) * 1000)
        for row in session.execute(trades, (PROBE_SYMBOL, since)):
            probes.trade_seen.setdefault(epoch_ms(row.trade_timestamp), now)
        counts = {
            epoch_ms(row.window_start): row.trade_count
            for row in session.execute(windows, (PROBE_SYMBOL, since))
        }
        per_window: dict[int, int] = {}
        for sent in list(probes.sent):
            start = sent - sent % window_ms
            per_window[start] = per_window.get(start, 0) + 1
            # The n-th probe of its window is in the row once the row counts n trades.
            if counts.get(start, 0) >= per_window[start]:
                probes.window_seen.setdefault(sent, now)
        time.sleep(0.02)


def phase_profile(progress: list) -> str:
    """Median milliseconds of each phase Spark times per batch or epoch (`durationMs`):
    `addBatch` runs the tasks and the writer, `walCommit`/`commitOffsets` write the checkpoint,
    `queryPlanning` plans the batch again, `latestOffset` asks Kafka where the topic ends."""
    phases: dict[str, list[int]] = {}
    for p in progress:
        for phase, ms in p["durationMs"].items():
            if phase != "triggerExecution":
                phases.setdefault(phase, []).append(ms)
    return ", ".join(
        f"{phase} {statistics.median(values):.0f}" for phase, values in sorted(phases.items())
    )


def epoch_ms(value: datetime.datetime) -> int:
    return round((value - EPOCH).total_seconds() * 1000)


def percentiles(latencies: list[float]) -> str:
    if not latencies:
        return f"{'-':>8s} {'-':>8s} {'-':>8s}"
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{statistics.median(ordered):8.0f} {p99:8.0f} {ordered[-1]:8.0f}"


def latency(args, spark, endpoints, session, work: Path, rate: int) -> None:
    run = uuid.uuid4().hex[:8]
    topic = f"bench-latency-{run}"
    keyspace = f"bench_latency_{run}"
    create_topic(endpoints.kafka_bootstrap, topic)
    create_keyspace(session, keyspace)
    settings = settings_for(
        endpoints, topic, keyspace, work / f"latency-{run}", kafka_starting_offsets="latest",
        trigger_interval=args.windows_trigger, trades_interval=args.trades_epoch,
        trades_trigger=args.trades_trigger,
    )  # fmt: skip
    queries = start_queries(spark, settings)
    stop = threading.Event()
    probes = Probes([], {}, {})
    window_ms = 15_000
    watcher = threading.Thread(
        target=watch_probes, args=(session, keyspace, window_ms, probes, stop)
    )
    meter = ProcessTreeMeter(spark)
    try:
        while not all(q.lastProgress for q in queries):  # both queries past their first batch
            time.sleep(0.5)
        watcher.start()
        started = time.perf_counter()
        with meter:
            produce_steadily(
                endpoints.kafka_bootstrap, topic, rate, args.latency_seconds, stop, probes
            )
            time.sleep(3)
        seconds = time.perf_counter() - started
        windows_batch_ms = statistics.median(
            p["durationMs"].get("triggerExecution", 0) for p in queries[1].recentProgress
        )
        epochs_ms = statistics.median(
            p["durationMs"].get("triggerExecution", 0) for p in queries[0].recentProgress
        )
        profiles = [phase_profile(q.recentProgress) for q in queries]
    finally:
        stop.set()
        for query in queries:
            query.stop()
        if watcher.is_alive():
            watcher.join()
    errors = [str(q.exception())[:300] for q in queries if q.exception() is not None]
    trades = [
        (probes.trade_seen[t] - t / 1000) * 1000 for t in probes.sent if t in probes.trade_seen
    ]
    windows = [
        (probes.window_seen[t] - t / 1000) * 1000 for t in probes.sent if t in probes.window_seen
    ]
    sent = len(probes.sent)
    print(
        f"  {rate:>7d}  trades         {percentiles(trades)} {len(trades):5d}/{sent:<5d} "
        f"epoch median {epochs_ms:.0f} ms",
        flush=True,
    )
    print(
        f"  {'':>7s}  current window {percentiles(windows)} {len(windows):5d}/{sent:<5d} "
        f"batch median {windows_batch_ms:.0f} ms",
        flush=True,
    )
    print(f"  {'':>7s}  where a trades epoch goes (median ms): {profiles[0]}")
    print(f"  {'':>7s}  where a windows batch goes (median ms): {profiles[1]}")
    print(
        f"  {'':>7s}  processor used {meter.cpu_percent(seconds):.0f} % CPU (100 % = one core), "
        f"peak RSS {meter.peak_rss / 2**20:.0f} MiB; load average {load_average()}"
        + (f"; query errors {errors}" if errors else ""),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trades", type=int, default=60_000, help="backlog size for throughput")
    parser.add_argument("--batch-messages", type=int, default=2_000, help="maxOffsetsPerTrigger")
    parser.add_argument(
        "--rates", type=int, nargs="*", default=[1_000, 5_000], help="trades/s for latency"
    )
    parser.add_argument("--latency-seconds", type=float, default=45.0)
    parser.add_argument(
        "--windows-trigger", default="1 second", help="the windows query's TRIGGER_INTERVAL"
    )
    parser.add_argument(
        "--trades-epoch",
        default=ProcessorSettings().trades_interval,
        help="the trades query's TRADES_INTERVAL",
    )
    parser.add_argument(
        "--trades-trigger",
        default=ProcessorSettings().trades_trigger,
        choices=("micro-batch", "real-time"),
        help="the trades query's TRADES_TRIGGER",
    )
    parser.add_argument("--kafka-bootstrap")
    parser.add_argument("--cassandra-port", type=int)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()

    jars = spark_jars()
    with services(args) as endpoints, tempfile.TemporaryDirectory(prefix="bench-ckpt-") as tmp:
        work = Path(tmp)
        cluster = Cluster([endpoints.cassandra_host], port=endpoints.cassandra_port)
        session = cluster.connect()
        # The job's own session factory and defaults (local[6]: the real-time trades query
        # holds a slot per partition), so the benchmark measures the job's Spark settings.
        spark = create_spark_session(
            ProcessorSettings(
                spark_jars=",".join(str(j) for j in jars),
                spark_shuffle_partitions=2,
                trades_interval=args.trades_epoch,
            )
        )
        spark.sparkContext.setLogLevel("ERROR")
        try:
            print(
                f"Latency, produce -> row readable, for {args.latency_seconds:.0f} s at each rate "
                f"(10 probes/s); trades {args.trades_trigger} "
                f"(every {args.trades_epoch}), windows every "
                f"{args.windows_trigger}"
            )
            print(
                f"  {'trades/s':>7s}  {'row':14s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s} "
                f"{'probes':>11s}"
            )
            for rate in args.rates:
                latency(args, spark, endpoints, session, work, rate)
            if not args.skip_throughput:
                throughput(args, spark, endpoints, session, work)
        finally:
            spark.stop()
            cluster.shutdown()


if __name__ == "__main__":
    main()
