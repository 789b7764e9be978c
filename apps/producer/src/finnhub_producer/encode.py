"""Trades -> Kafka messages (key, Avro value). Pure: no I/O beyond reading the packaged schema."""

from __future__ import annotations

import io
import json
from typing import Any, NamedTuple

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form
from finnhub_contracts.avro import trades_schema

from finnhub_producer.frames import Trade, split_by_symbol

FINGERPRINT_HEADER = "schema-fingerprint"


def load_trade_schema() -> dict[str, Any]:
    """The writer schema: the contracts package's `trades.avsc`."""
    return json.loads(trades_schema())


def schema_fingerprint(schema: dict[str, Any]) -> bytes:
    """CRC-64-AVRO (Rabin) of the parsing canonical form, 8 bytes little-endian.

    Little-endian is the byte order of Avro's single-object encoding, so consumers can compare
    this header with the fingerprint any Avro library computes.
    """
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


class KafkaRecord(NamedTuple):
    """A tuple, not a dataclass: one is made per Kafka message, and tuples are the cheapest."""

    key: bytes
    value: bytes
    trade_count: int


class TradeEncoder:
    """Encodes per-symbol groups of trades; the schema is parsed once, here."""

    def __init__(self, schema: dict[str, Any] | None = None) -> None:
        schema = load_trade_schema() if schema is None else schema
        self._parsed = fastavro.parse_schema(schema)
        self.fingerprint = schema_fingerprint(schema)
        self._buffer = io.BytesIO()
        self._keys: dict[str, bytes] = {}

    def encode(self, trades: list[Trade]) -> bytes:
        """Avro binary (no framing) of one `message` record with these trades."""
        buffer = self._buffer
        buffer.seek(0)
        buffer.truncate()
        fastavro.schemaless_writer(buffer, self._parsed, {"data": trades, "type": "trade"})
        return buffer.getvalue()

    def records(self, trades: list[Trade]) -> list[KafkaRecord]:
        """One record per symbol, keyed by the symbol in UTF-8."""
        out = []
        for symbol, group in split_by_symbol(trades).items():
            key = self._keys.get(symbol)
            if key is None:
                key = symbol.encode("utf-8")
                # Bounded: a feed of ever-new symbols must not grow memory for months.
                if len(self._keys) < 10_000:
                    self._keys[symbol] = key
            out.append(KafkaRecord(key, self.encode(group), len(group)))
        return out
