"""What the pipeline expects to exist: the Cassandra keyspace and tables, and the Kafka topics."""

from __future__ import annotations

from collections.abc import Mapping

from cassandra.cluster import Session
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic


def split_cql_statements(text: str) -> list[str]:
    """CQL script -> statements without their `;`, comments dropped, blanks skipped.

    Knows `--` and `//` line comments, `/* */` block comments, 'strings' (with '' inside),
    "quoted identifiers" and $$dollar strings$$, so a `;` or `--` inside any of those is text.
    """
    statements: list[str] = []
    current: list[str] = []
    i, n = 0, len(text)
    while i < n:
        two = text[i : i + 2]
        char = text[i]
        if two in ("--", "//"):
            end = text.find("\n", i)
            i = n if end == -1 else end
        elif two == "/*":
            end = text.find("*/", i + 2)
            i = n if end == -1 else end + 2
            current.append(" ")
        elif two == "$$":
            end = text.find("$$", i + 2)
            stop = n if end == -1 else end + 2
            current.append(text[i:stop])
            i = stop
        elif char in ("'", '"'):
            stop = _end_of_quoted(text, i)
            current.append(text[i:stop])
            i = stop
        elif char == ";":
            _flush(current, statements)
            i += 1
        else:
            current.append(char)
            i += 1
    _flush(current, statements)
    return statements


def _end_of_quoted(text: str, start: int) -> int:
    """Index just past the quote closing the one at `start`; a doubled quote is an escape."""
    quote = text[start]
    i = start + 1
    while i < len(text):
        if text[i] == quote:
            if text[i + 1 : i + 2] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return len(text)


def _flush(current: list[str], statements: list[str]) -> None:
    statement = "".join(current).strip()
    if statement:
        statements.append(statement)
    current.clear()


def apply_cql(session: Session, cql: str, timeout_s: float = 60.0) -> int:
    """Runs every statement of the script `cql` in order; returns how many ran.

    Safe to repeat because the file's statements are all `IF NOT EXISTS`; schema changes are
    slow on a fresh node, hence the generous per-statement timeout.
    """
    statements = split_cql_statements(cql)
    for statement in statements:
        session.execute(statement, timeout=timeout_s)
    return len(statements)


def create_topics(
    bootstrap: str, partitions_by_topic: Mapping[str, int], timeout_s: float = 30.0
) -> list[str]:
    """Creates the topics that do not exist yet (replication 1); returns the ones it created."""
    # Errors only: librdkafka's info lines (queue purges on close) are noise in `up`'s output.
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = [
        NewTopic(name, num_partitions=partitions, replication_factor=1)
        for name, partitions in partitions_by_topic.items()
        if name not in existing
    ]
    if not wanted:
        return []
    created: list[str] = []
    for name, future in admin.create_topics(wanted, request_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as error:
            # Another `up` may have created it between our listing and our request.
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created
