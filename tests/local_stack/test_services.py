"""The session's Kafka and Cassandra are the real services, set up as the pipeline expects."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cassandra.cluster import Session
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from finnhub_contracts.cassandra import setup_cql
from local_stack.cassandra import connect
from local_stack.schema import apply_cql

pytestmark = pytest.mark.services

DASHBOARD_QUERY = (
    "SELECT symbol, price, trade_timestamp FROM trades "
    "WHERE symbol = ? AND trade_timestamp > ? AND trade_timestamp < ?"
)
INSERT_TRADE = (
    "INSERT INTO market.trades (symbol, trade_timestamp, uuid, trade_conditions, price, volume, "
    "ingest_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _unique_symbol() -> str:
    # Tests share one keyspace for the session; a fresh partition keeps them independent.
    return f"TEST:{uuid.uuid4().hex[:12]}"


def _millis(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def test_cassandra_answers_system_local_query(cassandra_session: Session) -> None:
    row = cassandra_session.execute("SELECT release_version FROM system.local").one()
    assert row.release_version.startswith("5.0")


def test_topics_market_and_dlq_exist_with_configured_partitions(kafka_bootstrap: str) -> None:
    topics = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10).topics
    assert len(topics["market"].partitions) == 3
    assert len(topics["market.dlq"].partitions) == 1


def test_record_produced_to_market_is_consumed_with_key_value_and_headers(
    kafka_bootstrap: str,
) -> None:
    key = _unique_symbol().encode()
    value = uuid.uuid4().bytes
    delivered = []
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "acks": "all"})
    producer.produce(
        "market",
        key=key,
        value=value,
        headers=[("schema-fingerprint", b"\x01" * 8)],
        on_delivery=lambda err, msg: delivered.append((err, msg)),
    )
    assert producer.flush(30) == 0
    error, message = delivered[0]
    assert error is None

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"test-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe(["market"])
        received = None
        for _ in range(60):
            polled = consumer.poll(1.0)
            if polled is not None and polled.error() is None and polled.key() == key:
                received = polled
                break
    finally:
        consumer.close()
    assert received is not None
    assert received.value() == value
    assert received.partition() == message.partition()
    assert received.headers() == [("schema-fingerprint", b"\x01" * 8)]


def test_applying_the_cql_file_again_changes_nothing(local_stack, cassandra_session) -> None:
    def schema_of(session: Session) -> list[tuple]:
        rows = session.execute(
            "SELECT table_name, column_name, kind, type FROM system_schema.columns "
            "WHERE keyspace_name = 'market'"
        )
        return sorted(tuple(row) for row in rows)

    before = schema_of(cassandra_session)
    ran = apply_cql(cassandra_session, setup_cql(local_stack.stack.settings.keyspace))
    assert ran >= 4
    assert schema_of(cassandra_session) == before
    assert {"trades", "running_averages_15_sec"} <= {row[0] for row in before}


def test_inserted_trade_reads_back_with_original_columns(cassandra_session: Session) -> None:
    symbol = _unique_symbol()
    traded_at = _millis(datetime.now(UTC))
    row_id = uuid.uuid4()
    insert = cassandra_session.prepare(INSERT_TRADE)
    cassandra_session.execute(
        insert, (symbol, traded_at, row_id, "1,12", 42000.5, 0.25, datetime.now(UTC))
    )
    row = cassandra_session.execute(
        "SELECT uuid, symbol, trade_conditions, price, volume, trade_timestamp "
        "FROM market.trades WHERE symbol = %s",
        (symbol,),
    ).one()
    assert (row.uuid, row.symbol, row.trade_conditions, row.price, row.volume) == (
        row_id,
        symbol,
        "1,12",
        42000.5,
        0.25,
    )
    assert row.trade_timestamp.replace(tzinfo=UTC) == traded_at


def test_two_trades_of_the_same_millisecond_for_one_symbol_are_both_kept(
    cassandra_session: Session,
) -> None:
    symbol = _unique_symbol()
    traded_at = _millis(datetime.now(UTC))
    insert = cassandra_session.prepare(INSERT_TRADE)
    for price in (100.0, 101.0):
        cassandra_session.execute(
            insert, (symbol, traded_at, uuid.uuid4(), None, price, 1.0, datetime.now(UTC))
        )
    rows = cassandra_session.execute(
        "SELECT price FROM market.trades WHERE symbol = %s", (symbol,)
    ).all()
    assert sorted(row.price for row in rows) == [100.0, 101.0]


def test_original_dashboard_query_runs_unchanged(local_stack, cassandra_session: Session) -> None:
    symbol = _unique_symbol()
    now = _millis(datetime.now(UTC))
    insert = cassandra_session.prepare(INSERT_TRADE)
    for seconds_ago, price in ((120, 1.0), (30, 2.0), (10, 3.0)):
        cassandra_session.execute(
            insert,
            (symbol, now - timedelta(seconds=seconds_ago), uuid.uuid4(), None, price, 1.0, now),
        )
    # The dashboards' session is bound to the keyspace, so the query names no keyspace.
    cluster = connect(local_stack.cassandra_host, local_stack.cassandra_port)
    try:
        dashboard_session = cluster.connect("market")
        query = dashboard_session.prepare(DASHBOARD_QUERY)
        rows = dashboard_session.execute(query, (symbol, now - timedelta(minutes=1), now)).all()
    finally:
        cluster.shutdown()
    # Newest first: the clustering order the dashboards rely on.
    assert [(row.symbol, row.price) for row in rows] == [(symbol, 3.0), (symbol, 2.0)]


def test_status_reports_both_services_running_and_answering(local_stack) -> None:
    statuses = {status.name: status for status in local_stack.stack.status()}
    assert set(statuses) == {"kafka", "cassandra"}
    for status in statuses.values():
        assert status.running and status.answering
        assert status.rss_bytes and status.rss_bytes > 0
    assert statuses["kafka"].address == local_stack.kafka_bootstrap
    assert statuses["cassandra"].address.endswith(f":{local_stack.cassandra_port}")


def test_spark_connector_jars_hold_both_connectors_and_no_jar_pyspark_ships(local_stack) -> None:
    names = [jar.name for jar in local_stack.spark_jars]
    assert any(name.startswith("spark-sql-kafka-0-10_2.13-4.2.0") for name in names)
    assert any(name.startswith("spark-avro_2.13-4.2.0") for name in names)
    assert any(name.startswith("kafka-clients-") for name in names)
    pyspark = pytest.importorskip("pyspark")
    shipped = {p.name for p in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    assert not shipped & set(names)
