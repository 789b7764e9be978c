"""The producer names, in one warning line at start, variables with its prefixes it ignores."""

from __future__ import annotations

import json

import pytest
from finnhub_logs import configure_logging
from finnhub_producer.cli import warn_about_unknown_environment
from finnhub_producer.settings import unknown_environment


def test_a_misspelt_producer_variable_is_unknown_and_others_are_not() -> None:
    environ = {
        "KAFKA_TOPIC": "market",
        "KAFKA_TOPC": "market",
        "FINNHUB_TOKN": "secret",
        "METRICS_PROT": "1",
        "LOG_LEVEL": "INFO",
        "CASSANDRA_HOSTS": "not the producer's prefix",
        "HOME": "/root",
    }
    assert unknown_environment(environ) == ["FINNHUB_TOKN", "KAFKA_TOPC", "METRICS_PROT"]


def test_the_warning_is_one_log_line_naming_the_variables_not_their_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", json_lines=True)
    warn_about_unknown_environment({"FINNHUB_TOKN": "s3cret-value", "KAFKA_TOPIC": "market"})
    (line,) = capsys.readouterr().err.splitlines()
    event = json.loads(line)
    assert event["names"] == ["FINNHUB_TOKN"] and event["level"] == "warning"
    assert "s3cret-value" not in line
