"""Frame parsing and the per-symbol split: pure, no services."""

from __future__ import annotations

import json

from finnhub_producer.frames import (
    ErrorFrame,
    MalformedFrame,
    PingFrame,
    TradeFrame,
    UnknownFrame,
    parse_frame,
    split_by_symbol,
)
from hypothesis import given, settings
from hypothesis import strategies as st

FINNHUB_EXAMPLE = (
    '{"data":[{"c":["1","12"],"p":7296.89,"s":"BINANCE:BTCUSDT","t":1575526691134,"v":0.011467}],'
    '"type":"trade"}'
)


def test_trade_frame_from_finnhub_docs_parses_to_its_trades() -> None:
    frame = parse_frame(FINNHUB_EXAMPLE)
    assert frame == TradeFrame(
        [
            {
                "c": ["1", "12"],
                "p": 7296.89,
                "s": "BINANCE:BTCUSDT",
                "t": 1575526691134,
                "v": 0.011467,
            }
        ]
    )


def test_ping_frame_is_a_ping() -> None:
    assert parse_frame('{"type":"ping"}') == PingFrame()


def test_error_frame_keeps_finnhub_message() -> None:
    assert parse_frame('{"type":"error","msg":"Invalid symbol"}') == ErrorFrame("Invalid symbol")


def test_unknown_frame_type_is_reported_not_malformed() -> None:
    assert parse_frame('{"type":"news","data":[]}') == UnknownFrame("news")


def test_bytes_frames_parse_like_text() -> None:
    assert parse_frame(FINNHUB_EXAMPLE.encode()) == parse_frame(FINNHUB_EXAMPLE)


def test_null_conditions_stay_null() -> None:
    frame = parse_frame('{"type":"trade","data":[{"c":null,"p":1,"s":"A","t":1,"v":2}]}')
    assert isinstance(frame, TradeFrame)
    assert frame.trades[0]["c"] is None


def test_missing_conditions_become_null() -> None:
    frame = parse_frame('{"type":"trade","data":[{"p":1,"s":"A","t":1,"v":2}]}')
    assert isinstance(frame, TradeFrame)
    assert frame.trades[0]["c"] is None


def test_empty_conditions_stay_an_empty_list() -> None:
    frame = parse_frame('{"type":"trade","data":[{"c":[],"p":1,"s":"A","t":1,"v":2}]}')
    assert isinstance(frame, TradeFrame)
    assert frame.trades[0]["c"] == []


def test_integer_price_and_volume_become_doubles() -> None:
    frame = parse_frame('{"type":"trade","data":[{"c":null,"p":7,"s":"A","t":1,"v":2}]}')
    assert isinstance(frame, TradeFrame)
    assert isinstance(frame.trades[0]["p"], float)
    assert isinstance(frame.trades[0]["v"], float)


def test_extra_trade_fields_are_dropped() -> None:
    frame = parse_frame('{"type":"trade","data":[{"p":1,"s":"A","t":1,"v":2,"x":"new"}]}')
    assert isinstance(frame, TradeFrame)
    assert set(frame.trades[0]) == {"c", "p", "s", "t", "v"}


def test_malformed_inputs_are_classified_never_raised() -> None:
    bad = [
        "not json {",
        "[1,2,3]",
        "null",
        '{"no":"type"}',
        '{"type":"trade"}',
        '{"type":"trade","data":"x"}',
        '{"type":"trade","data":[1]}',
        '{"type":"trade","data":[{"p":"cheap","s":"A","t":1,"v":1}]}',
        '{"type":"trade","data":[{"p":1,"s":"","t":1,"v":1}]}',
        '{"type":"trade","data":[{"p":1,"s":"A","t":1.5,"v":1}]}',
        '{"type":"trade","data":[{"p":1,"s":"A","t":true,"v":1}]}',
        '{"type":"trade","data":[{"p":1,"s":"A","t":99999999999999999999,"v":1}]}',
        '{"type":"trade","data":[{"p":1,"s":"A","t":1,"v":null}]}',
        '{"type":"trade","data":[{"c":"1","p":1,"s":"A","t":1,"v":1}]}',
        '{"type":"trade","data":[{"c":[1],"p":1,"s":"A","t":1,"v":1}]}',
        b"\xff\xfe\x00binary",
    ]
    for raw in bad:
        assert isinstance(parse_frame(raw), MalformedFrame), raw


# A shared, busy machine: the default 200 ms deadline would fail on load, not on bugs.
@settings(deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_parse_frame_never_raises_on_any_input(raw: bytes | str) -> None:
    parse_frame(raw)


trade_strategy = st.fixed_dictionaries(
    {
        "c": st.none() | st.lists(st.none() | st.text(max_size=4), max_size=3),
        "p": st.floats(allow_nan=False),
        "s": st.sampled_from(["BINANCE:BTCUSDT", "AAPL", "IC MARKETS:1", "ÜNICODE"]),
        "t": st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "v": st.floats(allow_nan=False),
    }
)


# A shared, busy machine: the default 200 ms deadline would fail on load, not on bugs.
@settings(deadline=None)
@given(st.lists(trade_strategy, max_size=30))
def test_valid_trades_survive_a_json_round_trip(trades: list[dict]) -> None:
    frame = parse_frame(json.dumps({"type": "trade", "data": trades}))
    assert frame == TradeFrame(trades)


# A shared, busy machine: the default 200 ms deadline would fail on load, not on bugs.
@settings(deadline=None)
@given(st.lists(trade_strategy, max_size=30))
def test_split_keeps_every_trade_once_in_per_symbol_order(trades: list[dict]) -> None:
    groups = split_by_symbol(trades)
    assert sum(len(g) for g in groups.values()) == len(trades)
    for symbol, group in groups.items():
        assert all(t["s"] == symbol for t in group)
        assert group == [t for t in trades if t["s"] == symbol]


def test_split_orders_symbols_by_first_appearance() -> None:
    trades = [{"s": "B"}, {"s": "A"}, {"s": "B"}]
    assert list(split_by_symbol(trades)) == ["B", "A"]
