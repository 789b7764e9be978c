"""The processor's transformations on small in-memory frames, against hand-computed answers."""

from __future__ import annotations

import base64
import io
import json
import os
import uuid
from pathlib import Path

import fastavro
import pytest
from finnhub_processor.transforms import (
    FINGERPRINT_HEADER,
    TRADE_UUID_NAMESPACE,
    avro_decode_error,
    dead_letter_records,
    decode_messages,
    explode_trades,
    known_writer_schemas,
    running_average_rows,
    schema_fingerprint,
    trade_rows,
    trade_uuid,
    trade_window_rows,
    trades_avro_schema,
    undecodable_messages,
    unknown_writer_schema_reason,
    uuid5_column,
    window_aggregates,
    window_uuid,
)
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

pytestmark = pytest.mark.spark

KAFKA_SCHEMA = "key binary, value binary, topic string, partition int, offset long"

Record = tuple[bytes | None, bytes | None, str, int, int]


def kafka_frame(spark: SparkSession, records: list[Record]) -> DataFrame:
    return spark.createDataFrame(records, KAFKA_SCHEMA)


def decoded_frame(spark: SparkSession, records: list[Record]) -> DataFrame:
    return decode_messages(kafka_frame(spark, records), trades_avro_schema())


def millis(frame: DataFrame, *columns: str) -> DataFrame:
    """Timestamps as epoch ms, so answers do not depend on the test machine's time zone."""
    return frame.select(
        *[F.unix_millis(F.col(c)).alias(c) if c in columns else F.col(c) for c in frame.columns]
    )


def test_uuid5_column_equals_python_uuid5(spark: SparkSession) -> None:
    names = ["market/0/0/0", "market/2/123456789/17", "ünïcode/1/2/3", ""]
    frame = spark.createDataFrame([(n,) for n in names], "name string")
    got = frame.select("name", uuid5_column(TRADE_UUID_NAMESPACE, F.col("name")).alias("u"))
    assert {r.name: r.u for r in got.collect()} == {
        n: str(uuid.uuid5(TRADE_UUID_NAMESPACE, n)) for n in names
    }


def test_undecodable_and_null_values_become_dead_letters_and_good_ones_do_not(
    spark: SparkSession, encode_trades
) -> None:
    good = encode_trades([{"s": "A", "p": 1.0, "t": 1_000, "v": 1.0}])
    decoded = decoded_frame(
        spark,
        [
            (b"A", good, "market", 0, 0),
            (b"A", b"not avro at all", "market", 0, 1),
            (b"A", None, "market", 0, 2),
            (b"A", good[:-2], "market", 0, 3),
        ],
    )
    assert sorted(r.offset for r in undecodable_messages(decoded).collect()) == [1, 2, 3]


def test_decode_error_names_the_reason(parsed_schema: dict, encode_trades) -> None:
    truncated = encode_trades([{"s": "A", "p": 1.0, "t": 1_000, "v": 1.0}])[:-2]
    assert avro_decode_error(truncated, parsed_schema).startswith("Avro decode failed: ")
    assert "tombstone" in avro_decode_error(None, parsed_schema)


def test_dead_letter_keeps_bytes_and_says_source_and_error(spark: SparkSession) -> None:
    undecodable = decoded_frame(spark, [(b"BINANCE:X", b"\x01\x02garbage", "market", 2, 41)])
    letter = dead_letter_records(undecodable, F.lit("broken")).collect()[0]
    headers = {h.key: bytes(h.value).decode() for h in letter.headers}
    assert bytes(letter.value) == b"\x01\x02garbage"
    assert bytes(letter.key) == b"BINANCE:X"
    assert {
        k: headers[k] for k in ("source-topic", "source-partition", "source-offset", "error")
    } == {
        "source-topic": "market",
        "source-partition": "2",
        "source-offset": "41",
        "error": "broken",
    }
    assert "time" in headers


HEADERED_SCHEMA = (
    "key binary, value binary, topic string, partition int, offset long, "
    "headers array<struct<key:string,value:binary>>"
)
ORIGINAL_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "original_message.avsc"


def headered_frame(spark: SparkSession, value: bytes, headers: list[tuple[str, bytes]]):
    frame = spark.createDataFrame([(b"A", value, "market", 0, 5, headers)], HEADERED_SCHEMA)
    return decode_messages(frame, trades_avro_schema(), known_writer_schemas())


def encode_with(schema_text: str, message: dict) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(json.loads(schema_text)), message)
    return buffer.getvalue()


def test_fingerprint_is_the_one_the_producer_writes_in_its_header() -> None:
    from finnhub_producer.encode import TradeEncoder

    assert schema_fingerprint(trades_avro_schema()) == TradeEncoder().fingerprint
    assert TradeEncoder().fingerprint in known_writer_schemas()


def test_a_record_naming_an_unknown_writer_schema_is_a_dead_letter_saying_so(
    spark: SparkSession, encode_trades
) -> None:
    good = encode_trades([{"s": "A", "p": 1.0, "t": 1_000, "v": 1.0}])
    decoded = headered_frame(spark, good, [(FINGERPRINT_HEADER, b"\x01" * 8)])
    dead = undecodable_messages(decoded)
    reason = unknown_writer_schema_reason(known_writer_schemas())
    letter = dead_letter_records(dead.where(~F.col("schema_known")), reason).collect()
    assert len(letter) == 1 and explode_trades(decoded).count() == 0
    error = {h.key: bytes(h.value).decode() for h in letter[0].headers}["error"]
    assert error.startswith("unknown writer schema: header schema-fingerprint = 0101010101010101")
    assert schema_fingerprint(trades_avro_schema()).hex() in error


def test_a_record_of_the_original_schema_with_its_fingerprint_still_decodes(
    spark: SparkSession,
) -> None:
    original = ORIGINAL_SCHEMA.read_text("utf-8")
    trade = {"c": ["1"], "p": 2.5, "s": "A", "t": 1_000, "v": 3.0}
    value = encode_with(original, {"data": [trade], "type": "trade"})
    decoded = headered_frame(spark, value, [(FINGERPRINT_HEADER, schema_fingerprint(original))])
    rows = explode_trades(decoded).collect()
    assert [(r.symbol, r.price, r.volume, r.trade_conditions) for r in rows] == [
        ("A", 2.5, 3.0, "1")
    ]


def test_a_record_without_the_header_decodes_with_the_current_schema(
    spark: SparkSession, encode_trades
) -> None:
    value = encode_trades([{"s": "A", "p": 1.0, "t": 1_000, "v": 1.0}])
    decoded = headered_frame(spark, value, [("other", b"x")])
    assert [r.symbol for r in explode_trades(decoded).collect()] == ["A"]
    assert decoded.where(F.col("schema_known")).count() == 1


def test_a_known_older_writer_schema_is_resolved_into_the_current_shape(
    spark: SparkSession,
) -> None:
    # An older producer that wrote volumes as float: Avro promotes them to the reader's double.
    older = json.loads(trades_avro_schema())
    for field in older["fields"][0]["type"]["items"]["fields"]:
        if field["name"] == "v":
            field["type"] = "float"
    older_text = json.dumps(older)
    trade = {"c": ["7"], "p": 4.0, "s": "B", "t": 2_000, "v": 1.5}
    value = encode_with(older_text, {"data": [trade], "type": "trade"})
    frame = spark.createDataFrame(
        [(b"B", value, "market", 0, 1, [(FINGERPRINT_HEADER, schema_fingerprint(older_text))])],
        HEADERED_SCHEMA,
    )
    writers = {**known_writer_schemas(), schema_fingerprint(older_text): older_text}
    rows = explode_trades(decode_messages(frame, trades_avro_schema(), writers)).collect()
    assert [(r.symbol, r.price, r.volume, r.trade_conditions) for r in rows] == [
        ("B", 4.0, 1.5, "7")
    ]
    # A processor that does not know the older schema refuses the record (a dead letter).
    unresolved = explode_trades(decode_messages(frame, trades_avro_schema()))
    assert unresolved.count() == 0


def test_trades_are_renamed_converted_and_keyed_by_kafka_position(
    spark: SparkSession, encode_trades
) -> None:
    value = encode_trades(
        [
            {
                "s": "BINANCE:BTCUSDT",
                "p": 7296.89,
                "t": 1_575_526_691_134,
                "v": 0.011467,
                "c": ["1", "12"],
            },
            {"s": "BINANCE:BTCUSDT", "p": 7296.9, "t": 1_575_526_691_134, "v": 0.5, "c": None},
        ]
    )
    rows = millis(
        trade_rows(explode_trades(decoded_frame(spark, [(b"k", value, "market", 1, 99)]))),
        "trade_timestamp",
    ).collect()
    assert sorted((r.asDict() for r in rows), key=lambda r: r["price"]) == [
        {
            "symbol": "BINANCE:BTCUSDT",
            "trade_timestamp": 1_575_526_691_134,
            "uuid": str(trade_uuid("market", 1, 99, 0)),
            "trade_conditions": "1,12",
            "price": 7296.89,
            "volume": 0.011467,
            "ingest_timestamp": rows[0].ingest_timestamp,
        },
        {
            "symbol": "BINANCE:BTCUSDT",
            "trade_timestamp": 1_575_526_691_134,
            "uuid": str(trade_uuid("market", 1, 99, 1)),
            "trade_conditions": None,
            "price": 7296.9,
            "volume": 0.5,
            "ingest_timestamp": rows[1].ingest_timestamp,
        },
    ]


def test_same_millisecond_trades_get_distinct_uuids_so_both_rows_stay(
    spark: SparkSession, encode_trades
) -> None:
    same_ms = [
        {"s": "A", "p": 1.0, "t": 5_000, "v": 1.0},
        {"s": "A", "p": 1.0, "t": 5_000, "v": 1.0},
    ]
    records = [(b"A", encode_trades(same_ms), "market", 0, 0)]
    rows = trade_rows(explode_trades(decoded_frame(spark, records))).collect()
    assert len({(r.symbol, r.trade_timestamp, r.uuid) for r in rows}) == 2


WINDOW_TRADES = [
    # (partition, offset, trades): window [0 s, 15 s) of A holds three trades, two in one ms.
    (
        0,
        0,
        [{"s": "A", "p": 10.0, "t": 1_000, "v": 1.0}, {"s": "A", "p": 12.0, "t": 1_000, "v": 3.0}],
    ),
    (0, 1, [{"s": "A", "p": 11.0, "t": 14_999, "v": 2.0}]),
    (0, 2, [{"s": "A", "p": 20.0, "t": 15_000, "v": 1.0}]),
    (1, 0, [{"s": "B", "p": 100.0, "t": 5_000, "v": 0.5}]),
]


def window_frame(spark: SparkSession, encode_trades, batches=WINDOW_TRADES) -> DataFrame:
    records = [(b"k", encode_trades(t), "market", p, o) for p, o, t in batches]
    return window_aggregates(
        explode_trades(decoded_frame(spark, records)), "15 seconds", "10 seconds"
    )


def test_windows_hold_hand_computed_ohlc_volume_vwap_and_count(
    spark: SparkSession, encode_trades
) -> None:
    rows = millis(
        trade_window_rows(window_frame(spark, encode_trades)), "window_start", "window_end"
    ).drop("ingest_timestamp")
    got = {(r.symbol, r.window_start): r.asDict() for r in rows.collect()}
    assert got == {
        ("A", 0): {
            "symbol": "A", "window_start": 0, "window_end": 15_000,
            "open": 10.0, "high": 12.0, "low": 10.0, "close": 11.0,
            "volume": 6.0, "price_volume_sum": 68.0, "vwap": pytest.approx(68.0 / 6.0),
            "trade_count": 3,
        },
        ("A", 15_000): {
            "symbol": "A", "window_start": 15_000, "window_end": 30_000,
            "open": 20.0, "high": 20.0, "low": 20.0, "close": 20.0,
            "volume": 1.0, "price_volume_sum": 20.0, "vwap": 20.0, "trade_count": 1,
        },
        ("B", 0): {
            "symbol": "B", "window_start": 0, "window_end": 15_000,
            "open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0,
            "volume": 0.5, "price_volume_sum": 50.0, "vwap": 100.0, "trade_count": 1,
        },
    }  # fmt: skip


def test_running_average_is_the_windows_mean_of_price_times_volume(
    spark: SparkSession, encode_trades
) -> None:
    rows = millis(running_average_rows(window_frame(spark, encode_trades)), "window_start")
    got = {(r.symbol, r.window_start): r for r in rows.collect()}
    assert {k: (r.price_volume_multiply, r.trade_count) for k, r in got.items()} == {
        ("A", 0): (pytest.approx(68.0 / 3), 3),
        ("A", 15_000): (20.0, 1),
        ("B", 0): (50.0, 1),
    }
    assert got[("A", 0)].uuid == str(window_uuid("A", 0))


def test_open_and_close_among_same_millisecond_trades_follow_kafka_order(
    spark: SparkSession, encode_trades
) -> None:
    same_ms = [
        {"s": "A", "p": 12.0, "t": 1_000, "v": 1.0},
        {"s": "A", "p": 10.0, "t": 1_000, "v": 1.0},
        {"s": "A", "p": 11.0, "t": 1_000, "v": 1.0},
    ]
    row = window_frame(spark, encode_trades, [(0, 7, same_ms)]).collect()[0]
    assert (row.open, row.high, row.low, row.close) == (12.0, 12.0, 10.0, 11.0)


def test_trades_later_than_the_watermark_are_dropped_and_on_time_ones_counted(
    spark: SparkSession, encode_trades, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    source.mkdir()

    def add_file(name: str, offset: int, trades: list[dict]) -> None:
        line = {
            "value": base64.b64encode(encode_trades(trades)).decode(),
            "topic": "market",
            "partition": 0,
            "offset": offset,
        }
        staged = source / f".{name}"
        staged.write_text(json.dumps(line) + "\n")
        os.rename(staged, source / name)  # the file source must never see a half-written file

    stream = (
        spark.readStream.schema("value string, topic string, partition int, offset long")
        .json(str(source))
        .select(F.unbase64("value").alias("value"), "topic", "partition", "offset")
    )
    aggregates = window_aggregates(
        explode_trades(decode_messages(stream, trades_avro_schema())), "15 seconds", "10 seconds"
    )
    emitted: list[Row] = []
    query = (
        millis(aggregates, "window_start")
        .writeStream.outputMode("update")
        .foreachBatch(lambda batch, _: emitted.extend(batch.collect()))
        .start()
    )
    try:
        # Newest event 130 s: the watermark becomes 120 s once this batch completes.
        add_file("1.json", 0, [{"s": "A", "p": 1.0, "t": 100_000, "v": 1.0}])
        add_file("2.json", 1, [{"s": "A", "p": 2.0, "t": 130_000, "v": 1.0}])
        query.processAllAvailable()
        # 101 s is behind the watermark (its window ended at 105 s); 125 s is not.
        add_file("3.json", 2, [{"s": "A", "p": 5.0, "t": 101_000, "v": 1.0}])
        add_file("4.json", 3, [{"s": "A", "p": 3.0, "t": 125_000, "v": 1.0}])
        query.processAllAvailable()
    finally:
        query.stop()
    final = {r.window_start: (r.trade_count, r.high) for r in emitted}
    assert final == {90_000: (1, 1.0), 120_000: (2, 3.0)}
