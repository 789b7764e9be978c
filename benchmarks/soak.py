"""Soak: the whole pipeline under a steady load, then loss, duplicates, latency and memory.

    uv run python benchmarks/soak.py                         # 10 minutes at 1,000 trades/s
    uv run python benchmarks/soak.py --minutes 2 --rate 500  # a shorter look

Starts a private Kafka + Cassandra on free loopback ports, the fake Finnhub feed in this process
(it records every trade it sends), and the producer and processor as the same child processes
`make run` starts. After the load it stops the feed, waits until Cassandra holds as many trades
as were sent, and prints, next to the target of each:

- loss and duplicates: every sent trade compared with the stored rows, by (symbol, time, price,
  volume);
- end-to-end latency per stored trade: ingest_timestamp (the processor's batch time) minus
  trade_timestamp, p50 / p99 / max;
- freshness as a reader sees it: sampled during the run, now minus the newest stored trade;
- resident memory of every process over time: producer, processor (its Python, JVM and pyspark
  workers), Kafka, Cassandra, and this process (the fake feed).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from background_processes.pid_files import rss_bytes
from cassandra.cluster import Session
from finnhub_dashboards.panel_data import fetch_panel
from finnhub_dashboards.queries import Panel
from finnhub_fake_feed.server import FakeFinnhub
from finnhub_fake_feed.trades import DEFAULT_KNOWN_SYMBOLS
from local_pipeline.pipeline import Child, Pipeline, processor_spec, producer_spec
from local_stack.cassandra import connect
from local_stack.network import free_ports
from local_stack.schema import create_topics
from local_stack.settings import LocalStackSettings
from local_stack.stack import LocalStack

KEYSPACE = "market"
MIB = 2**20


@dataclasses.dataclass
class Sample:
    elapsed_s: float
    sent: int
    stored: int
    freshness_ms: float | None
    rss_mib: dict[str, float]


def group_rss_bytes(leader_pid: int) -> int:
    """Resident memory of every process in the leader's process group (pyspark's JVM too)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == leader_pid:  # field 5 of /proc/pid/stat: process group id
            total += rss_bytes(int(stat.parent.name)) or 0
    return total


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def stored_count(session: Session, symbols: list[str]) -> int:
    return sum(
        session.execute(f"SELECT count(*) FROM {KEYSPACE}.trades WHERE symbol = %s", [s]).one()[0]
        for s in symbols
    )


def newest_trade(session: Session, symbols: list[str]) -> datetime | None:
    """The newest stored trade, read with the dashboard's last-trade panel query."""
    now = datetime.now(UTC)  # the statement has no time range
    rows = fetch_panel(session, KEYSPACE, Panel.LAST_TRADE, symbols, now, now)
    return max((row["trade_timestamp"] for row in rows), default=None)


def memory(children: list[Child], stack: LocalStack) -> dict[str, float]:
    figures = {c.spec.name: group_rss_bytes(c.pid) / MIB for c in children if c.pid is not None}
    for status in stack.status():
        figures[status.name] = (status.rss_bytes or 0) / MIB
    figures["feed (this process)"] = (rss_bytes(os.getpid()) or 0) / MIB
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="trades/s, all symbols")
    parser.add_argument("--symbols", type=int, default=4)
    parser.add_argument("--sample-s", type=float, default=15.0, help="seconds between samples")
    parser.add_argument("--drain-timeout-s", type=float, default=600.0)
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    symbols = [f"SOAK:{run}:{i}" for i in range(args.symbols)]
    topic = f"soak.{run}"
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    kafka, controller, native, storage, jmx = free_ports(5)
    settings = LocalStackSettings(
        kafka_port=kafka,
        kafka_controller_port=controller,
        cassandra_port=native,
        cassandra_storage_port=storage,
        cassandra_jmx_port=jmx,
        state_dir=work / "state",
        start_timeout_s=360.0,
    )
    stack = LocalStack(settings, on_event=print, stop_with_parent=True)
    endpoints = stack.up()
    jars = stack.spark_connector_jars()
    create_topics(endpoints.kafka_bootstrap, {topic: 3})
    cluster = connect(endpoints.cassandra_host, endpoints.cassandra_port)
    session = cluster.connect()
    feed = FakeFinnhub(
        rate=args.rate / args.symbols, burst=20, known_symbols=[*DEFAULT_KNOWN_SYMBOLS, *symbols]
    )
    pipeline = Pipeline(work / "logs", on_event=print)
    samples: list[Sample] = []
    freshness: list[float] = []
    try:
        feed.start()
        processor = processor_spec(
            endpoints.kafka_bootstrap,
            endpoints.cassandra_host,
            endpoints.cassandra_port,
            jars,
            work / "checkpoints",
            stop_timeout_s=120.0,
        )
        pipeline.start(dataclasses.replace(processor, env={**processor.env, "KAFKA_TOPIC": topic}))
        producer = producer_spec(endpoints.kafka_bootstrap, symbols, feed.url, 60.0)
        pipeline.start(
            dataclasses.replace(
                producer, env={**producer.env, "KAFKA_TOPIC": topic, "METRICS_PORT": "0"}
            )
        )
        feed.wait_until_subscribed(symbols, timeout_s=120.0)
        # Spark's first batches take a minute on 2 busy cores; measure the steady state, not
        # the start-up backlog. Warm-up trades still count for loss and duplicates.
        warm_up_ends = time.monotonic() + args.drain_timeout_s
        while stored_count(session, symbols) == 0 and time.monotonic() < warm_up_ends:
            print(f"warming up: {len(feed.sent_trades())} sent, processor not writing yet")
            time.sleep(5.0)
        warm_sent = len(feed.sent_trades())
        measured_from = datetime.now(UTC)
        started = time.monotonic()
        load_ends = started + args.minutes * 60
        next_sample = started
        print(f"load: {args.rate:.0f} trades/s over {len(symbols)} symbols, {args.minutes} min")
        while time.monotonic() < load_ends:
            failed = pipeline.failed_child()
            if failed is not None:
                raise SystemExit(f"{failed.spec.name} died:\n{failed.tail(40)}")
            newest = newest_trade(session, symbols)
            if newest is not None:
                freshness.append((datetime.now(UTC) - newest).total_seconds() * 1000)
            if time.monotonic() >= next_sample:
                sample = Sample(
                    time.monotonic() - started,
                    len(feed.sent_trades()),
                    stored_count(session, symbols),
                    freshness[-1] if freshness else None,
                    memory(pipeline.children, stack),
                )
                samples.append(sample)
                print(
                    f"t={sample.elapsed_s:5.0f}s sent={sample.sent} stored={sample.stored} "
                    + " ".join(f"{k}={v:.0f}MiB" for k, v in sample.rss_mib.items())
                )
                next_sample += args.sample_s
            time.sleep(1.0)
        feed.pause()
        sent = [t for t in feed.sent_trades() if t["s"] in symbols]
        load_seconds = time.monotonic() - started
        load_rate = (len(sent) - warm_sent) / load_seconds
        print(f"load done: {len(sent)} trades sent ({warm_sent} in warm-up); draining")
        drain_deadline = time.monotonic() + args.drain_timeout_s
        while stored_count(session, symbols) < len(sent) and time.monotonic() < drain_deadline:
            time.sleep(5.0)
        drain_seconds = time.monotonic() - started - load_seconds
        report(
            session,
            symbols,
            sent,
            measured_from,
            samples,
            freshness,
            (args.rate, load_rate),
            drain_seconds,
        )
    finally:
        codes = pipeline.stop()
        print(f"exit codes: {codes}")
        feed.stop()
        cluster.shutdown()
        stack.down()


def report(
    session: Session,
    symbols: list[str],
    sent: list[dict],
    measured_from: datetime,
    samples: list[Sample],
    freshness: list[float],
    rates: tuple[float, float],
    drain_seconds: float,
) -> None:
    expected = Counter((t["s"], t["t"], t["p"], t["v"]) for t in sent)
    stored: Counter[tuple] = Counter()
    lags = []
    for symbol in symbols:
        rows = session.execute(
            f"SELECT trade_timestamp, price, volume, ingest_timestamp FROM {KEYSPACE}.trades "
            "WHERE symbol = %s",
            [symbol],
        )
        for row in rows:
            millis = int(row.trade_timestamp.replace(tzinfo=UTC).timestamp() * 1000)
            stored[(symbol, millis, row.price, row.volume)] += 1
            if row.trade_timestamp.replace(tzinfo=UTC) >= measured_from:
                lag = row.ingest_timestamp - row.trade_timestamp
                lags.append(lag.total_seconds() * 1000)
    lost = sum((expected - stored).values())
    duplicates = sum((stored - expected).values())
    print("\nmemory over time (MiB, resident)")
    names = list(samples[-1].rss_mib) if samples else []
    print("     t  " + "".join(f"{name:>22}" for name in names))
    for sample in samples:
        print(
            f"{sample.elapsed_s:6.0f}s "
            + "".join(f"{sample.rss_mib.get(name, 0):22.0f}" for name in names)
        )
    print(f"\n{'figure':40}{'target':>14}{'measured':>14}")
    rows_out = [
        ("trades sent (warm-up included)", "-", f"{len(sent)}"),
        ("send rate after warm-up, trades/s", f"{rates[0]:.0f}", f"{rates[1]:.0f}"),
        ("lost trades", "0", f"{lost}"),
        ("duplicated trades", "0", f"{duplicates}"),
        ("drain after load stopped, s", "-", f"{drain_seconds:.0f}"),
    ]
    if lags:
        rows_out += [
            ("latency p50 (ingest - trade), ms", "-", f"{statistics.median(lags):.0f}"),
            ("latency p99 (ingest - trade), ms", "-", f"{percentile(lags, 0.99):.0f}"),
            ("latency max (ingest - trade), ms", "-", f"{max(lags):.0f}"),
        ]
    if freshness:
        rows_out += [
            ("freshness p50 (now - newest), ms", "-", f"{statistics.median(freshness):.0f}"),
            ("freshness p99 (now - newest), ms", "-", f"{percentile(freshness, 0.99):.0f}"),
        ]
    for name, target, measured in rows_out:
        print(f"{name:40}{target:>14}{measured:>14}")


if __name__ == "__main__":
    main()
