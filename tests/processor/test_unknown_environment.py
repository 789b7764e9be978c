"""The processor names, in one warning line at start, variables with its prefixes it does not
read; Spark's own SPARK_* variables are not its to judge."""

from __future__ import annotations

import logging

import pytest
from finnhub_processor.cli import warn_about_unknown_environment
from finnhub_processor.settings import unknown_environment


def test_a_misspelt_processor_variable_is_unknown_and_sparks_own_are_not() -> None:
    environ = {
        "CASSANDRA_KEYSPACE": "market",
        "CASSANDRA_KEYSPCE": "market",
        "KAFKA_TOPIK": "market",
        "CHECKPOINT_DIRS": "/c",
        "SPARK_HOME": "/opt/spark",
        "SPARK_EXECUTOR_POD_IP": "10.0.0.1",
        "WINDOW_DURATION": "a removed setting, not a prefix",
    }
    assert unknown_environment(environ) == ["CASSANDRA_KEYSPCE", "CHECKPOINT_DIRS", "KAFKA_TOPIK"]


def test_the_warning_is_one_log_line_naming_the_variables(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        warn_about_unknown_environment({"CASSANDRA_PASWORD": "s3cret", "KAFKA_TOPIC": "m"})
    (record,) = caplog.records
    assert "CASSANDRA_PASWORD" in record.getMessage() and "s3cret" not in record.getMessage()
    assert "\n" not in record.getMessage()


def test_no_warning_when_every_variable_is_known(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        warn_about_unknown_environment({"CASSANDRA_HOSTS": "h", "KAFKA_TOPIC": "m"})
    assert caplog.records == []
