"""Frames a real Finnhub should never send, for testing a client's handling of bad input."""

from __future__ import annotations

GARBAGE_SAMPLES: tuple[str | bytes, ...] = (
    "this is not json {",
    "[1, 2, 3]",
    '{"type": "trade", "data": [{"s": "BINANCE:BTCUSDT", "p": "cheap", "t": 1, "v": 1}]}',
    '{"type": "trade", "data": "nope"}',
    '{"data": []}',
    b"\xff\xfe\x00binary junk",
)
