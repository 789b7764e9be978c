"""Python's side: structlog events, and the standard library's records rendered the same way."""

from __future__ import annotations

import logging
import sys

import structlog

# What every line carries, whichever logger wrote it (Spark's JVM lines too: log4j2.properties).
EVENT_KEYS = ("timestamp", "level", "event")


class _CurrentStderr:
    """Whatever `sys.stderr` is when a line is written, not when logging was configured.

    A handler holding the stream it was given keeps writing to it after it was replaced and
    closed (a test's captured stderr, a daemonising wrapper); every later line then fails with
    "I/O operation on closed file", in whichever thread logs it.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


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
        logger_factory=structlog.PrintLoggerFactory(_CurrentStderr()),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(_CurrentStderr())
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
