"""The fake Finnhub speaks Finnhub's protocol: checked with a plain websocket client."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import structlog.testing
import websocket
from finnhub_fake_feed.server import FakeFinnhub
from finnhub_fake_feed.trades import REALISTIC_RATE_SHARES, TradeGenerator, symbol_rates


@pytest.fixture
def fake() -> Iterator[FakeFinnhub]:
    with FakeFinnhub(rate=200, burst=4, ping_interval_s=0.2, required_token="tok", seed=7) as f:
        yield f


def _frames(ws: websocket.WebSocket, seconds: float) -> list[dict]:
    ws.settimeout(0.05)
    frames = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            frames.append(json.loads(ws.recv()))
        except websocket.WebSocketTimeoutException:
            continue
    return frames


def test_connection_without_the_token_is_rejected(fake: FakeFinnhub) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as error:
        websocket.create_connection(fake.url, timeout=5)
    assert error.value.status_code == 401


def test_trades_flow_only_for_subscribed_symbols(fake: FakeFinnhub) -> None:
    ws = websocket.create_connection(f"{fake.url}/?token=tok", timeout=5)
    try:
        assert [f for f in _frames(ws, 0.2) if f["type"] == "trade"] == []
        ws.send(json.dumps({"type": "subscribe", "symbol": "AAPL"}))
        frames = _frames(ws, 0.5)
    finally:
        ws.close()
    trades = [t for f in frames if f["type"] == "trade" for t in f["data"]]
    assert trades and {t["s"] for t in trades} == {"AAPL"}
    assert {"ping"} <= {f["type"] for f in frames}


def test_unknown_symbol_gets_an_error_frame(fake: FakeFinnhub) -> None:
    ws = websocket.create_connection(f"{fake.url}/?token=tok", timeout=5)
    try:
        ws.send(json.dumps({"type": "subscribe", "symbol": "NOPE:NOTHING"}))
        frames = _frames(ws, 0.3)
    finally:
        ws.close()
    assert any(f["type"] == "error" and "NOPE:NOTHING" in f["msg"] for f in frames)


def test_unsubscribe_stops_the_trades(fake: FakeFinnhub) -> None:
    ws = websocket.create_connection(f"{fake.url}/?token=tok", timeout=5)
    try:
        ws.send(json.dumps({"type": "subscribe", "symbol": "AAPL"}))
        _frames(ws, 0.2)
        ws.send(json.dumps({"type": "unsubscribe", "symbol": "AAPL"}))
        deadline = time.monotonic() + 10
        while any(fake.subscriptions().values()) and time.monotonic() < deadline:
            time.sleep(0.01)
        _frames(ws, 0.2)
        late = [f for f in _frames(ws, 0.3) if f["type"] == "trade"]
    finally:
        ws.close()
    assert late == []


def test_recorded_trades_are_exactly_what_the_client_read(fake: FakeFinnhub) -> None:
    ws = websocket.create_connection(f"{fake.url}/?token=tok", timeout=5)
    try:
        for symbol in ("AAPL", "MSFT"):
            ws.send(json.dumps({"type": "subscribe", "symbol": symbol}))
        _frames(ws, 0.4)
        fake.pause()
        read = _frames(ws, 0.2)
    finally:
        ws.close()
    sent = fake.sent_trades()
    assert len(sent) > 20
    # Everything read in the last window was recorded; with the earlier reads it is all of it.
    received_tail = [t for f in read if f["type"] == "trade" for t in f["data"]]
    assert sent[len(sent) - len(received_tail) :] == received_tail
    assert any(len(f.trades) > 1 for f in fake.sent_frames())
    conditions = [t["c"] for t in sent]
    assert None in conditions and any(conditions)


def test_drop_cuts_the_connection_without_a_close_frame(fake: FakeFinnhub) -> None:
    ws = websocket.create_connection(f"{fake.url}/?token=tok", timeout=5)
    try:
        ws.send(json.dumps({"type": "subscribe", "symbol": "AAPL"}))
        fake.wait_until_subscribed(["AAPL"])
        assert fake.drop_connections() == 1
        ws.settimeout(2)
        with pytest.raises(websocket.WebSocketConnectionClosedException):
            while True:
                ws.recv_data()
    finally:
        ws.close()


def test_stall_silences_everything_including_pings(fake: FakeFinnhub) -> None:
    ws = websocket.create_connection(f"{fake.url}/?token=tok", timeout=5)
    try:
        ws.send(json.dumps({"type": "subscribe", "symbol": "AAPL"}))
        fake.wait_until_subscribed(["AAPL"])
        fake.stall(2.0)
        _frames(ws, 0.1)
        assert _frames(ws, 0.4) == []
        assert _frames(ws, 3.0) != []
    finally:
        ws.close()


def test_console_script_serves_on_the_requested_port() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "finnhub_fake_feed", "--port", "0", "--rate", "50"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("fake Finnhub listening on ws://127.0.0.1:")
        ws = websocket.create_connection(line.rsplit(" ", 1)[1].strip(), timeout=5)
        ws.send(json.dumps({"type": "subscribe", "symbol": "BINANCE:BTCUSDT"}))
        frames = _frames(ws, 0.5)
        ws.close()
        assert any(f["type"] == "trade" for f in frames)
    finally:
        process.terminate()
        assert process.wait(10) == 0


def test_default_symbols_start_near_their_market_level() -> None:
    generator = TradeGenerator(random.Random(7))
    btc = generator.trade("BINANCE:BTCUSDT", 0)["p"]
    doge = generator.trade("BINANCE:DOGEUSDT", 0)["p"]
    assert 80_000 < btc < 100_000
    assert 0.1 < doge < 0.2


CRYPTO = ("BINANCE:BTCUSDT", "BINANCE:ETHUSDT", "BINANCE:XRPUSDT", "BINANCE:DOGEUSDT")


def test_realistic_spread_keeps_the_mean_rate_with_btc_busiest_and_doge_quietest() -> None:
    rates = symbol_rates(CRYPTO, 5.0, REALISTIC_RATE_SHARES)
    assert sum(rates.values()) == pytest.approx(4 * 5.0)
    btc, eth, xrp, doge = (rates[symbol] for symbol in CRYPTO)
    assert btc > eth > xrp > doge
    assert btc >= 5 * doge
    assert symbol_rates(["AAPL", "MSFT"], 3.0, REALISTIC_RATE_SHARES) == {"AAPL": 3.0, "MSFT": 3.0}
    assert symbol_rates(CRYPTO, 3.0, None) == dict.fromkeys(CRYPTO, 3.0)


def _trade_counts(url: str, symbols: tuple[str, ...], seconds: float) -> dict[str, int]:
    ws = websocket.create_connection(url, timeout=5)
    try:
        for symbol in symbols:
            ws.send(json.dumps({"type": "subscribe", "symbol": symbol}))
        frames = _frames(ws, seconds)
    finally:
        ws.close()
    counts = dict.fromkeys(symbols, 0)
    for frame in frames:
        for trade in frame["data"] if frame["type"] == "trade" else ():
            counts[trade["s"]] += 1
    return counts


def test_console_script_spreads_rates_between_symbols_by_default() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "finnhub_fake_feed", "--port", "0", "--rate", "100"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().rsplit(" ", 1)[1].strip()
        counts = _trade_counts(url, CRYPTO, 2.0)
    finally:
        process.terminate()
        process.wait(10)
    btc, eth, xrp, doge = (counts[symbol] for symbol in CRYPTO)
    assert btc > eth > xrp > doge > 0


def test_connection_events_never_carry_the_token(fake: FakeFinnhub) -> None:
    with structlog.testing.capture_logs() as events:
        with pytest.raises(websocket.WebSocketBadStatusException):
            websocket.create_connection(f"{fake.url}/?token=wrong-secret", timeout=5)
        ws = websocket.create_connection(f"{fake.url}/?token=tok", timeout=5)
        ws.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if any(e["event"] == "fake_feed_client_disconnected" for e in events):
                break
            time.sleep(0.01)
    names = [event["event"] for event in events]
    assert names[:1] == ["fake_feed_client_rejected"]
    assert {"fake_feed_client_connected", "fake_feed_client_disconnected"} <= set(names)
    assert not [e for e in events if "wrong-secret" in repr(e) or "token=" in repr(e)]
