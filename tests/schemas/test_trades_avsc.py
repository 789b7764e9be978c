"""The contracts' trades.avsc stays reader- and writer-compatible with the original design's schema.

`original_message.avsc` beside this file is the original design's schema.
Each direction writes with one schema and reads with the other through fastavro's schema
resolution, which raises on any incompatibility.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from finnhub_contracts.avro import trades_schema

HERE = Path(__file__).resolve().parent
TRADES = parse_schema(json.loads(trades_schema()))
ORIGINAL = parse_schema(json.loads((HERE / "original_message.avsc").read_text()))


def _trade(conditions: list[str | None] | None) -> dict:
    return {
        "c": conditions,
        "p": 7296.89,
        "s": "BINANCE:BTCUSDT",
        "t": 1575526691134,
        "v": 0.011467,
    }


MESSAGES = {
    "conditions as strings": {"data": [_trade(["1", "12"])], "type": "trade"},
    "conditions null": {"data": [_trade(None)], "type": "trade"},
    "conditions with null items": {"data": [_trade([None, "12", None])], "type": "trade"},
    "no conditions": {"data": [_trade([])], "type": "trade"},
    "several trades": {"data": [_trade(["1"]), _trade(None)], "type": "trade"},
    "no trades": {"data": [], "type": "trade"},
}


def _round_trip(message: dict, writer: dict, reader: dict) -> dict:
    buffer = io.BytesIO()
    schemaless_writer(buffer, writer, message)
    buffer.seek(0)
    decoded = schemaless_reader(buffer, writer, reader)
    assert buffer.read() == b"", "reader left bytes unread"
    return decoded


@pytest.mark.parametrize("message", MESSAGES.values(), ids=MESSAGES.keys())
def test_original_writer_is_read_by_trades_schema(message: dict) -> None:
    assert _round_trip(message, ORIGINAL, TRADES) == message


@pytest.mark.parametrize("message", MESSAGES.values(), ids=MESSAGES.keys())
def test_trades_writer_is_read_by_original_schema(message: dict) -> None:
    assert _round_trip(message, TRADES, ORIGINAL) == message


def test_both_schemas_name_the_same_records() -> None:
    assert TRADES["name"] == ORIGINAL["name"] == "FinnhubProducer.message"
    trade_record = TRADES["fields"][0]["type"]["items"]
    assert trade_record["name"] == "FinnhubProducer.data"


def test_trade_record_fields_match_the_original_in_order_and_type() -> None:
    def trade_fields(schema: dict) -> list[tuple[str, object]]:
        record = schema["fields"][0]["type"]["items"]
        return [(field["name"], field["type"]) for field in record["fields"]]

    assert trade_fields(TRADES) == trade_fields(ORIGINAL)
    assert [f["name"] for f in TRADES["fields"]] == [f["name"] for f in ORIGINAL["fields"]]


def test_missing_conditions_default_to_an_empty_list() -> None:
    trade_field_c = TRADES["fields"][0]["type"]["items"]["fields"][0]
    assert trade_field_c["name"] == "c"
    assert trade_field_c["default"] == []
