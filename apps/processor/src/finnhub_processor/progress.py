"""Periodic batch summaries instead of Spark's warning per late batch. Pure: progress in, text out.

Spark warns `Current batch is falling behind` for every micro-batch that outlasts the trigger
interval; on two shared cores that is most batches (hundreds of lines in minutes) and says
nothing a summary would not. The job silences that logger and logs one line per query and
period with how many batches ran, how long they took and how many outlasted the trigger; for
the real-time trades query, how many epochs ran and how long each took.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

# Spark's logger of the per-batch warning, silenced in favour of `batch_summary`.
FALLING_BEHIND_LOGGER = "org.apache.spark.sql.execution.streaming.runtime.ProcessingTimeExecutor"

_UNITS_MS = {
    "ms": 1,
    "millisecond": 1,
    "milliseconds": 1,
    "s": 1_000,
    "second": 1_000,
    "seconds": 1_000,
    "minute": 60_000,
    "minutes": 60_000,
}


def interval_ms(interval: str) -> int:
    """Milliseconds of a trigger interval as Spark takes it ("1 second", "500 milliseconds")."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*", interval.lower())
    if match is None or match.group(2) not in _UNITS_MS:
        raise ValueError(f"not an interval such as '1 second' or '500 milliseconds': {interval!r}")
    return round(float(match.group(1)) * _UNITS_MS[match.group(2)])


def batch_summary(
    query: str, progress: Sequence[Mapping[str, Any]], trigger_ms: int, period_s: float
) -> str:
    """One line about the batches in `progress` (Spark's progress dicts of one period)."""
    if not progress:
        return f"{query}: no batch in the last {period_s:.0f} s"
    # Indexing, not .get: pyspark's progress objects answer [] but not dict.get.
    durations = [p["durationMs"]["triggerExecution"] for p in progress]
    rows = sum(p["numInputRows"] for p in progress)
    behind = sum(1 for d in durations if d > trigger_ms)
    return (
        f"{query}: {len(progress)} batches, {rows} rows in the last {period_s:.0f} s; "
        f"batch time median {statistics.median(durations):.0f} ms, max {max(durations)} ms; "
        f"{behind} outlasted the {trigger_ms} ms trigger"
        + (" (those ran back to back)" if behind else "")
    )


def epoch_summary(
    query: str, progress: Sequence[Mapping[str, Any]], epoch_ms: int, period_s: float
) -> str:
    """One line about a real-time query's epochs in `progress`.

    An epoch lasts its interval by design (its tasks read for that long), so what it says is
    how much longer than the interval checkpointing and starting the next epoch took.
    """
    if not progress:
        return f"{query}: no real-time epoch in the last {period_s:.0f} s"
    durations = [p["durationMs"]["triggerExecution"] for p in progress]
    rows = sum(p["numInputRows"] for p in progress)
    return (
        f"{query}: {len(progress)} real-time epochs of {epoch_ms} ms, {rows} rows in the last "
        f"{period_s:.0f} s; epoch time median {statistics.median(durations):.0f} ms, "
        f"max {max(durations)} ms"
    )


def new_progress(
    progress: Sequence[Mapping[str, Any]], after_batch: int
) -> list[Mapping[str, Any]]:
    """The entries of `progress` for batches after `after_batch`."""
    return [p for p in progress if p["batchId"] > after_batch]
