"""The live view and the report name, in one warning line, CASSANDRA_* variables they ignore."""

from __future__ import annotations

import pytest
from finnhub_dashboards.settings import unknown_environment, warn_about_unknown_environment


def test_a_misspelt_cassandra_variable_is_unknown_and_finnhub_ones_are_not_judged() -> None:
    environ = {"CASSANDRA_HOST": "h", "CASSANDRA_PORT": "9042", "FINNHUB_TOKEN": "t"}
    assert unknown_environment(environ) == ["CASSANDRA_HOST"]


def test_the_warning_is_one_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    warn_about_unknown_environment("finnhub-live", {"CASSANDRA_KEYSPCE": "m"})
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("warning: finnhub-live") and "CASSANDRA_KEYSPCE" in line
