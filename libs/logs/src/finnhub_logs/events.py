"""Python's side: structlog events, and the standard library's records rendered the same way."""

from __future__ import annotations

import logging
import sys

import structlog

# What every line carries, whichever logger wrote it (Spark's JVM lines too: log4j2.properties).
EVENT_KEYS = ("timestamp", "level", "event")


def configure_logging(level: str = "INFO", json_lines: bool | None = None) -> None:
    """One event a line on stderr: JSON when stderr is not a TTY (containers, log shippers),
    readable lines otherwise.

    Records of the standard library's loggers (an app's own modules, py4j, tenacity, websockets)
    go through the same renderer, so a pod's log has one format however a line was written.
    """
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    threshold = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    renderer = (
        structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer()
    )
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            stamp,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                stamp,
                structlog.processors.format_exc_info,
            ],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(threshold)
