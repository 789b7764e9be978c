"""GET /healthz and GET /sent on the websocket port: checked against a real server on loopback."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http import HTTPStatus

import pytest
import websocket
from finnhub_fake_feed.http_endpoints import answer
from finnhub_fake_feed.server import FakeFinnhub


@pytest.fixture
def fake() -> Iterator[FakeFinnhub]:
    with FakeFinnhub(rate=200, burst=4, required_token="tok", seed=5, keep_trades=50) as f:
        yield f


def _get(fake: FakeFinnhub, path: str) -> tuple[int, str, bytes]:
    url = f"http://{fake.host}:{fake.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def _stream(fake: FakeFinnhub, symbols: tuple[str, ...], seconds: float) -> None:
    ws = websocket.create_connection(f"{fake.url}/?token=tok", timeout=5)
    try:
        for symbol in symbols:
            ws.send(json.dumps({"type": "subscribe", "symbol": symbol}))
        fake.wait_until_subscribed(symbols)
        ws.settimeout(0.05)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
        fake.pause()
    finally:
        ws.close()


def test_healthz_answers_200_while_serving_without_a_token(fake: FakeFinnhub) -> None:
    status, content_type, body = _get(fake, "/healthz")
    assert (status, body) == (200, b"ok\n")
    assert content_type.startswith("text/plain")


def test_healthz_fails_once_the_server_stops_serving() -> None:
    status = answer("/healthz", serving=False, sent_report=dict).status
    assert status == HTTPStatus.SERVICE_UNAVAILABLE


def test_sent_is_empty_json_before_any_trade(fake: FakeFinnhub) -> None:
    status, content_type, body = _get(fake, "/sent")
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body) == {"total": 0, "kept": 0, "limit": 50, "trades": []}


def test_sent_lists_the_last_trades_sent_in_compact_form_and_counts_them_all(
    fake: FakeFinnhub,
) -> None:
    _stream(fake, ("AAPL", "MSFT"), 0.5)
    sent = fake.sent_trades()
    assert len(sent) > 50
    report = json.loads(_get(fake, "/sent")[2])
    assert report["total"] == len(sent)
    assert report["kept"] == report["limit"] == 50
    expected = [{key: trade[key] for key in ("s", "p", "t", "v")} for trade in sent[-50:]]
    assert report["trades"] == expected


def test_keep_trades_zero_still_counts_every_trade() -> None:
    with FakeFinnhub(rate=200, required_token="tok", keep_trades=0) as fake:
        _stream(fake, ("AAPL",), 0.3)
        report = json.loads(_get(fake, "/sent")[2])
        assert report["total"] == len(fake.sent_trades()) > 0
        assert report["trades"] == []


def test_http_endpoints_leave_the_websocket_token_check_in_place(fake: FakeFinnhub) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as error:
        websocket.create_connection(f"{fake.url}/?token=wrong", timeout=5)
    assert error.value.status_code == 401
    ws = websocket.create_connection(f"{fake.url}/?token=tok", timeout=5)
    ws.close()
