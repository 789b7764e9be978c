"""The installed `finnhub-producer` console script as a process: signals, logs, secrets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from finnhub_fake_feed.server import FakeFinnhub
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.services

TOKEN = "sekrit-finnhub-token-0123456789"
SYMBOLS = ("BINANCE:BTCUSDT", "AAPL")
CONSOLE_SCRIPT = Path(sys.executable).parent / "finnhub-producer"


@pytest.fixture
def fake() -> Iterator[FakeFinnhub]:
    with FakeFinnhub(rate=100, burst=5, ping_interval_s=0.3, required_token=TOKEN, seed=3) as f:
        yield f


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            label = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{label}}}" if label else sample.name] = sample.value
    return values


def _start(fake: FakeFinnhub, bootstrap: str, topics, metrics_port: int, **env: str):
    environment = {
        **os.environ,
        "FINNHUB_WS_URL": fake.url,
        "FINNHUB_TOKEN": TOKEN,
        "FINNHUB_SYMBOLS": ",".join(SYMBOLS),
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC": topics.trades,
        "KAFKA_DLQ_TOPIC": topics.dead_letters,
        "METRICS_HOST": "127.0.0.1",
        "METRICS_PORT": str(metrics_port),
        **env,
    }
    return subprocess.Popen(
        [str(CONSOLE_SCRIPT)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(process: subprocess.Popen, condition, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        assert process.poll() is None, f"producer exited with {process.returncode} before {what}"
        try:
            if condition():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout_s}s")
        time.sleep(0.1)


def _sent_frames_received(fake: FakeFinnhub, port: int) -> bool:
    sent = sum(1 for f in fake.sent_frames() if f.kind == "trade")
    return _metrics(port).get("finnhub_frames_received_total{type=trade}") == sent


def test_sigterm_flushes_every_received_trade_then_exits_0(
    fake, kafka_bootstrap, topics, read_topic, decode_original
) -> None:
    port = _free_port()
    # A linger far beyond the test keeps every trade in the local queue until SIGTERM, so only
    # the shutdown flush can deliver them.
    process = _start(fake, kafka_bootstrap, topics, port, KAFKA_LINGER_MS="120000")
    try:
        _wait(process, lambda: fake.wait_until_subscribed(SYMBOLS, 0.1), "subscribed")
        time.sleep(1.0)
        fake.pause()
        _wait(process, lambda: _sent_frames_received(fake, port), "all sent frames received")
        assert _metrics(port)["finnhub_trades_produced_total"] == 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        # Shown by pytest when the test fails.
        print(process.communicate()[1][-5000:])

    sent = fake.sent_trades()
    arrived = [
        t
        for m in read_topic(kafka_bootstrap, topics.trades)
        for t in decode_original(m.value())["data"]
    ]
    key = lambda t: json.dumps(t, sort_keys=True)  # noqa: E731
    assert len(sent) > 0
    assert Counter(map(key, arrived)) == Counter(map(key, sent))


def test_token_never_appears_in_the_logs_which_are_json_lines(
    fake, kafka_bootstrap, topics
) -> None:
    port = _free_port()
    process = _start(fake, kafka_bootstrap, topics, port, LOG_LEVEL="DEBUG")
    try:
        _wait(process, lambda: fake.wait_until_subscribed(SYMBOLS, 0.1), "subscribed")
        _wait(process, lambda: _metrics(port).get("finnhub_trades_produced_total", 0) > 0, "trades")
        fake.drop_connections()
        _wait(process, lambda: fake.connections_total >= 2, "reconnect")
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        stdout, stderr = process.communicate()
        print(stderr[-5000:])

    assert TOKEN not in stdout + stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]
    assert {"producer_starting", "feed_connected", "feed_reconnected", "producer_stopped"} <= {
        e["event"] for e in events
    }
