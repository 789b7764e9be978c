"""The producer against the fake Finnhub and the session's real Kafka."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Message
from finnhub_fake_feed.faults import GARBAGE_SAMPLES
from finnhub_fake_feed.server import FakeFinnhub
from finnhub_producer.encode import FINGERPRINT_HEADER, TradeEncoder

pytestmark = pytest.mark.services

SYMBOLS = ("BINANCE:BTCUSDT", "BINANCE:ETHUSDT", "AAPL", "IC MARKETS:1")


@pytest.fixture
def fake() -> Iterator[FakeFinnhub]:
    with FakeFinnhub(rate=100, burst=6, ping_interval_s=0.3, seed=11) as server:
        yield server


def _trade_key(trade: dict[str, Any]) -> str:
    return json.dumps(trade, sort_keys=True)


def _arrived(messages: list[Message], decode: Callable[[bytes], dict]) -> list[dict[str, Any]]:
    trades = []
    for message in messages:
        body = decode(message.value())
        assert body["type"] == "trade"
        assert {t["s"] for t in body["data"]} == {message.key().decode()}
        assert dict(message.headers())[FINGERPRINT_HEADER] == TradeEncoder().fingerprint
        trades.extend(body["data"])
    return trades


def _assert_exactly_once(sent: list[dict], arrived: list[dict]) -> None:
    assert len(sent) > 0
    sent_counts = Counter(map(_trade_key, sent))
    arrived_counts = Counter(map(_trade_key, arrived))
    assert arrived_counts == sent_counts, (
        f"missing {sum((sent_counts - arrived_counts).values())}, "
        f"extra {sum((arrived_counts - sent_counts).values())}"
    )


def _stream(fake: FakeFinnhub, producer: Any, seconds: float) -> list[dict]:
    """Let trades flow, then pause the feed and wait until Kafka acknowledged all sent."""
    producer.wait_for(lambda: len(fake.sent_trades()) > 0, "first trade sent", 30)
    time.sleep(seconds)
    fake.pause()
    sent = fake.sent_trades()
    producer.wait_until_produced(len(sent))
    return sent


def test_every_sent_trade_arrives_once_keyed_by_symbol_in_order(
    fake, kafka_bootstrap, topics, make_settings, start_producer, read_topic, decode_original
) -> None:
    producer = start_producer(make_settings(fake.url, kafka_bootstrap, topics, SYMBOLS))
    fake.wait_until_subscribed(SYMBOLS)
    sent = _stream(fake, producer, 1.5)
    assert producer.stop() == 0

    messages = read_topic(kafka_bootstrap, topics.trades)
    _assert_exactly_once(sent, _arrived(messages, decode_original))
    # Per symbol: one partition, and Finnhub's order within it.
    for symbol in SYMBOLS:
        own = [m for m in messages if m.key() == symbol.encode()]
        assert len({m.partition() for m in own}) == 1
        in_kafka = [
            t for m in sorted(own, key=Message.offset) for t in decode_original(m.value())["data"]
        ]
        assert in_kafka == [t for t in sent if t["s"] == symbol]


def test_forced_drops_reconnect_resubscribe_and_lose_nothing(
    fake, kafka_bootstrap, topics, make_settings, start_producer, read_topic, decode_original
) -> None:
    producer = start_producer(make_settings(fake.url, kafka_bootstrap, topics, SYMBOLS))
    connection = fake.wait_until_subscribed(SYMBOLS)
    for _ in range(3):
        time.sleep(0.3)
        assert fake.drop_connections() == 1
        connection = fake.wait_until_subscribed(SYMBOLS, after_connection=connection)
    sent = _stream(fake, producer, 0.3)
    assert producer.stop() == 0

    assert fake.connections_total == 4
    assert producer.value("finnhub_reconnects_total") >= 3
    subscribes = Counter(
        json.loads(m)["symbol"] for _, m in fake.received_messages() if "subscribe" in str(m)
    )
    assert subscribes == dict.fromkeys(SYMBOLS, 4)
    _assert_exactly_once(
        sent, _arrived(read_topic(kafka_bootstrap, topics.trades), decode_original)
    )


def test_garbage_goes_to_the_dead_letters_and_the_stream_goes_on(
    fake, kafka_bootstrap, topics, make_settings, start_producer, read_topic, decode_original
) -> None:
    producer = start_producer(make_settings(fake.url, kafka_bootstrap, topics, SYMBOLS))
    fake.wait_until_subscribed(SYMBOLS)
    time.sleep(0.3)
    fake.send_garbage()
    fake.send_raw('{"type":"news","data":[{"headline":"x"}]}')
    sent = _stream(fake, producer, 0.5)
    producer.wait_for(
        lambda: (
            producer.value("finnhub_dead_letters_total", reason="malformed") == len(GARBAGE_SAMPLES)
        ),
        "dead letters counted",
    )
    assert producer.stop() == 0

    assert producer.value("finnhub_frames_received_total", type="unknown") == 1
    _assert_exactly_once(
        sent, _arrived(read_topic(kafka_bootstrap, topics.trades), decode_original)
    )
    dead = read_topic(kafka_bootstrap, topics.dead_letters)
    assert [m.value() for m in dead] == [
        g.encode() if isinstance(g, str) else g for g in GARBAGE_SAMPLES
    ]
    for message in dead:
        headers = dict(message.headers())
        assert headers["source"] == fake.url.encode()
        assert headers["error"].startswith(b"malformed: ")
        assert headers["time"]


def test_unknown_symbol_error_frame_does_not_stop_the_others(
    fake, kafka_bootstrap, topics, make_settings, start_producer, read_topic, decode_original
) -> None:
    symbols = (*SYMBOLS[:2], "NOPE:NOTHING")
    producer = start_producer(make_settings(fake.url, kafka_bootstrap, topics, symbols))
    fake.wait_until_subscribed(SYMBOLS[:2])
    sent = _stream(fake, producer, 0.5)
    assert producer.stop() == 0

    assert producer.value("finnhub_frames_received_total", type="error") == 1
    _assert_exactly_once(
        sent, _arrived(read_topic(kafka_bootstrap, topics.trades), decode_original)
    )


def test_stalled_feed_is_abandoned_for_a_new_connection(
    fake, kafka_bootstrap, topics, make_settings, start_producer, read_topic, decode_original
) -> None:
    settings = make_settings(fake.url, kafka_bootstrap, topics, SYMBOLS, stall_timeout_s=0.5)
    producer = start_producer(settings)
    connection = fake.wait_until_subscribed(SYMBOLS)
    # The fake never closes a stalled connection itself: a new one means the producer gave up
    # on the silent one.
    fake.stall(3.0)
    fake.wait_until_subscribed(SYMBOLS, timeout_s=30, after_connection=connection)
    fake.stall(0)
    sent = _stream(fake, producer, 0.3)
    assert producer.stop() == 0
    _assert_exactly_once(
        sent, _arrived(read_topic(kafka_bootstrap, topics.trades), decode_original)
    )


def test_full_local_queue_waits_instead_of_dropping(
    kafka_bootstrap, topics, make_settings, start_producer, read_topic, decode_original
) -> None:
    with FakeFinnhub(rate=1000, burst=6, ping_interval_s=0.3, seed=13) as fast_feed:
        settings = make_settings(
            fast_feed.url,
            kafka_bootstrap,
            topics,
            SYMBOLS,
            kafka_queue_max_messages=3,
            kafka_linger_ms=20,
        )
        producer = start_producer(settings)
        fast_feed.wait_until_subscribed(SYMBOLS)
        sent = _stream(fast_feed, producer, 1.0)
        assert producer.stop() == 0

    assert producer.value("finnhub_kafka_backpressure_waits_total") > 0
    arrived = _arrived(read_topic(kafka_bootstrap, topics.trades), decode_original)
    _assert_exactly_once(sent, arrived)
