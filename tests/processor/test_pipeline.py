"""The processor against real Kafka, Cassandra and Spark: exact rows, dead letters, crash and
restart from the checkpoint, and a Cassandra outage.

Each test gets its own topic and keyspace (the schema file applied under another name), so it
neither sees nor disturbs what other tests write to the shared session services.
"""

from __future__ import annotations

import calendar
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from cassandra.cluster import Session
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from finnhub_contracts.cassandra import setup_cql
from finnhub_processor.job import start_queries
from finnhub_processor.settings import ProcessorSettings
from finnhub_processor.transforms import trade_uuid, window_uuid
from local_stack.schema import apply_cql
from pyspark.sql import SparkSession

pytestmark = [pytest.mark.services, pytest.mark.spark]

ROOT = Path(__file__).resolve().parents[2]
WINDOW_MS = 15_000
# 2026-01-01T00:00:00Z: fixed event times make the expected windows fixed too.
BASE_MS = 1_767_225_600_000
OUTAGE_SECONDS = 30.0


@dataclass(frozen=True)
class Sent:
    """A produced trade and where Kafka put its record."""

    partition: int
    offset: int
    index: int
    symbol: str
    t: int
    p: float
    v: float
    c: list[str | None] | None


def make_messages(count: int, symbols: tuple[str, ...] = ("BINANCE:BTCUSDT", "AAPL", "X:Y")):
    """`count` messages of 1-3 trades, some sharing a millisecond, spread over 3 windows."""
    messages = []
    for i in range(count):
        symbol = symbols[i % len(symbols)]
        t = BASE_MS + (i * 397) % (3 * WINDOW_MS)
        trades = [
            {
                "s": symbol,
                "p": 100.0 + (i * 7) % 13,
                "t": t,
                "v": 0.5 + (i % 4),
                "c": ["1", str(i % 3)],
            }
            for _ in range(1 + i % 3)
        ]
        if i % 5 == 0:
            trades[0]["c"] = None
        messages.append((symbol, trades))
    return messages


def create_topics(bootstrap: str, *names: str, partitions: int = 3) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(n, num_partitions=partitions) for n in names])
    for future in futures.values():
        future.result(timeout=60)


def produce(
    bootstrap: str, topic: str, encode_trades, messages, poison: list[bytes] = ()
) -> list[Sent]:
    """Sends each message keyed by symbol, then poison values; returns the trades as placed."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    sent: list[Sent] = []
    failures: list[str] = []

    def delivered(trades: list[dict]):
        def report(error, message) -> None:
            if error is not None:
                failures.append(str(error))
                return
            for index, t in enumerate(trades):
                sent.append(
                    Sent(
                        message.partition(),
                        message.offset(),
                        index,
                        t["s"],
                        t["t"],
                        t["p"],
                        t["v"],
                        t["c"],
                    )
                )

        return report

    for symbol, trades in messages:
        producer.produce(
            topic, key=symbol.encode(), value=encode_trades(trades), on_delivery=delivered(trades)
        )
        producer.poll(0)
    for value in poison:
        producer.produce(topic, key=b"poison", value=value)
    assert producer.flush(60) == 0 and not failures, failures
    return sent


def expected_trades(topic: str, sent: list[Sent]) -> dict[tuple, tuple]:
    return {
        (s.symbol, s.t, trade_uuid(topic, s.partition, s.offset, s.index)): (
            None if s.c is None else ",".join(x for x in s.c if x is not None),
            s.p,
            s.v,
        )
        for s in sent
    }


def expected_windows(sent: list[Sent]) -> dict[tuple[str, int], tuple]:
    """(symbol, window start) -> OHLC, volume, pv sum, vwap, count, then the running average's
    avg pv, count, uuid check and the window length."""
    groups: dict[tuple[str, int], list[Sent]] = {}
    for s in sent:
        groups.setdefault((s.symbol, s.t - s.t % WINDOW_MS), []).append(s)
    result = {}
    for key, trades in groups.items():
        ordered = sorted(trades, key=lambda s: (s.t, s.partition, s.offset, s.index))
        volume = sum(s.v for s in trades)
        pv = sum(s.p * s.v for s in trades)
        prices = [s.p for s in trades]
        result[key] = (
            ordered[0].p, max(prices), min(prices), ordered[-1].p,
            pytest.approx(volume), pytest.approx(pv), pytest.approx(pv / volume),
            len(trades), pytest.approx(pv / len(trades)), len(trades), True, WINDOW_MS,
        )  # fmt: skip
    return result


def ms(value: datetime) -> int:
    return calendar.timegm(value.utctimetuple()) * 1000 + value.microsecond // 1000


def trades_in(session: Session, keyspace: str) -> dict[tuple, tuple]:
    rows = session.execute(
        "SELECT symbol, trade_timestamp, uuid, trade_conditions, price, volume "
        f"FROM {keyspace}.trades"
    )
    return {
        (r.symbol, ms(r.trade_timestamp), r.uuid): (r.trade_conditions, r.price, r.volume)
        for r in rows
    }


def count_trades(session: Session, keyspace: str) -> int:
    return session.execute(f"SELECT count(*) FROM {keyspace}.trades").one()[0]


def windows_in(session: Session, keyspace: str) -> dict[tuple[str, int], tuple]:
    """Both window tables joined on (symbol, window start), shaped like `expected_windows`.

    The two tables are written one after the other, so mid-stream they may disagree for a
    moment: the join then simply differs from the expected answer instead of failing.
    """
    averages = {
        (r.symbol, ms(r.window_start)): r
        for r in session.execute(f"SELECT * FROM {keyspace}.running_averages_15_sec")
    }
    result = {}
    for r in session.execute(f"SELECT * FROM {keyspace}.trade_windows"):
        key = (r.symbol, ms(r.window_start))
        average = averages.get(key)
        result[key] = (
            r.open, r.high, r.low, r.close, r.volume, r.price_volume_sum, r.vwap, r.trade_count,
            average and average.price_volume_multiply,
            average and average.trade_count,
            average and average.uuid == window_uuid(r.symbol, key[1]),
            ms(r.window_end) - key[1],
        )  # fmt: skip
    return result


def wait_until(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


@pytest.fixture
def new_keyspace(cassandra_session: Session) -> Iterator[str]:
    """A fresh keyspace with the contracts' tables (setup_cql); dropped afterwards."""
    keyspace = f"proc_{uuid.uuid4().hex[:12]}"
    apply_cql(cassandra_session, setup_cql(keyspace))
    yield keyspace
    cassandra_session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=60)


@pytest.fixture
def new_topic(kafka_bootstrap: str) -> str:
    topic = f"market-test-{uuid.uuid4().hex[:10]}"
    create_topics(kafka_bootstrap, topic, f"{topic}.dlq")
    return topic


@pytest.fixture
def settings_for(local_stack, new_topic: str, new_keyspace: str, tmp_path: Path):
    def settings(**overrides: object) -> ProcessorSettings:
        values: dict[str, object] = {
            "kafka_bootstrap_servers": local_stack.kafka_bootstrap,
            "kafka_topic": new_topic,
            "kafka_dlq_topic": f"{new_topic}.dlq",
            "cassandra_hosts": local_stack.cassandra_host,
            "cassandra_port": local_stack.cassandra_port,
            "cassandra_keyspace": new_keyspace,
            "checkpoint_dir": str(tmp_path / "checkpoints"),
            "spark_shuffle_partitions": 2,
            # Test messages span only three windows and may arrive across batches in any
            # order: a generous lateness keeps every trade, so the answers are exact.
            "watermark_delay": "1 hour",
            "trigger_interval": "500 milliseconds",
        }
        values.update(overrides)
        return ProcessorSettings(**values)

    return settings


def test_every_trade_and_window_lands_exactly_and_poison_goes_to_the_dlq(
    spark: SparkSession,
    settings_for,
    cassandra_session: Session,
    encode_trades,
    kafka_bootstrap: str,
) -> None:
    settings = settings_for()
    poison = [b"\x00not-avro", b""]
    sent = produce(kafka_bootstrap, settings.kafka_topic, encode_trades, make_messages(40), poison)
    for query in start_queries(spark, settings, trigger={"availableNow": True}):
        query.awaitTermination(240)
        assert query.exception() is None
    keyspace = settings.cassandra_keyspace
    assert trades_in(cassandra_session, keyspace) == expected_trades(settings.kafka_topic, sent)
    assert windows_in(cassandra_session, keyspace) == expected_windows(sent)

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([settings.kafka_dlq_topic])
    letters = []
    deadline = time.monotonic() + 60
    while len(letters) < len(poison) and time.monotonic() < deadline:
        message = consumer.poll(1)
        if message is not None and message.error() is None:
            letters.append(message)
    consumer.close()
    assert sorted(m.value() for m in letters) == sorted(poison)
    for message in letters:
        headers = dict(message.headers())
        assert headers["source-topic"] == settings.kafka_topic.encode()
        assert int(headers["source-partition"]) in (0, 1, 2)
        assert int(headers["source-offset"]) >= 0
        assert headers["error"].startswith(b"Avro decode failed")


def processor_env(settings: ProcessorSettings, jars: list[Path]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_"))}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
        KAFKA_TOPIC=settings.kafka_topic,
        KAFKA_DLQ_TOPIC=settings.kafka_dlq_topic,
        KAFKA_MAX_OFFSETS_PER_TRIGGER="10",
        CASSANDRA_HOSTS=settings.cassandra_hosts,
        CASSANDRA_PORT=str(settings.cassandra_port),
        CASSANDRA_KEYSPACE=settings.cassandra_keyspace,
        CHECKPOINT_DIR=settings.checkpoint_dir,
        # Real-time mode holds a slot per partition (3) beside the windows query's tasks.
        SPARK_MASTER="local[6]",
        SPARK_JARS=",".join(str(j) for j in jars),
        SPARK_SHUFFLE_PARTITIONS="2",
        WATERMARK_DELAY=settings.watermark_delay,
        TRIGGER_INTERVAL="200 milliseconds",
        PROGRESS_SUMMARY_SECONDS="5",
    )
    return env


def start_processor(env: dict[str, str], log: Path) -> subprocess.Popen:
    # Own process group: SIGKILL reaches the Spark JVM and Python workers too, as in a crash.
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "finnhub_processor"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_processor(process: subprocess.Popen, sig: int) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def test_kill_9_mid_stream_then_restart_ends_with_the_rows_of_a_clean_run(
    spark_jars: list[Path],
    settings_for,
    cassandra_session: Session,
    encode_trades,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    settings = settings_for()
    sent = produce(kafka_bootstrap, settings.kafka_topic, encode_trades, make_messages(60))
    env = processor_env(settings, spark_jars)
    log = tmp_path / "processor.log"
    keyspace = settings.cassandra_keyspace
    total = len(sent)

    process = start_processor(env, log)
    try:
        wait_until(
            lambda: count_trades(cassandra_session, keyspace) > 0 or process.poll() is not None,
            240,
            "the first trades",
            poll=0.2,
        )
        written_before_kill = count_trades(cassandra_session, keyspace)
    finally:
        stop_processor(process, signal.SIGKILL)
    assert 0 < written_before_kill < total, (written_before_kill, log.read_text()[-3000:])

    process = start_processor(env, log)
    try:
        wait_until(
            lambda: (
                trades_in(cassandra_session, keyspace)
                == expected_trades(settings.kafka_topic, sent)
                and windows_in(cassandra_session, keyspace) == expected_windows(sent)
            ),
            240,
            f"all {total} trades and their windows after the restart (log: {log})",
            poll=1.0,
        )
    finally:
        stop_processor(process, signal.SIGTERM)
    assert count_trades(cassandra_session, keyspace) == total


class TcpProxy:
    """A loopback TCP relay that can go down (refusing and cutting connections) and come back.

    Stands in for a Cassandra outage without stopping the Cassandra every test shares.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
        if listener is not None:
            listener.close()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._connections += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def test_batches_written_during_a_cassandra_outage_retry_and_land_after_it(
    spark: SparkSession,
    local_stack,
    settings_for,
    cassandra_session: Session,
    encode_trades,
    kafka_bootstrap: str,
) -> None:
    proxy = TcpProxy((local_stack.cassandra_host, local_stack.cassandra_port))
    proxy.up()
    settings = settings_for(cassandra_port=proxy.port, cassandra_retry_seconds=180.0)
    keyspace = settings.cassandra_keyspace
    messages = make_messages(60)
    queries = start_queries(spark, settings)
    try:
        first = produce(kafka_bootstrap, settings.kafka_topic, encode_trades, messages[:30])
        wait_until(
            lambda: count_trades(cassandra_session, keyspace) == len(first), 180, "the first trades"
        )
        proxy.down()
        second = produce(kafka_bootstrap, settings.kafka_topic, encode_trades, messages[30:])
        time.sleep(OUTAGE_SECONDS)
        assert count_trades(cassandra_session, keyspace) == len(first)
        assert all(q.isActive for q in queries), [q.exception() for q in queries]
        proxy.up()
        sent = first + second
        wait_until(
            lambda: (
                trades_in(cassandra_session, keyspace)
                == expected_trades(settings.kafka_topic, sent)
                and windows_in(cassandra_session, keyspace) == expected_windows(sent)
            ),
            120,
            "the trades held back by the outage",
        )
        assert all(q.isActive and q.exception() is None for q in queries)
    finally:
        for query in queries:
            query.stop()
        proxy.down()


def test_the_trades_query_runs_in_real_time_mode_and_lands_trades_while_it_runs(
    spark: SparkSession,
    settings_for,
    cassandra_session: Session,
    encode_trades,
    kafka_bootstrap: str,
) -> None:
    # Real-time mode holds a task per Kafka partition: with too few slots (local[2], 3
    # partitions) one partition's trades never land, so every partition is fed here.
    settings = settings_for(kafka_starting_offsets="latest", trades_trigger="real-time")
    queries = start_queries(spark, settings)
    try:
        wait_until(lambda: all(q.lastProgress for q in queries), 180, "the first epoch")
        trigger = queries[0]._jsq.streamingQuery().trigger().toString()
        assert trigger == "RealTimeTrigger(250)"
        symbols = tuple(f"SYM{i}" for i in range(12))  # keys on all three partitions
        messages = make_messages(30, symbols)
        sent = produce(kafka_bootstrap, settings.kafka_topic, encode_trades, messages)
        assert {trade.partition for trade in sent} == {0, 1, 2}
        wait_until(
            lambda: (
                trades_in(cassandra_session, settings.cassandra_keyspace)
                == expected_trades(settings.kafka_topic, sent)
            ),
            120,
            "every trade of every partition",
        )
        assert all(q.isActive and q.exception() is None for q in queries)
    finally:
        for query in queries:
            query.stop()


def test_a_late_trade_changes_no_window_after_a_quiet_feed_a_restart_or_alone_in_a_batch(
    spark: SparkSession,
    settings_for,
    cassandra_session: Session,
    encode_trades,
    kafka_bootstrap: str,
) -> None:
    """Late = the trade's window ends at or before the watermark of the batch that reads it.

    The job's settings (no-data batches off, 10 s lateness, 15 s windows) and one message per
    trade, so each late trade reaches Spark on its own after the feed was quiet, once in the
    same query and once as the first batch after a restart from the checkpoint.
    """
    settings = settings_for(watermark_delay="10 seconds")
    topic, keyspace = settings.kafka_topic, settings.cassandra_keyspace
    on_time: list[Sent] = []

    def send(seconds: float, price: float) -> list[Sent]:
        trade = {"s": "LATE", "p": price, "t": BASE_MS + int(seconds * 1000), "v": 1.0, "c": None}
        return produce(kafka_bootstrap, topic, encode_trades, [("LATE", [trade])])

    def send_on_time(seconds: float, price: float) -> None:
        """Sends an on-time trade; once its window shows it, every earlier trade was read."""
        on_time.extend(send(seconds, price))
        key = ("LATE", BASE_MS + int(seconds * 1000) // WINDOW_MS * WINDOW_MS)
        count = expected_windows(on_time)[key][7]
        # Both tables (trade_windows, then running_averages_15_sec) show it: batch written.
        wait_until(
            lambda: (
                (windows_in(cassandra_session, keyspace).get(key) or [0] * 10)[7:10:2]
                == (count, count)
            ),
            180,
            f"window {key} to count {count} trades",
        )
        # On failure: which batch read how many rows under which watermark.
        progress = [
            (p["batchId"], p["numInputRows"], p.get("eventTime", {}).get("watermark"))
            for p in (queries[1].recentProgress if queries else [])
        ]
        assert windows_in(cassandra_session, keyspace) == expected_windows(on_time), progress

    queries: list = []
    queries = start_queries(spark, settings)
    try:
        send_on_time(100, 1.0)  # window [90 s, 105 s)
        send_on_time(130, 2.0)  # window [120 s, 135 s); the watermark becomes 120 s
        time.sleep(5)  # a quiet feed: no batch runs in between
        send(101, 50.0)  # its window ended at 105 s <= 120 s: late, alone in its batch
        send(119, 60.0)  # window [105 s, 120 s) ended at 120 s: late, must create no row
        send_on_time(131, 3.0)  # read after the late ones (same partition): they were seen
        send_on_time(160, 4.0)  # window [150 s, 165 s); the watermark becomes 150 s
    finally:
        for query in queries:
            query.stop()
    assert windows_in(cassandra_session, keyspace) == expected_windows(on_time)

    queries = start_queries(spark, settings)
    try:
        send(133, 70.0)  # window [120 s, 135 s) ended at 135 s <= 150 s: late, first batch
        send(140, 80.0)  # window [135 s, 150 s) ended at 150 s: late, must create no row
        send_on_time(161, 5.0)
        assert all(q.isActive and q.exception() is None for q in queries)
    finally:
        for query in queries:
            query.stop()
    assert windows_in(cassandra_session, keyspace) == expected_windows(on_time)


# What a stop interrupting Spark leaves in the log: any of these means it was not clean.
UNCLEAN_STOP_MARKERS = ("Exception", "Error", "Traceback", "\tat ")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_clean_stop_mid_stream_exits_0_and_logs_no_java_exception(
    signum: int,
    spark_jars: list[Path],
    settings_for,
    cassandra_session: Session,
    encode_trades,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    settings = settings_for()
    keyspace = settings.cassandra_keyspace
    env = processor_env(settings, spark_jars)
    log = tmp_path / "processor.log"
    process = start_processor(env, log)
    stop_feed = threading.Event()

    def feed() -> None:
        # Keeps batches running, so the stop lands while one is being written.
        while not stop_feed.is_set():
            produce(kafka_bootstrap, settings.kafka_topic, encode_trades, make_messages(10))

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        wait_until(
            lambda: count_trades(cassandra_session, keyspace) > 0 or process.poll() is not None,
            240,
            "the first trades",
            poll=0.2,
        )
        time.sleep(3)
        # What `make run` and Kubernetes do: the signal to the processor's own process.
        process.send_signal(signum)
        code = process.wait(timeout=120)
    finally:
        stop_feed.set()
        feeder.join(timeout=60)
        stop_processor(process, signal.SIGKILL)
    text = log.read_text("utf-8", errors="replace")
    assert code == 0, text[-3000:]
    assert "processor stopped" in text
    unclean = [line for line in text.splitlines() if any(m in line for m in UNCLEAN_STOP_MARKERS)]
    assert unclean == [], "\n".join(unclean[:40])


def test_batches_slower_than_the_trigger_are_summarised_not_warned_one_by_one(
    spark_jars: list[Path],
    settings_for,
    cassandra_session: Session,
    encode_trades,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    settings = settings_for()
    produce(kafka_bootstrap, settings.kafka_topic, encode_trades, make_messages(60))
    log = tmp_path / "processor.log"
    # 200 ms trigger, at most 10 records a batch: on this machine most batches take longer.
    process = start_processor(processor_env(settings, spark_jars), log)
    try:
        wait_until(
            lambda: (
                log.read_text("utf-8", errors="replace").count("outlasted the") >= 2
                or process.poll() is not None
            ),
            300,
            "two batch summaries",
        )
    finally:
        stop_processor(process, signal.SIGTERM)
    text = log.read_text("utf-8", errors="replace")
    summaries = [line for line in text.splitlines() if "outlasted the 200 ms trigger" in line]
    assert summaries, text[-3000:]
    assert "falling behind" not in text
