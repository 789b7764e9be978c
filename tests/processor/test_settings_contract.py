"""The processor's settings follow the contracts: the keyspace is spliced into CQL, so only a
plain identifier is accepted, and the window length is no setting (the table is named for it)."""

from __future__ import annotations

import pytest
from finnhub_contracts.cassandra import KEYSPACE
from finnhub_contracts.kafka import DLQ_TOPIC, TOPIC
from finnhub_processor.settings import ProcessorSettings
from pydantic import ValidationError


def test_defaults_are_the_contracts_topics_and_keyspace(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_TOPIC", "KAFKA_DLQ_TOPIC", "CASSANDRA_KEYSPACE"):
        monkeypatch.delenv(name, raising=False)
    settings = ProcessorSettings()
    assert (settings.kafka_topic, settings.kafka_dlq_topic) == (TOPIC, DLQ_TOPIC)
    assert settings.cassandra_keyspace == KEYSPACE


def test_a_keyspace_that_is_no_plain_identifier_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASSANDRA_KEYSPACE", "market; DROP TABLE x")
    with pytest.raises(ValidationError, match="cassandra_keyspace"):
        ProcessorSettings()


def test_the_window_length_is_not_a_setting() -> None:
    assert "window_duration" not in ProcessorSettings.model_fields
