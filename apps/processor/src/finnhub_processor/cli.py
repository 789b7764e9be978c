"""`finnhub-processor`: runs the streaming job until SIGINT/SIGTERM stops it cleanly."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from types import FrameType

from finnhub_contracts.environment import unknown_variables_message
from finnhub_logs import configure_logging, use_json_jvm_logs
from pydantic import ValidationError

from finnhub_processor.job import run
from finnhub_processor.settings import ProcessorSettings, unknown_environment


def warn_about_unknown_environment(environ: Mapping[str, str]) -> None:
    """One warning line naming the processor-prefixed variables it does not read."""
    if message := unknown_variables_message("finnhub-processor", unknown_environment(environ)):
        logging.getLogger(__name__).warning(message)


def main() -> int:
    """Reads the settings from the environment and runs the processor; returns the exit code."""
    # The producer's events (libs/logs): JSON lines off a terminal, from this process's loggers
    # and from the Spark JVM it launches alike.
    configure_logging()
    use_json_jvm_logs()
    # py4j reports every closed connection at INFO with a traceback, e.g. when Spark stops.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    try:
        settings = ProcessorSettings()
    except ValidationError as error:
        print(f"finnhub-processor: invalid configuration:\n{error}", file=sys.stderr)
        return 2
    warn_about_unknown_environment(os.environ)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("signal %s: stopping the queries", signum)
        stop.set()

    def install_signal_handlers() -> None:
        # Kubernetes stops pods with SIGTERM: finish cleanly instead of dying mid-batch.
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

    install_signal_handlers()
    try:
        # Again once Spark is up: creating the SparkContext installs pyspark's SIGINT handler.
        run(settings, stop, install_signal_handlers)
    except Exception as error:
        if stop.is_set():
            # The JVM got the same signal and may have shut Spark down under us: that is the
            # requested stop, not a failure.
            logging.getLogger(__name__).info("processor stopped")
            return 0
        logging.getLogger(__name__).error("processor failed: %s", error)
        return 1
    logging.getLogger(__name__).info("processor stopped")
    return 0
