"""Optional symbol validation against a local stand-in for Finnhub's `/search`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from finnhub_producer.cli import run_producer
from finnhub_producer.settings import ProducerSettings
from finnhub_producer.symbols import symbol_is_listed, unknown_symbols
from pydantic import SecretStr

LISTED = {"AAPL", "BINANCE:BTCUSDT"}


@pytest.fixture
def lookup() -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    """A `/search` endpoint; records (path, token header) of every request."""
    seen: list[tuple[str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("X-Finnhub-Token")))
            query = parse_qs(urlsplit(self.path).query)["q"][0]
            result = [{"symbol": query, "displaySymbol": query}] if query in LISTED else []
            body = json.dumps({"count": len(result), "result": result}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v1", seen
    finally:
        server.shutdown()
        server.server_close()


def test_unlisted_symbols_are_reported(lookup) -> None:
    url, _ = lookup
    unknown = unknown_symbols(["AAPL", "NOPE:X", "BINANCE:BTCUSDT"], url, SecretStr("t"))
    assert unknown == ["NOPE:X"]


def test_lookup_sends_the_token_as_a_header_not_in_the_url(lookup) -> None:
    url, seen = lookup
    unknown_symbols(["AAPL"], url, SecretStr("sekrit-token"))
    assert seen == [("/api/v1/search?q=AAPL", "sekrit-token")]


def test_only_an_exact_match_counts_as_listed() -> None:
    answer = {"result": [{"symbol": "AAPL.MX", "displaySymbol": "AAPL.MX"}]}
    assert not symbol_is_listed("AAPL", answer)
    assert symbol_is_listed("AAPL.MX", answer)
    assert not symbol_is_listed("AAPL", {"error": "x"})


def test_producer_refuses_to_start_with_an_unlisted_symbol(lookup) -> None:
    url, _ = lookup
    settings = ProducerSettings(
        finnhub_ws_url="ws://127.0.0.1:1",
        finnhub_symbols=("AAPL", "NOPE:X"),
        finnhub_validate_symbols=True,
        finnhub_rest_url=url,
        metrics_port=0,
    )
    assert run_producer(settings, threading.Event()) == 2
