"""Finnhub websocket frames -> typed values. Pure: no I/O, no logging.

Finnhub sends JSON text frames: `{"type":"trade","data":[{"s","p","t","v","c"}, ...]}`,
`{"type":"ping"}` to keep the connection alive, `{"type":"error","msg":...}` (bad symbol, too many
subscriptions) and, now and then, types this code does not know. Only a trade frame carries data;
a frame that claims to be a trade but has a bad shape is malformed and goes to the dead letters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Trade = dict[str, Any]
"""One trade, with exactly the Avro record's fields: c (list or None), p, s, t, v."""


@dataclass(frozen=True, slots=True)
class TradeFrame:
    trades: list[Trade]


@dataclass(frozen=True, slots=True)
class PingFrame:
    pass


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    message: str


@dataclass(frozen=True, slots=True)
class UnknownFrame:
    frame_type: str


@dataclass(frozen=True, slots=True)
class MalformedFrame:
    error: str


Frame = TradeFrame | PingFrame | ErrorFrame | UnknownFrame | MalformedFrame


def parse_frame(raw: str | bytes) -> Frame:
    """Classify one websocket frame; never raises."""
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return MalformedFrame(f"not JSON: {exc}")
    if not isinstance(message, dict):
        return MalformedFrame(f"not a JSON object but {type(message).__name__}")
    frame_type = message.get("type")
    if frame_type == "trade":
        return _parse_trade_frame(message)
    if frame_type == "ping":
        return PingFrame()
    if frame_type == "error":
        return ErrorFrame(str(message.get("msg", "")))
    if not isinstance(frame_type, str):
        return MalformedFrame("no string field 'type'")
    return UnknownFrame(frame_type)


def _parse_trade_frame(message: dict[str, Any]) -> TradeFrame | MalformedFrame:
    data = message.get("data")
    if not isinstance(data, list):
        return MalformedFrame("trade frame without a 'data' list")
    trades: list[Trade] = []
    for index, item in enumerate(data):
        trade = _parse_trade(item)
        if isinstance(trade, str):
            return MalformedFrame(f"trade {index}: {trade}")
        trades.append(trade)
    return TradeFrame(trades)


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _parse_trade(item: object) -> Trade | str:
    """The trade as the Avro record wants it, or why it cannot be one.

    `type(x) is` rather than isinstance: json.loads only makes exact built-in types, this runs
    for every trade, and it keeps `true` (a bool, an int subclass) from passing as a number.
    """
    if type(item) is not dict:
        return "not an object"
    symbol, price, time_ms, volume = item.get("s"), item.get("p"), item.get("t"), item.get("v")
    if type(symbol) is not str or not symbol:
        return "'s' is not a non-empty string"
    if type(price) is not float:
        if type(price) is not int:
            return "'p' is not a number"
        price = float(price)
    if type(time_ms) is not int or not _INT64_MIN <= time_ms <= _INT64_MAX:
        return "'t' is not a 64-bit integer"
    if type(volume) is not float:
        if type(volume) is not int:
            return "'v' is not a number"
        volume = float(volume)
    # Finnhub omits `c` or sends null for trades without conditions; both are kept as null so
    # consumers can tell "none reported" from an empty list.
    conditions = item.get("c")
    if conditions is not None:
        if type(conditions) is not list:
            return "'c' is neither null nor a list of strings"
        for condition in conditions:
            if condition is not None and type(condition) is not str:
                return "'c' is neither null nor a list of strings"
    return {"c": conditions, "p": price, "s": symbol, "t": time_ms, "v": volume}


def split_by_symbol(trades: Sequence[Trade]) -> dict[str, list[Trade]]:
    """Group trades per symbol, keeping Finnhub's order within each symbol.

    One Kafka message per symbol keyed by it keeps a symbol's trades in one partition, in order.
    """
    groups: dict[str, list[Trade]] = {}
    for trade in trades:
        group = groups.get(trade["s"])
        if group is None:
            groups[trade["s"]] = [trade]
        else:
            group.append(trade)
    return groups
