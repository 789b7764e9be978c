"""Fake Finnhub -> producer -> Kafka -> processor -> Cassandra, read back with the panel queries.

The producer and processor run as the same child processes `make run` starts (their console
scripts, configured by environment); the fake feed runs in this process so the test knows every
trade it sent. The panel queries must then return exactly those trades and the windows computed
from them here: nothing lost, nothing duplicated.
"""

import dataclasses
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from finnhub_dashboards.panel_data import fetch_panel
from finnhub_dashboards.queries import Panel
from finnhub_fake_feed.server import FakeFinnhub
from finnhub_fake_feed.trades import DEFAULT_KNOWN_SYMBOLS
from local_pipeline.pipeline import ChildSpec, Pipeline, processor_spec, producer_spec
from local_stack.schema import create_topics

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from expected_windows import expected_windows

pytestmark = [pytest.mark.services, pytest.mark.spark]

KEYSPACE = "market"
RUN = uuid.uuid4().hex[:8]
# Private symbols and topic: other tests share this Kafka and Cassandra.
SYMBOLS = [f"E2E:{RUN}:BTC", f"E2E:{RUN}:DOGE"]
TOPIC = f"e2e.{RUN}"
EMIT_SECONDS = 8.0
# Spark's first batch on a 2-core machine shared with other JVMs can take a minute or more.
ARRIVAL_TIMEOUT_S = 420.0
WINDOW_MS = 15_000


@dataclasses.dataclass
class PipelineRun:
    sent: list[dict[str, Any]]
    session: Any
    exit_codes: dict[str, int | None]
    pipeline: Pipeline
    # Every listening socket of the test process and all below it while the pipeline ran.
    listeners: list[Any]  # conftest's Listener
    commands: list[str]


def _with_env(spec: ChildSpec, **env: str) -> ChildSpec:
    return dataclasses.replace(spec, env={**spec.env, **env})


def _wait_for(
    condition: Callable[[], bool], timeout_s: float, what: str, pipeline: Pipeline
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        failed = pipeline.failed_child()
        if failed is not None:
            pytest.fail(f"{failed.spec.name} exited {failed.exit_code()}:\n{failed.tail(40)}")
        if condition():
            return
        time.sleep(1.0)
    tails = "\n".join(f"--- {c.spec.name}\n{c.tail(15)}" for c in pipeline.children)
    pytest.fail(f"{what} not reached within {timeout_s:.0f} s\n{tails}")


def _stored_trades(session: Any) -> int:
    statement = f"SELECT count(*) FROM {KEYSPACE}.trades WHERE symbol IN ({_quoted()})"
    return session.execute(statement).one()[0]


def _windowed_trades(session: Any) -> int:
    statement = f"SELECT trade_count FROM {KEYSPACE}.trade_windows WHERE symbol IN ({_quoted()})"
    return sum(row.trade_count for row in session.execute(statement))


def _quoted() -> str:
    return ",".join(f"'{symbol}'" for symbol in SYMBOLS)


def _at(trade: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(trade["t"] / 1000, UTC)


def _expected_windows(sent: list[dict[str, Any]]) -> dict[tuple[str, datetime], dict[str, Any]]:
    return expected_windows(sent, WINDOW_MS)


@pytest.fixture(scope="module")
def pipeline_run(
    local_stack: Any,
    cassandra_session: Any,
    tmp_path_factory: pytest.TempPathFactory,
    listening_sockets: Callable[[int], tuple[list[Any], list[str]]],
) -> Iterator[PipelineRun]:
    create_topics(local_stack.kafka_bootstrap, {TOPIC: 2})
    work: Path = tmp_path_factory.mktemp("e2e")
    feed = FakeFinnhub(rate=20.0, burst=4, seed=7, known_symbols=[*DEFAULT_KNOWN_SYMBOLS, *SYMBOLS])
    pipeline = Pipeline(work / "logs")
    with feed:
        try:
            pipeline.start(
                _with_env(
                    processor_spec(
                        local_stack.kafka_bootstrap,
                        local_stack.cassandra_host,
                        local_stack.cassandra_port,
                        local_stack.spark_jars,
                        work / "checkpoints",
                        stop_timeout_s=120.0,
                    ),
                    KAFKA_TOPIC=TOPIC,
                    # The trades query's real-time tasks hold a slot per partition (3).
                    SPARK_MASTER="local[6]",
                )
            )
            pipeline.start(
                _with_env(
                    producer_spec(local_stack.kafka_bootstrap, SYMBOLS, feed.url, 60.0),
                    KAFKA_TOPIC=TOPIC,
                    METRICS_PORT="0",
                )
            )
            feed.wait_until_subscribed(SYMBOLS, timeout_s=120.0)
            time.sleep(EMIT_SECONDS)
            feed.pause()
            sent = [trade for trade in feed.sent_trades() if trade["s"] in SYMBOLS]
            assert len(sent) > 50, "the fake feed sent too little to prove anything"
            _wait_for(
                lambda: _stored_trades(cassandra_session) >= len(sent),
                ARRIVAL_TIMEOUT_S,
                f"{len(sent)} trades in Cassandra",
                pipeline,
            )
            # The windows query runs its own micro-batches: wait until its windows account for
            # every trade, not merely until they exist, so no window is checked half-filled.
            _wait_for(
                lambda: _windowed_trades(cassandra_session) >= len(sent),
                180.0,
                f"windows covering {len(sent)} trades",
                pipeline,
            )
            listeners, commands = listening_sockets(os.getpid())
        except BaseException:
            pipeline.stop()
            raise
        codes = pipeline.stop()
    yield PipelineRun(sent, cassandra_session, codes, pipeline, listeners, commands)


def _rows(run: PipelineRun, panel: Panel) -> list[dict[str, Any]]:
    times = [_at(trade) for trade in run.sent]
    time_from, time_to = min(times) - timedelta(minutes=1), max(times) + timedelta(minutes=1)
    return fetch_panel(run.session, KEYSPACE, panel, SYMBOLS, time_from, time_to)


def test_price_panel_returns_exactly_the_sent_trades(pipeline_run: PipelineRun) -> None:
    stored = Counter(
        (r["symbol"], r["price"], r["trade_timestamp"]) for r in _rows(pipeline_run, Panel.PRICE)
    )
    sent = Counter((t["s"], t["p"], _at(t)) for t in pipeline_run.sent)
    assert stored == sent


def test_volume_panel_returns_exactly_the_sent_volumes(pipeline_run: PipelineRun) -> None:
    stored = Counter(
        (r["symbol"], r["volume"], r["trade_timestamp"]) for r in _rows(pipeline_run, Panel.VOLUME)
    )
    sent = Counter((t["s"], t["v"], _at(t)) for t in pipeline_run.sent)
    assert stored == sent


def test_trades_per_second_panel_counts_the_sent_trades(pipeline_run: PipelineRun) -> None:
    stored = {
        (r["symbol"], r["second"]): r["trades"]
        for r in _rows(pipeline_run, Panel.TRADES_PER_SECOND)
    }
    sent = Counter((t["s"], _at(t).replace(microsecond=0)) for t in pipeline_run.sent)
    assert stored == dict(sent)


def test_candle_panel_returns_the_windows_of_the_sent_trades(pipeline_run: PipelineRun) -> None:
    expected = _expected_windows(pipeline_run.sent)
    rows = {(r["symbol"], r["window_start"]): r for r in _rows(pipeline_run, Panel.CANDLES)}
    assert rows.keys() == expected.keys()
    for key, window in expected.items():
        row = rows[key]
        assert (row["open"], row["high"], row["low"], row["close"], row["trade_count"]) == (
            window["open"],
            window["high"],
            window["low"],
            window["close"],
            window["trade_count"],
        ), key
        assert row["volume"] == pytest.approx(window["volume"], rel=1e-9)
        assert row["vwap"] == pytest.approx(window["vwap"], rel=1e-9)


def test_average_panel_returns_mean_price_times_volume_per_window(
    pipeline_run: PipelineRun,
) -> None:
    expected = _expected_windows(pipeline_run.sent)
    rows = _rows(pipeline_run, Panel.AVERAGE_15S)
    stored = {(r["symbol"], r["window_start"]): r["price_volume_multiply"] for r in rows}
    assert stored.keys() == expected.keys()
    for key, window in expected.items():
        assert stored[key] == pytest.approx(window["average"], rel=1e-9), key


def test_last_trade_panel_shows_the_newest_sent_trade_and_its_lag(
    pipeline_run: PipelineRun,
) -> None:
    newest = {}
    for trade in pipeline_run.sent:
        newest[trade["s"]] = max(newest.get(trade["s"], _at(trade)), _at(trade))
    now = datetime.now(UTC)  # the statement has no time range; any range will do
    rows = fetch_panel(pipeline_run.session, KEYSPACE, Panel.LAST_TRADE, SYMBOLS, now, now)
    assert {r["symbol"]: r["trade_timestamp"] for r in rows} == newest
    assert all(0 <= r["lag_ms"] < ARRIVAL_TIMEOUT_S * 1000 for r in rows)


def test_producer_and_processor_stop_cleanly(pipeline_run: PipelineRun) -> None:
    assert pipeline_run.exit_codes == {"producer": 0, "processor": 0}


def test_every_listener_of_the_running_pipeline_is_on_loopback(pipeline_run: PipelineRun) -> None:
    # The check must have seen the services it vouches for, not an empty list.
    for part in ("kafka", "cassandra", "finnhub-processor", "finnhub-producer", "org.apache.spark"):
        assert any(part in command for command in pipeline_run.commands), (
            part,
            pipeline_run.commands,
        )
    exposed = [entry for entry in pipeline_run.listeners if not entry.loopback]
    assert exposed == [], exposed
