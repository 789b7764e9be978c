"""What the log says about Kafka trouble: what changed, and a summary while it lasts.

librdkafka reports every failed connection attempt (once to the error callback, once as its own
log line) and gives one delivery report per failed message; with the broker down that was
hundreds of lines a minute, all saying the same. The metrics count every one of them; these
classes decide which few lines the log gets. Pure: the caller passes the clock and logs the
returned lines, so the rules are testable without a broker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LogLine:
    event: str
    level: str
    fields: dict[str, Any]


def any_broker_up(stats: Mapping[str, Any]) -> bool:
    """From librdkafka's statistics JSON: is at least one broker connection up?"""
    brokers = stats.get("brokers") or {}
    return any(broker.get("state") == "UP" for broker in brokers.values())


class KafkaOutage:
    """Connection trouble as states: `kafka_unreachable` once when no broker answers,
    `kafka_still_unreachable` every `summary_interval_s` while that lasts, `kafka_reachable`
    when a broker is back. Errors while some broker is up (one of several down) are logged as
    `kafka_error`, at most once per interval with the count of the ones not shown."""

    def __init__(self, bootstrap: str, summary_interval_s: float) -> None:
        self._bootstrap = bootstrap
        self._interval_s = summary_interval_s
        self._brokers_up = False
        self.down_since: float | None = None
        self._outage_errors = 0
        self._unlogged = 0
        self._last_error = ""
        self._last_line_at = 0.0
        self._error_line_at: float | None = None

    @property
    def brokers_up(self) -> bool:
        return self._brokers_up

    def error(self, message: str, now: float, all_down: bool = False) -> LogLine | None:
        """One error from librdkafka; `all_down` when it says no broker is up."""
        self._last_error = message
        if all_down:
            self._brokers_up = False
        if self.down_since is not None:
            self._outage_errors += 1
            self._unlogged += 1
            return self.tick(now)
        if not self._brokers_up:
            self.down_since = now
            self._outage_errors = 1
            self._unlogged = 0
            self._last_line_at = now
            return LogLine(
                "kafka_unreachable",
                "warning",
                {"kafka": self._bootstrap, "error": message},
            )
        # Some broker is up: a partial problem, worth a line now and then, not every time.
        if self._error_line_at is not None and now - self._error_line_at < self._interval_s:
            self._unlogged += 1
            return None
        line = LogLine(
            "kafka_error",
            "warning",
            {"kafka": self._bootstrap, "error": message, "not_shown_before": self._unlogged},
        )
        self._unlogged = 0
        self._error_line_at = now
        return line

    def brokers(self, up: bool, now: float) -> LogLine | None:
        """The latest broker states (librdkafka statistics): is any broker up?"""
        self._brokers_up = up
        if up and self.down_since is not None:
            line = LogLine(
                "kafka_reachable",
                "info",
                {
                    "kafka": self._bootstrap,
                    "outage_s": round(now - self.down_since, 3),
                    "errors": self._outage_errors,
                    "errors_since_last_line": self._unlogged,
                },
            )
            self.down_since = None
            self._unlogged = 0
            return line
        return self.tick(now)

    def tick(self, now: float) -> LogLine | None:
        """The periodic summary, when one is due."""
        if self.down_since is None or now - self._last_line_at < self._interval_s:
            return None
        return self._summary(now)

    def drain(self, now: float) -> LogLine | None:
        """At the end: the errors no line has counted yet, so the log adds up to the metric."""
        if self._unlogged == 0:
            return None
        if self.down_since is None:
            line = LogLine(
                "kafka_error",
                "warning",
                {"kafka": self._bootstrap, "error": self._last_error, "not_shown": self._unlogged},
            )
            self._unlogged = 0
            return line
        return self._summary(now)

    def _summary(self, now: float) -> LogLine:
        line = LogLine(
            "kafka_still_unreachable",
            "warning",
            {
                "kafka": self._bootstrap,
                "down_s": round(now - (self.down_since or now), 3),
                "errors_since_last_line": self._unlogged,
                "errors": self._outage_errors,
                "last_error": self._last_error,
            },
        )
        self._unlogged = 0
        self._last_line_at = now
        return line


@dataclass
class _Failures:
    messages: int = 0
    trades: int = 0


@dataclass
class DeliveryFailures:
    """Failed deliveries: the first of each (topic, error) at once, then one line per interval
    with the counts since, and the rest at the end."""

    summary_interval_s: float
    _pending: dict[tuple[str, str], _Failures] = field(default_factory=dict)
    _seen: set[tuple[str, str]] = field(default_factory=set)
    _last_line_at: float = 0.0

    def failed(self, topic: str, error: str, trades: int, now: float) -> list[LogLine]:
        key = (topic, error)
        if key not in self._seen:
            self._seen.add(key)
            self._last_line_at = now
            return [
                LogLine(
                    "kafka_delivery_failed",
                    "error",
                    {"topic": topic, "error": error, "messages": 1, "trades": trades},
                )
            ]
        pending = self._pending.setdefault(key, _Failures())
        pending.messages += 1
        pending.trades += trades
        return self.tick(now)

    def tick(self, now: float) -> list[LogLine]:
        if not self._pending or now - self._last_line_at < self.summary_interval_s:
            return []
        return self.drain(now)

    def drain(self, now: float) -> list[LogLine]:
        lines = [
            LogLine(
                "kafka_delivery_failed",
                "error",
                {"topic": topic, "error": error, "messages": f.messages, "trades": f.trades},
            )
            for (topic, error), f in self._pending.items()
        ]
        self._pending.clear()
        self._last_line_at = now
        return lines
