"""Log lines go to the stderr of the moment they are written, not the one logging was set up on."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
import structlog
from finnhub_logs import configure_logging


def test_lines_after_the_configured_stderr_was_closed_reach_the_current_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A test's captured stderr (or a wrapper's) is closed once it is done with; the fake feed's
    # server thread then failed every start with "I/O operation on closed file".
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging("INFO", json_lines=True)
    first.close()
    later = io.StringIO()
    monkeypatch.setattr(sys, "stderr", later)

    logging.getLogger("some.library").info("from the standard library")
    structlog.get_logger().info("from structlog", n=1)

    events = [json.loads(line) for line in later.getvalue().splitlines()]
    assert [event["event"] for event in events] == ["from the standard library", "from structlog"]
