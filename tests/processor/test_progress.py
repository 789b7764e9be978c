"""Batch summaries that replace Spark's warning per late batch."""

from __future__ import annotations

import pytest
from finnhub_processor.progress import batch_summary, epoch_summary, interval_ms, new_progress
from finnhub_processor.settings import ProcessorSettings
from pydantic import ValidationError


def progress(batch_id: int, duration_ms: int, rows: int = 10) -> dict:
    return {
        "batchId": batch_id,
        "numInputRows": rows,
        "durationMs": {"triggerExecution": duration_ms},
    }


def test_summary_counts_batches_rows_and_those_slower_than_the_trigger() -> None:
    line = batch_summary(
        "trades", [progress(1, 400), progress(2, 1_500), progress(3, 2_500)], 1_000, 60
    )
    assert line == (
        "trades: 3 batches, 30 rows in the last 60 s; batch time median 1500 ms, max 2500 ms; "
        "2 outlasted the 1000 ms trigger (those ran back to back)"
    )


def test_summary_of_a_quiet_period_says_no_batch_ran() -> None:
    assert (
        batch_summary("trade_windows", [], 1_000, 60) == "trade_windows: no batch in the last 60 s"
    )


def test_real_time_epochs_are_summarised_with_their_interval_not_as_late_batches() -> None:
    line = epoch_summary("trades", [progress(7, 300), progress(8, 500, rows=5)], 250, 60)
    assert line == (
        "trades: 2 real-time epochs of 250 ms, 15 rows in the last 60 s; "
        "epoch time median 400 ms, max 500 ms"
    )
    assert epoch_summary("trades", [], 250, 60) == "trades: no real-time epoch in the last 60 s"


def test_only_batches_after_the_last_summary_are_counted() -> None:
    assert [p["batchId"] for p in new_progress([progress(4, 1), progress(5, 1)], 4)] == [5]


@pytest.mark.parametrize(
    ("text", "ms"),
    [("1 second", 1_000), ("500 milliseconds", 500), ("0 seconds", 0), ("2 minutes", 120_000)],
)
def test_trigger_intervals_read_as_spark_reads_them(text: str, ms: int) -> None:
    assert interval_ms(text) == ms


def test_a_trigger_interval_that_is_no_interval_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValidationError, match="trigger_interval"):
        ProcessorSettings(trigger_interval="soon")
