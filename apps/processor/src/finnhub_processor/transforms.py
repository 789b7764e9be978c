"""The processor's logic as plain `DataFrame -> DataFrame` functions; no source or sink here.

Every function works the same on a streaming frame (the job) and on a small static frame
(the tests), so the semantics of every Cassandra table can be read and checked in this module.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterable, Mapping

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form
from finnhub_contracts.avro import older_writer_schemas, trades_schema
from finnhub_contracts.cassandra import TRADE_COLUMNS, TRADE_WINDOW_COLUMNS
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.avro.functions import from_avro

# Fixed namespaces of the name-based (version 5) UUIDs. Changing one changes every key written
# so far: a replay would then add rows beside the old ones instead of rewriting them.
TRADE_UUID_NAMESPACE = uuid.UUID("6f1d8a52-3c1e-5b57-9a43-1f0a1f6c7e01")
WINDOW_UUID_NAMESPACE = uuid.UUID("0b7c9e3d-58a4-5f2e-8d61-6c2f4e9a1b02")

# The header the producer writes on every record (its encode.py): the writer schema's
# fingerprint, so a record from an unknown schema is refused rather than misread.
FINGERPRINT_HEADER = "schema-fingerprint"


def trades_avro_schema() -> str:
    """The reader schema of topic `market`: the contracts package's `trades.avsc`."""
    return trades_schema()


def schema_fingerprint(schema: str) -> bytes:
    """The producer's `schema-fingerprint` header for a schema (JSON): CRC-64-AVRO (Rabin) of
    the parsing canonical form, 8 bytes little-endian, as Avro's single-object encoding has it.

    Canonical form drops `doc`, so documenting a field does not make a new writer schema.
    """
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(json.loads(schema)), "CRC-64-AVRO"))


def known_writer_schemas() -> dict[bytes, str]:
    """Fingerprint -> schema of every writer schema the processor decodes: the current one and
    each older one the contracts package keeps in `writer_schemas/` (a schema once deployed
    stays there, so records still in the topic from an older producer keep decoding)."""
    schemas = older_writer_schemas()
    current = trades_avro_schema()
    known = {schema_fingerprint(schema): schema for schema in schemas}
    known[schema_fingerprint(current)] = current
    return known


def trade_uuid(topic: str, partition: int, offset: int, index: int) -> uuid.UUID:
    """The `trades.uuid` of trade number `index` in the Kafka record at topic/partition/offset."""
    return uuid.uuid5(TRADE_UUID_NAMESPACE, f"{topic}/{partition}/{offset}/{index}")


def window_uuid(symbol: str, window_start_ms: int) -> uuid.UUID:
    """The `running_averages_15_sec.uuid` of one symbol's window starting at `window_start_ms`."""
    return uuid.uuid5(WINDOW_UUID_NAMESPACE, f"{symbol}/{window_start_ms}")


def uuid5_column(namespace: uuid.UUID, name: Column) -> Column:
    """RFC 4122 version 5 UUID of `name` (a string column) in Spark SQL, equal to `uuid.uuid5`.

    Built from `sha1` rather than a Python UDF so it runs inside the JVM at Spark speed.
    """
    digest = F.sha1(F.concat(F.unhex(F.lit(namespace.hex)), F.encode(name, "UTF-8")))
    # Version nibble (13th hex digit) becomes 5; variant bits of the 17th become 10xx.
    variant = F.lower(
        F.hex(F.conv(F.substring(digest, 17, 1), 16, 10).cast("int").bitwiseAND(3).bitwiseOR(8))
    )
    return F.concat(
        F.substring(digest, 1, 8),
        F.lit("-"),
        F.substring(digest, 9, 4),
        F.lit("-5"),
        F.substring(digest, 14, 3),
        F.lit("-"),
        variant,
        F.substring(digest, 18, 3),
        F.lit("-"),
        F.substring(digest, 21, 12),
    )


def decode_messages(
    raw: DataFrame, reader_schema: str, writer_schemas: Mapping[bytes, str] | None = None
) -> DataFrame:
    """Adds `schema_fingerprint` and `message` (the decoded Avro record, or null) to Kafka rows.

    The record's `schema-fingerprint` header picks its writer schema from `writer_schemas`
    (fingerprint -> schema JSON; default: only `reader_schema`); a known older writer schema is
    decoded with Avro schema resolution into `reader_schema`'s shape. A record without the
    header is decoded with `reader_schema` (records written before the header existed, or by
    other tools); a record whose header names no known schema gets a null `message`, so it
    becomes a dead letter (`unknown_writer_schema_reason` says why) instead of being decoded
    with a schema it was not written with. Rows without a `headers` column count as headerless.

    PERMISSIVE mode turns an undecodable value into a struct of nulls instead of failing the
    query; `type` is a required field, so it is null exactly when decoding failed.
    """
    reader_fingerprint = schema_fingerprint(reader_schema)
    if writer_schemas is None:
        writer_schemas = {reader_fingerprint: reader_schema}
    fingerprint = header_value(raw, FINGERPRINT_HEADER)
    options = {"mode": "PERMISSIVE"}
    decoded = F.when(
        fingerprint.isNull() | (fingerprint == F.lit(reader_fingerprint)),
        from_avro(F.col("value"), reader_schema, options),
    )
    for writer_fingerprint, writer_schema in writer_schemas.items():
        if writer_fingerprint != reader_fingerprint:
            resolved = from_avro(
                F.col("value"), writer_schema, {**options, "avroSchema": reader_schema}
            )
            decoded = decoded.when(fingerprint == F.lit(writer_fingerprint), resolved)
    known = F.lit(False)
    for writer_fingerprint in {reader_fingerprint, *writer_schemas}:
        known = known | (fingerprint == F.lit(writer_fingerprint))
    return (
        raw.withColumn("schema_fingerprint", fingerprint)
        .withColumn(
            "message",
            F.when(decoded.getField("type").isNotNull(), decoded).otherwise(F.lit(None)),
        )
        .withColumn("schema_known", fingerprint.isNull() | known)
    )


def header_value(raw: DataFrame, name: str) -> Column:
    """The value (bytes) of the first Kafka header called `name`, null if there is none."""
    if "headers" not in raw.columns:
        return F.lit(None).cast("binary")
    matching = F.filter(F.col("headers"), lambda header: header["key"] == F.lit(name))
    return F.when(F.size(matching) > 0, matching.getItem(0)["value"])


def unknown_writer_schema_reason(known: Iterable[bytes]) -> Column:
    """The dead-letter `error` of a record whose fingerprint header names no known schema."""
    names = ", ".join(sorted(fingerprint.hex() for fingerprint in known))
    return F.concat(
        F.lit(f"unknown writer schema: header {FINGERPRINT_HEADER} = "),
        F.lower(F.hex(F.col("schema_fingerprint"))),
        F.lit(f", known: {names}"),
    )


def decoded_messages(decoded: DataFrame) -> DataFrame:
    """The rows whose value decoded."""
    return decoded.where(F.col("message").isNotNull())


def undecodable_messages(decoded: DataFrame) -> DataFrame:
    """The rows whose value did not decode (including null values): the dead letters."""
    return decoded.where(F.col("message").isNull())


def avro_decode_error(value: bytes | None, parsed_schema: dict) -> str:
    """Why `value` is not a `market` record, in words for the dead-letter header `error`."""
    if value is None:
        return "null value (tombstone): expected an Avro-encoded FinnhubProducer.message"
    try:
        fastavro.schemaless_reader(io.BytesIO(value), parsed_schema, parsed_schema)
    except Exception as error:  # any decoder failure is the answer, not a crash
        return f"Avro decode failed: {type(error).__name__}: {error}"
    return "Avro decode failed in Spark's from_avro (the Python decoder accepted the bytes)"


def parsed_trades_schema() -> dict:
    """The `market` schema parsed for fastavro."""
    return fastavro.parse_schema(json.loads(trades_avro_schema()))


def dead_letter_records(undecodable: DataFrame, error: Column) -> DataFrame:
    """Kafka records for `market.dlq`: the original key and bytes, headers saying why and whence.

    `error` is a string column (the reason); the headers carry the source topic, partition and
    offset so a fixed consumer can find or replay the original record.
    """

    def header(name: str, value: Column) -> Column:
        return F.struct(F.lit(name).alias("key"), F.encode(value, "UTF-8").alias("value"))

    return undecodable.select(
        F.col("key"),
        F.coalesce(F.col("value"), F.lit(b"")).alias("value"),
        F.array(
            header("source-topic", F.col("topic")),
            header("source-partition", F.col("partition").cast("string")),
            header("source-offset", F.col("offset").cast("string")),
            header("error", error),
            header("time", F.date_format(F.current_timestamp(), "yyyy-MM-dd'T'HH:mm:ss.SSSXXX")),
        ).alias("headers"),
    )


def explode_trades(decoded: DataFrame) -> DataFrame:
    """One row per trade with the `trades` table's columns, plus `trade_order` for OHLC ties.

    `uuid` is name-based on (topic, partition, offset, index in message), so replaying a Kafka
    record rewrites the same rows; two trades of one millisecond differ in `uuid` and both stay.
    `trade_order` orders trades within a symbol the way Kafka does (per-symbol order holds
    within a partition), which decides open and close among trades of the same millisecond.
    """
    exploded = decoded_messages(decoded).select(
        "topic",
        "partition",
        "offset",
        F.posexplode(F.col("message.data")).alias("index", "trade"),
    )
    return exploded.select(*_trade_columns())


def _trade_columns() -> list[Column]:
    """The `trades` columns (and `trade_order`) of rows with topic, partition, offset, index
    and `trade` (one element of a message's `data`)."""
    name = F.concat_ws(
        "/",
        F.col("topic"),
        F.col("partition").cast("string"),
        F.col("offset").cast("string"),
        F.col("index").cast("string"),
    )
    trade_timestamp = F.timestamp_millis(F.col("trade.t"))
    return [
        F.col("trade.s").alias("symbol"),
        trade_timestamp.alias("trade_timestamp"),
        uuid5_column(TRADE_UUID_NAMESPACE, name).alias("uuid"),
        # Conditions are codes such as "1" or "12"; joined with commas for the dashboard's
        # table. A null list stays null, so "no conditions sent" differs from "none apply".
        F.when(F.col("trade.c").isNull(), F.lit(None))
        .otherwise(F.concat_ws(",", F.col("trade.c")))
        .alias("trade_conditions"),
        F.col("trade.p").alias("price"),
        F.col("trade.v").alias("volume"),
        F.current_timestamp().alias("ingest_timestamp"),
        F.struct(
            trade_timestamp.alias("t"),
            F.col("partition").alias("p"),
            F.col("offset").alias("o"),
            F.col("index").alias("i"),
        ).alias("trade_order"),
    ]


def trade_writes(decoded: DataFrame, known: Iterable[bytes]) -> DataFrame:
    """What the trades query's row-wise writer gets: one row per trade (the `trades` columns,
    timestamps as epoch milliseconds, `letter` null) and one per undecodable record (`letter`
    set, the trade columns null), from a single read of `decode_messages`.

    One frame for both, because the real-time trigger allows no `foreachBatch` to split a batch
    in two. `letter` holds the dead letter's key, value and headers; its `error` is set here
    when the writer schema is unknown and left null for a value that did not decode, whose
    reason the writer finds with `avro_decode_error` (a Python decoder, not a Spark UDF).
    """
    dead = F.col("message").isNull()
    exploded = decoded.select(
        "topic",
        "partition",
        "offset",
        "key",
        "value",
        "schema_known",
        "schema_fingerprint",
        dead.alias("dead"),
        F.posexplode_outer(F.col("message.data")).alias("index", "trade"),
    ).where(F.col("dead") | F.col("trade").isNotNull())
    trade = exploded.select(
        *_trade_columns(),
        F.when(
            F.col("dead"),
            F.struct(
                F.col("key"),
                F.col("value"),
                F.col("topic"),
                F.col("partition"),
                F.col("offset"),
                F.when(~F.col("schema_known"), unknown_writer_schema_reason(known)).alias("error"),
            ),
        ).alias("letter"),
    )
    return trade.select(
        *[
            F.unix_millis(F.col(c)).alias(c) if c in ("trade_timestamp", "ingest_timestamp") else c
            for c in TRADE_COLUMNS
        ],
        "letter",
    )


def window_aggregates(trades: DataFrame, window_duration: str, watermark_delay: str) -> DataFrame:
    """Per symbol and tumbling event-time window: OHLC, volume, price x volume, VWAP, count.

    The watermark lets Spark drop trades later than `watermark_delay` behind the newest event
    time seen and forget windows that can no longer change, so state stays bounded.
    """
    window = F.window(F.col("trade_timestamp"), window_duration)
    price_volume = F.col("price") * F.col("volume")
    aggregated = (
        trades.withWatermark("trade_timestamp", watermark_delay)
        .groupBy(window.alias("window"), F.col("symbol"))
        .agg(
            F.min_by("price", "trade_order").alias("open"),
            F.max("price").alias("high"),
            F.min("price").alias("low"),
            F.max_by("price", "trade_order").alias("close"),
            F.sum("volume").alias("volume"),
            F.sum(price_volume).alias("price_volume_sum"),
            F.avg(price_volume).alias("price_volume_average"),
            F.count(F.lit(1)).alias("trade_count"),
        )
    )
    return aggregated.select(
        "symbol",
        F.col("window.start").alias("window_start"),
        F.col("window.end").alias("window_end"),
        "open",
        "high",
        "low",
        "close",
        "volume",
        "price_volume_sum",
        # A window of zero volume has no meaningful VWAP; null says so instead of dividing by 0.
        F.when(F.col("volume") != 0, F.col("price_volume_sum") / F.col("volume")).alias("vwap"),
        "price_volume_average",
        "trade_count",
    )


def trade_window_rows(aggregates: DataFrame) -> DataFrame:
    """Rows of `market.trade_windows` from `window_aggregates`."""
    return aggregates.withColumn("ingest_timestamp", F.current_timestamp()).select(
        *TRADE_WINDOW_COLUMNS
    )


def running_average_rows(aggregates: DataFrame) -> DataFrame:
    """Rows of `market.running_averages_15_sec` from `window_aggregates`: avg(price x volume)."""
    name = F.concat_ws("/", F.col("symbol"), F.unix_millis(F.col("window_start")).cast("string"))
    return aggregates.select(
        "symbol",
        "window_start",
        "window_end",
        uuid5_column(WINDOW_UUID_NAMESPACE, name).alias("uuid"),
        F.col("price_volume_average").alias("price_volume_multiply"),
        "trade_count",
        F.current_timestamp().alias("ingest_timestamp"),
    )


def trade_rows(trades: DataFrame) -> DataFrame:
    """Rows of `market.trades` from `explode_trades`."""
    return trades.select(*TRADE_COLUMNS)
