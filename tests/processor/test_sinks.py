"""The sinks' retry rules, statements and foreach writer, without a Cassandra or Kafka."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence

import pytest
from cassandra import InvalidRequest, OperationTimedOut
from finnhub_processor.settings import ProcessorSettings
from finnhub_processor.sinks import (
    RUNNING_AVERAGES,
    TRADES,
    PartialWriteError,
    dead_letter_headers,
    is_transient,
    stopping_query,
    write_rows,
)
from finnhub_processor.transforms import TRADE_COLUMNS
from pyspark.sql import Row

FAST = ProcessorSettings(cassandra_retry_seconds=5.0)


class FlakyExecute:
    """Fails each row its first `failures` times with `error`, then succeeds."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.seen: dict[tuple, int] = {}
        self.calls: list[list[tuple]] = []

    def __call__(self, rows: Sequence[tuple]) -> list[tuple[bool, object]]:
        self.calls.append(list(rows))
        results = []
        for row in rows:
            self.seen[row] = self.seen.get(row, 0) + 1
            ok = self.seen[row] > self.failures or row[0] % 2 == 0
            results.append((True, None) if ok else (False, self.error))
        return results


def test_only_the_failed_rows_are_sent_again_until_all_are_written() -> None:
    execute = FlakyExecute(failures=2, error=OperationTimedOut("timeout"))
    rows = [(i,) for i in range(6)]
    write_rows(execute, rows, FAST, "trades")
    assert execute.calls == [rows, [(1,), (3,), (5,)], [(1,), (3,), (5,)]]


def test_a_statement_cassandra_rejects_fails_at_once_without_retrying() -> None:
    execute = FlakyExecute(failures=99, error=InvalidRequest("no such column"))
    with pytest.raises(PartialWriteError, match="no such column"):
        write_rows(execute, [(1,)], FAST, "trades")
    assert len(execute.calls) == 1


def test_timeouts_are_transient_and_invalid_requests_are_not() -> None:
    assert is_transient(OperationTimedOut("t"))
    assert not is_transient(InvalidRequest("bad"))
    assert not is_transient(PartialWriteError("t", 1, 1, InvalidRequest("bad")))


def test_insert_names_every_column_of_the_table() -> None:
    assert TRADES.insert_cql("market") == (
        "INSERT INTO market.trades (symbol, trade_timestamp, uuid, trade_conditions, price, "
        "volume, ingest_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    assert RUNNING_AVERAGES.insert_cql("ks").startswith("INSERT INTO ks.running_averages_15_sec")


def test_password_never_shows_in_the_settings_repr() -> None:
    assert "s3cret" not in repr(ProcessorSettings(cassandra_password="s3cret"))


def test_a_write_interrupted_by_stopping_the_query_is_not_retried() -> None:
    assert stopping_query(RuntimeError("An error occurred: java.lang.InterruptedException"))
    assert not stopping_query(RuntimeError("Failed to open native connection to Cassandra"))


class _FakeSession:
    """Answers every write with `error` (or success when None); records shutdowns."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error
        self.is_shutdown = False
        self.cluster = self
        self.executed: list[tuple] = []

    def prepare(self, cql: str) -> str:
        return cql

    def shutdown(self) -> None:
        self.is_shutdown = True


def test_a_session_no_host_answers_is_replaced_by_a_new_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Seen on the real cluster: Cassandra's pod came back at a new address, the old session
    # kept trying the old one, and every write failed until the batch's deadline.
    from cassandra.cluster import NoHostAvailable
    from finnhub_processor import sinks

    stale = _FakeSession(NoHostAvailable("Unable to complete the operation", {}))
    fresh = _FakeSession(None)
    sessions = iter([stale, fresh])

    def execute_concurrent(session, statement, chunk, **_: object):  # type: ignore[no-untyped-def]
        session.executed.extend(chunk)
        return [(session.error is None, session.error) for _ in chunk]

    monkeypatch.setattr(sinks, "execute_concurrent_with_args", execute_concurrent)
    monkeypatch.setattr(sinks, "_SESSIONS", {})
    monkeypatch.setattr(sinks, "_PREPARED", {})
    settings = ProcessorSettings(cassandra_retry_seconds=5)
    writer = sinks.PartitionWriter(settings, sinks.TRADES, connect_to=lambda _: next(sessions))
    write_rows(writer.execute, [(1,), (2,)], settings, "trades")
    assert stale.is_shutdown and stale.executed == [(1,), (2,)]
    assert fresh.executed == [(1,), (2,)] and not fresh.is_shutdown


def test_a_session_that_still_answers_is_kept_through_partial_failures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from finnhub_processor import sinks

    session = _FakeSession(None)
    calls = iter([[(False, OperationTimedOut("slow")), (True, None)], [(True, None)]])
    monkeypatch.setattr(sinks, "execute_concurrent_with_args", lambda *a, **k: next(calls))
    monkeypatch.setattr(sinks, "_SESSIONS", {})
    monkeypatch.setattr(sinks, "_PREPARED", {})
    settings = ProcessorSettings(cassandra_retry_seconds=5)
    connects = []
    writer = sinks.PartitionWriter(
        settings, sinks.TRADES, connect_to=lambda _: connects.append(1) or session
    )
    write_rows(writer.execute, [(1,), (2,)], settings, "trades")
    assert connects == [1] and not session.is_shutdown


def _trade(symbol: str, index: int) -> Row:
    values = (symbol, 1_000 + index, str(uuid.UUID(int=index)), None, 1.0, 2.0, 5_000)
    return Row(**dict(zip(TRADE_COLUMNS, values, strict=True)), letter=None)


def _letter(value: bytes, error: str | None) -> Row:
    letter = Row(key=b"k", value=value, topic="market", partition=2, offset=41, error=error)
    return Row(**dict.fromkeys(TRADE_COLUMNS), letter=letter)


def test_the_foreach_writer_upserts_in_chunks_on_one_session_and_routes_dead_letters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from finnhub_processor import sinks

    session = _FakeSession(None)
    chunks: list[list[tuple]] = []

    def execute_concurrent(session, statement, chunk, **_: object):  # type: ignore[no-untyped-def]
        chunks.append(list(chunk))
        return [(True, None) for _ in chunk]

    sent: list[tuple] = []
    monkeypatch.setattr(sinks, "execute_concurrent_with_args", execute_concurrent)
    monkeypatch.setattr(sinks, "_SESSIONS", {})
    monkeypatch.setattr(sinks, "_PREPARED", {})
    monkeypatch.setattr(sinks, "WRITE_CHUNK_ROWS", 3)
    monkeypatch.setattr(sinks, "send_dead_letters", lambda letters, _: sent.extend(letters))
    connects: list[int] = []
    writer = sinks.TradesWriter(FAST, connect_to=lambda _: connects.append(1) or session)
    for epoch in (0, 1):  # one session for every epoch the worker runs
        assert writer.open(0, epoch)
        for index in range(4):
            writer.process(_trade("A", epoch * 4 + index))
        writer.process(_letter(b"\x00junk", None))
        writer.process(_letter(b"", "unknown writer schema: header ..."))
        writer.close(None)
    assert connects == [1]
    assert sorted(len(chunk) for chunk in chunks) == [1, 1, 3, 3]
    assert chunks[0][0][2] == uuid.UUID(int=0)  # the uuid column as the driver's type
    errors = [dict(headers)["error"].decode() for _, _, headers in sent]
    assert errors[0].startswith("Avro decode failed") and errors[1].startswith("unknown writer")
    assert [value for _, value, _ in sent] == [b"\x00junk", b""] * 2


def test_the_foreach_writer_writes_nothing_of_an_epoch_that_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from finnhub_processor import sinks

    monkeypatch.setattr(sinks, "send_dead_letters", lambda *_: pytest.fail("dead letters sent"))
    writer = sinks.TradesWriter(FAST, connect_to=lambda _: pytest.fail("connected"))
    writer.open(0, 0)
    writer.process(_trade("A", 1))
    writer.process(_letter(b"x", None))
    writer.close(RuntimeError("task killed"))


def test_dead_letter_headers_say_whence_why_and_when() -> None:
    letter = _letter(b"x", None).letter
    now = datetime.datetime(2026, 12, 1, 20, 1, 2, 345_678, tzinfo=datetime.UTC)
    assert dead_letter_headers(letter, "broken", now) == [
        ("source-topic", b"market"),
        ("source-partition", b"2"),
        ("source-offset", b"41"),
        ("error", b"broken"),
        ("time", b"2026-12-01T20:01:02.345Z"),
    ]


def test_a_worker_whose_task_the_jvm_ended_exits_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from finnhub_processor import spark_daemon
    from pyspark import daemon

    def closed_by_the_jvm(sock: object, authenticated: bool) -> int:
        raise EOFError

    monkeypatch.setattr(spark_daemon, "_serve", closed_by_the_jvm)
    assert daemon.worker is spark_daemon.worker
    assert daemon.worker(object(), True) == 1
    assert capsys.readouterr().err == ""
