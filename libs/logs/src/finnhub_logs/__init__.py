"""One log format for the producer, the fake feed, the processor and Spark's JVM.

Every line is one event: a JSON object with `timestamp` (ISO 8601, UTC), `level` (`info`,
`warning`, ...) and `event` (what happened), plus the event's own fields. A person at a terminal
gets the same events as readable lines instead.
"""

from finnhub_logs.events import EVENT_KEYS, configure_logging
from finnhub_logs.jvm import LOG4J2_PROPERTIES, LOG4J_CONFIG_VARIABLE, use_json_jvm_logs

__all__ = [
    "EVENT_KEYS",
    "LOG4J2_PROPERTIES",
    "LOG4J_CONFIG_VARIABLE",
    "configure_logging",
    "use_json_jvm_logs",
]
