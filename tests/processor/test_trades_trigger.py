"""TRADES_TRIGGER picks how the trades query runs; micro-batches unless real-time is asked for."""

from __future__ import annotations

import pytest
from finnhub_processor.job import trades_trigger
from finnhub_processor.settings import ProcessorSettings
from pydantic import ValidationError


def test_the_trades_query_runs_micro_batches_every_trades_interval_by_default() -> None:
    settings = ProcessorSettings(trades_interval="300 milliseconds")
    assert trades_trigger(settings) == {"processingTime": "300 milliseconds"}


def test_real_time_mode_takes_trades_interval_as_its_epoch() -> None:
    settings = ProcessorSettings(trades_trigger="real-time", trades_interval="1 second")
    assert trades_trigger(settings) == {"realTime": "1 second"}


def test_an_unknown_trades_trigger_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValidationError, match="trades_trigger"):
        ProcessorSettings(trades_trigger="continuous")
