"""Avro encoding against the contract schema: pure, no services."""

from __future__ import annotations

from fastavro.schema import fingerprint, to_parsing_canonical_form
from finnhub_producer.encode import TradeEncoder, load_trade_schema, schema_fingerprint
from hypothesis import given, settings
from hypothesis import strategies as st


def test_fingerprint_is_crc64_avro_little_endian_8_bytes() -> None:
    schema = load_trade_schema()
    value = schema_fingerprint(schema)
    assert len(value) == 8
    assert value.hex() == fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO")
    # Independent check against the Avro spec's reference algorithm.
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in to_parsing_canonical_form(schema).encode():
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    assert value == fp.to_bytes(8, "little")


def test_records_split_one_message_per_symbol_keyed_by_symbol(decode_original) -> None:
    trades = [
        {"c": None, "p": 1.0, "s": "A", "t": 1, "v": 1.0},
        {"c": ["1"], "p": 2.0, "s": "B", "t": 2, "v": 1.0},
        {"c": [], "p": 3.0, "s": "A", "t": 3, "v": 1.0},
    ]
    records = TradeEncoder().records(trades)
    assert [(r.key, r.trade_count) for r in records] == [(b"A", 2), (b"B", 1)]
    assert decode_original(records[0].value)["data"] == [trades[0], trades[2]]


def test_non_ascii_symbol_key_is_utf8() -> None:
    (record,) = TradeEncoder().records([{"c": None, "p": 1.0, "s": "ÄPFEL", "t": 1, "v": 1.0}])
    assert record.key == "ÄPFEL".encode()


trade_strategy = st.builds(
    dict,
    c=st.none() | st.lists(st.none() | st.text(max_size=5), max_size=4),
    p=st.floats(allow_nan=False),
    s=st.sampled_from(["BINANCE:BTCUSDT", "AAPL", "IC MARKETS:1"]),
    t=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    v=st.floats(allow_nan=False),
)


# A shared, busy machine: the default 200 ms deadline would fail on load, not on bugs.
@settings(deadline=None)
@given(st.lists(trade_strategy, min_size=1, max_size=20))
def test_encoded_trades_decode_unchanged_with_the_original_schema(
    decode_original, trades: list[dict]
) -> None:
    encoder = TradeEncoder()
    decoded = []
    for record in encoder.records(trades):
        message = decode_original(record.value)
        assert message["type"] == "trade"
        assert {t["s"] for t in message["data"]} == {record.key.decode()}
        assert len(message["data"]) == record.trade_count
        decoded.extend(message["data"])
    assert sorted(map(repr, decoded)) == sorted(map(repr, trades))


def test_encoder_reuses_its_buffer_without_leaking_previous_bytes(decode_original) -> None:
    encoder = TradeEncoder()
    long = encoder.encode([{"c": ["x" * 50], "p": 1.0, "s": "A", "t": 1, "v": 1.0}] * 3)
    short = encoder.encode([{"c": None, "p": 1.0, "s": "A", "t": 1, "v": 1.0}])
    assert len(short) < len(long)
    assert decode_original(short)["data"][0]["c"] is None
