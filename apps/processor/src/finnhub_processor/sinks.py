"""Edges that write: Cassandra upserts, dead letters to Kafka.

Both queries write with cassandra-driver from the Python workers. Each worker keeps one session
(workers are reused across tasks and epochs), prepares each INSERT once and sends rows with
`execute_concurrent` (at most CASSANDRA_CONCURRENCY in flight), retrying only the failed ones.

- The trades query (real-time trigger) hands its rows to `TradesWriter`, a row-wise foreach
  writer: trades are upserted in chunks, dead letters produced to the dead-letter topic.
- The windows query (micro-batch) writes each batch's changed windows with `write_to_cassandra`.

Every INSERT is an upsert of the whole row by its primary key, so an epoch or micro-batch
replayed after a crash rewrites the same rows: with the checkpoint this gives exactly-once
effect in the tables (real-time mode delivers at least once, which upserts absorb). Writes
that keep failing are retried with backoff for CASSANDRA_RETRY_SECONDS before the query fails,
which rides out a Cassandra restart.

The Spark Cassandra connector was an opt-in writer until its newest release (3.5.1, built for
Spark 3.5) failed on Spark 4.2 with `NoClassDefFoundError: .../NoSuchNamespaceException$`; no
deployment could select it, and a foreach writer in real-time mode must be Python anyway.
"""

from __future__ import annotations

import datetime
import itertools
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from cassandra import AuthenticationFailed, RequestValidationException
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable, Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    TokenAwarePolicy,
)
from cassandra.query import PreparedStatement
from confluent_kafka import KafkaException, Producer
from finnhub_contracts.cassandra import (
    RUNNING_AVERAGE_COLUMNS,
    RUNNING_AVERAGES_TABLE,
    TRADE_COLUMNS,
    TRADE_WINDOW_COLUMNS,
    TRADE_WINDOWS_TABLE,
    TRADES_TABLE,
)
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from finnhub_processor.settings import ProcessorSettings
from finnhub_processor.transforms import avro_decode_error, parsed_trades_schema

log = logging.getLogger(__name__)

# Rows sent per execute_concurrent call: bounds the memory of one retry round.
WRITE_CHUNK_ROWS = 2_000


@dataclass(frozen=True)
class CassandraTable:
    """One table the processor upserts into, and which of its columns need converting."""

    name: str
    columns: tuple[str, ...]
    timestamp_columns: tuple[str, ...]
    uuid_columns: tuple[str, ...] = ()

    def insert_cql(self, keyspace: str) -> str:
        names = ", ".join(self.columns)
        markers = ", ".join("?" for _ in self.columns)
        return f"INSERT INTO {keyspace}.{self.name} ({names}) VALUES ({markers})"


TRADES = CassandraTable(
    TRADES_TABLE, TRADE_COLUMNS, ("trade_timestamp", "ingest_timestamp"), ("uuid",)
)
RUNNING_AVERAGES = CassandraTable(
    RUNNING_AVERAGES_TABLE,
    RUNNING_AVERAGE_COLUMNS,
    ("window_start", "window_end", "ingest_timestamp"),
    ("uuid",),
)
TRADE_WINDOWS = CassandraTable(
    TRADE_WINDOWS_TABLE,
    TRADE_WINDOW_COLUMNS,
    ("window_start", "window_end", "ingest_timestamp"),
)


class PartialWriteError(Exception):
    """Some rows of a chunk were not written; the chunk is retried with only those rows."""

    def __init__(self, table: str, failed: int, total: int, first_error: BaseException) -> None:
        super().__init__(
            f"{failed} of {total} writes to {table} failed, first: "
            f"{type(first_error).__name__}: {first_error}"
        )
        self.first_error = first_error


def is_transient(error: BaseException) -> bool:
    """Whether retrying can help: a bad statement or bad credentials will not heal by waiting."""
    if isinstance(error, PartialWriteError):
        error = error.first_error
    return not isinstance(error, RequestValidationException | AuthenticationFailed)


def connect(settings: ProcessorSettings) -> Session:
    """A session to the configured cluster; the password goes to the driver, never to a log."""
    auth = None
    if settings.cassandra_username:
        secret = settings.cassandra_password
        password = secret.get_secret_value() if secret else ""
        auth = PlainTextAuthProvider(username=settings.cassandra_username, password=password)
    cluster = Cluster(
        contact_points=settings.cassandra_contact_points,
        port=settings.cassandra_port,
        auth_provider=auth,
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
        # The default waits up to 10 minutes between reconnects; after an outage we want the
        # held-back batch written within seconds of Cassandra answering again.
        reconnection_policy=ExponentialReconnectionPolicy(base_delay=0.5, max_delay=5.0),
        connect_timeout=10,
    )
    return cluster.connect()


# One session per Python worker process, reused by every task that worker runs: connecting
# costs far more than a micro-batch's writes. Keyed by target so tests may point elsewhere.
_SESSIONS: dict[tuple[str, int, str | None], Session] = {}
_PREPARED: dict[tuple[int, str, str], PreparedStatement] = {}


def _retrying(settings: ProcessorSettings) -> Retrying:
    return Retrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_delay(settings.cassandra_retry_seconds),
        wait=wait_exponential(multiplier=0.2, min=0.2, max=5.0),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )


def write_rows(
    execute: Callable[[Sequence[tuple]], list[tuple[bool, object]]],
    rows: Sequence[tuple],
    settings: ProcessorSettings,
    table_name: str,
) -> None:
    """Writes `rows` with `execute`, retrying only the failed ones with backoff until written.

    `execute` returns one (success, result or error) pair per row, as `execute_concurrent`
    does; rows that keep failing past `cassandra_retry_seconds` raise, failing the batch, so
    Spark stops rather than drops them and the checkpoint replays the batch on restart.
    """
    pending = list(rows)
    for attempt in _retrying(settings):
        with attempt:
            results = execute(pending)
            failures = [
                (row, result) for row, (ok, result) in zip(pending, results, strict=True) if not ok
            ]
            if failures:
                pending = [row for row, _ in failures]
                raise PartialWriteError(table_name, len(failures), len(results), failures[0][1])


def cassandra_frame(frame: DataFrame, table: CassandraTable) -> DataFrame:
    """The table's columns with timestamps as epoch milliseconds.

    PySpark turns timestamps into naive datetimes in the worker's local time zone, which the
    driver would then take for UTC; epoch milliseconds need no time zone at all.
    """
    return frame.select(
        *[
            F.unix_millis(F.col(c)).alias(c) if c in table.timestamp_columns else F.col(c)
            for c in table.columns
        ]
    )


def _row_params(table: CassandraTable) -> Callable[[Row], tuple]:
    uuid_positions = {table.columns.index(c) for c in table.uuid_columns}

    def params(row: Row) -> tuple:
        return tuple(
            uuid.UUID(value) if i in uuid_positions and value is not None else value
            for i, value in enumerate(row)
        )

    return params


def _chunks(rows: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


def _no_host_answered(results: Sequence[tuple[bool, object]]) -> bool:
    return bool(results) and all(
        not ok and isinstance(result, NoHostAvailable) for ok, result in results
    )


class PartitionWriter:
    """The session and prepared statement a partition writes with, rebuilt when no host of the
    session answers any more.

    The driver resolves its contact points once, at connect. A Cassandra pod that restarts comes
    back at a new address, which that session never tries (seen on the real cluster: every
    write failed with NoHostAvailable until the batch's retry deadline). So when every write of a
    chunk found no host, this process's session is dropped and the next attempt connects anew,
    resolving the contact points again; the failed rows are retried by `write_rows` as before.
    """

    def __init__(
        self,
        settings: ProcessorSettings,
        table: CassandraTable,
        connect_to: Callable[[ProcessorSettings], Session] = connect,
    ) -> None:
        self.settings = settings
        self.table = table
        self.connect_to = connect_to
        self.key = (settings.cassandra_hosts, settings.cassandra_port, settings.cassandra_username)

    def _session(self) -> tuple[Session, PreparedStatement]:
        session = _SESSIONS.get(self.key)
        if session is None or session.is_shutdown:
            session = self.connect_to(self.settings)
            _SESSIONS[self.key] = session
        key = (id(session), self.settings.cassandra_keyspace, self.table.name)
        statement = _PREPARED.get(key)
        if statement is None:
            statement = session.prepare(self.table.insert_cql(self.settings.cassandra_keyspace))
            _PREPARED[key] = statement
        return session, statement

    def _drop(self, session: Session) -> None:
        log.warning(
            "no Cassandra host answered; reconnecting to %s (a restarted node has a new address)",
            self.settings.cassandra_hosts,
        )
        _SESSIONS.pop(self.key, None)
        for key in [k for k in _PREPARED if k[0] == id(session)]:
            del _PREPARED[key]
        session.cluster.shutdown()

    def execute(self, chunk: Sequence[tuple]) -> list[tuple[bool, object]]:
        # Connecting or preparing may fail while Cassandra is away: that raises, and
        # `write_rows` retries it like a failed write.
        session, statement = self._session()
        results = execute_concurrent_with_args(
            session,
            statement,
            chunk,
            concurrency=self.settings.cassandra_concurrency,
            raise_on_first_error=False,
        )
        if _no_host_answered(results):
            self._drop(session)
        return results


def write_partition(
    rows: Iterable[Row], settings: ProcessorSettings, table: CassandraTable
) -> None:
    """Upserts one Spark partition's rows (from `cassandra_frame`) into `table`."""
    writer = PartitionWriter(settings, table)
    params = map(_row_params(table), rows)
    for chunk in _chunks(params, WRITE_CHUNK_ROWS):
        write_rows(writer.execute, chunk, settings, table.name)


def stopping_query(error: BaseException) -> bool:
    """Whether a failed write was interrupted because its query is stopping: not to retry."""
    text = str(error)
    return "InterruptedException" in text or "SPARK_JOB_CANCELLED" in text


def write_to_cassandra(
    frame: DataFrame, table: CassandraTable, settings: ProcessorSettings
) -> None:
    """Upserts every row of `frame` (having the table's columns) into `table`."""
    cassandra_frame(frame, table).foreachPartition(
        lambda rows: write_partition(rows, settings, table)
    )


def dead_letter_headers(letter: Row, error: str, now: datetime.datetime) -> list[tuple[str, bytes]]:
    """The headers of one dead letter (a `trade_writes` letter): why it is one, and whence."""
    millis = now.astimezone(datetime.UTC)
    stamp = millis.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis.microsecond // 1000:03d}Z"
    return [
        ("source-topic", letter.topic.encode()),
        ("source-partition", str(letter.partition).encode()),
        ("source-offset", str(letter.offset).encode()),
        ("error", error.encode()),
        ("time", stamp.encode()),
    ]


# One producer per Python worker, like the Cassandra session: dead letters are rare, so it is
# made at the first one.
_PRODUCERS: dict[str, Producer] = {}


def dead_letter_producer(settings: ProcessorSettings) -> Producer:
    producer = _PRODUCERS.get(settings.kafka_bootstrap_servers)
    if producer is None:
        producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers, "acks": "all"})
        _PRODUCERS[settings.kafka_bootstrap_servers] = producer
    return producer


def send_dead_letters(
    letters: Sequence[tuple[bytes | None, bytes, list[tuple[str, bytes]]]],
    settings: ProcessorSettings,
) -> None:
    """Produces (key, value, headers) to the dead-letter topic and waits for every delivery;
    a failed one raises, failing the epoch, which is replayed (dead letters are at least once,
    told apart by their source offset)."""
    producer = dead_letter_producer(settings)
    failures: list[str] = []

    def delivered(error: object, _message: object) -> None:
        if error is not None:
            failures.append(str(error))

    for key, value, headers in letters:
        producer.produce(
            settings.kafka_dlq_topic, key=key, value=value, headers=headers, on_delivery=delivered
        )
        producer.poll(0)
    remaining = producer.flush(settings.cassandra_retry_seconds)
    if failures or remaining:
        raise KafkaException(
            f"{len(failures) or remaining} of {len(letters)} dead letters to "
            f"{settings.kafka_dlq_topic} not delivered: {failures[:1] or 'flush timed out'}"
        )


# Chunks a worker's foreach writer may have in flight while it reads the next rows: writing
# one chunk overlaps turning the next one's pickled rows into statement parameters.
CHUNKS_IN_FLIGHT = 2
_CHUNK_WRITERS: list[ThreadPoolExecutor] = []


def _chunk_writer() -> ThreadPoolExecutor:
    if not _CHUNK_WRITERS:
        _CHUNK_WRITERS.append(ThreadPoolExecutor(CHUNKS_IN_FLIGHT, "trades-writer"))
    return _CHUNK_WRITERS[0]


class TradesWriter:
    """The trades query's foreach writer (Spark's ForeachWriter protocol: open/process/close).

    Rows of `trade_writes` come in; trades are upserted in chunks of WRITE_CHUNK_ROWS through
    the worker's cached session (`PartitionWriter`), with `write_rows`'s retries, at most
    CHUNKS_IN_FLIGHT at once while the next rows are read; dead letters
    are produced at `close`. A Python foreach writer gets its rows from Spark in pickled
    batches, in practice at the end of each real-time epoch, so the epoch interval bounds how
    soon a trade is readable. An error left over after the retries fails the epoch: Spark
    then stops the query rather than commit rows it has not written.
    """

    def __init__(
        self,
        settings: ProcessorSettings,
        connect_to: Callable[[ProcessorSettings], Session] = connect,
    ) -> None:
        self.settings = settings
        self.connect_to = connect_to

    def open(self, partition_id: int, epoch_id: int) -> bool:
        self._writer = PartitionWriter(self.settings, TRADES, self.connect_to)
        self._params = _row_params(TRADES)
        self._trades: list[tuple] = []
        self._letters: list[Row] = []
        self._in_flight: list[Future] = []
        return True

    def process(self, row: Row) -> None:
        if row.letter is not None:
            self._letters.append(row.letter)
            return
        self._trades.append(self._params(row[: len(TRADES.columns)]))
        if len(self._trades) >= WRITE_CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._trades:
            return
        while len(self._in_flight) >= CHUNKS_IN_FLIGHT:
            self._in_flight.pop(0).result()  # raises what the chunk's retries could not heal
        chunk, self._trades = self._trades, []
        self._in_flight.append(
            _chunk_writer().submit(
                write_rows, self._writer.execute, chunk, self.settings, TRADES.name
            )
        )

    def _wait(self) -> None:
        in_flight, self._in_flight = self._in_flight, []
        for future in in_flight:
            future.result()

    def close(self, error: BaseException | None) -> None:
        if error is not None:
            for future in self._in_flight:
                future.cancel()
            return
        if self._letters:
            parsed = parsed_trades_schema()
            now = datetime.datetime.now(datetime.UTC)
            send_dead_letters(
                [
                    (
                        letter.key,
                        letter.value or b"",
                        dead_letter_headers(
                            letter, letter.error or avro_decode_error(letter.value, parsed), now
                        ),
                    )
                    for letter in self._letters
                ],
                self.settings,
            )
            self._letters = []
        self._flush()
        self._wait()
