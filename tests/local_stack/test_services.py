"""The session's Kafka and Cassandra are real services that answer."""

from __future__ import annotations

from cassandra.cluster import Session


def test_cassandra_answers_system_local_query(cassandra_session: Session) -> None:
    row = cassandra_session.execute("SELECT release_version FROM system.local").one()
    assert row.release_version.startswith("5.0")
