"""One log format: the processor's lines, and its Spark JVM's, are the producer's JSON events.

Each runs `finnhub-processor`'s real entry (`cli.main`) in a fresh interpreter, with the job
replaced by a stand-in: logging is configured, and Spark's JVM launched, exactly as in the job.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from finnhub_logs import EVENT_KEYS

# structlog's level names, which the JVM's lines use too.
LEVELS = {"debug", "info", "warning", "error", "critical"}


def run_processor_entry(job_body: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """`cli.main()` with `job.run` replaced by `job_body` (the body of `run(settings, stop, _)`)."""
    script = textwrap.dedent(
        """
        import sys
        import structlog
        from finnhub_processor import cli

        def stand_in_job(settings, stop, install_signal_handlers):
        {body}

        cli.run = stand_in_job
        code = cli.main()
        # A structlog event, as the producer's modules log theirs.
        structlog.get_logger().info("feed_connected", url="wss://ws.example")
        sys.exit(code)
        """
    ).format(body=textwrap.indent(textwrap.dedent(job_body), "    "))
    env = {k: v for k, v in os.environ.items() if k != "LOG4J_CONFIGURATION_FILE"}
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def events(stderr: str) -> list[dict[str, Any]]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    # The JVM launcher's own notice about incubator modules is printed before log4j exists.
    lines = [line for line in lines if not line.startswith("WARNING: Using incubator modules")]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON event: {line!r}\nwhole stderr:\n{stderr}")
    return parsed


def assert_event(event: dict[str, Any]) -> None:
    assert set(EVENT_KEYS) <= set(event), event
    assert event["level"] in LEVELS, event
    assert event["timestamp"].endswith("Z") and "T" in event["timestamp"], event


def test_a_processor_line_is_a_json_event_with_the_producers_keys() -> None:
    result = run_processor_entry('raise RuntimeError("kafka unreachable")', timeout=60)
    assert result.returncode == 1, result.stderr
    lines = events(result.stderr)
    failed = next(e for e in lines if "processor failed" in e["event"])
    producer_style = next(e for e in lines if e["event"] == "feed_connected")
    for event in (failed, producer_style):
        assert_event(event)
    assert failed["level"] == "error"
    assert failed["logger"] == "finnhub_processor.cli"
    # The same keys, bar the context each event carries (the logger's name, the url).
    assert set(failed) - {"logger"} == set(producer_style) - {"url"}


@pytest.mark.spark
def test_the_spark_jvm_logs_the_same_json_events() -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Java (17+) is needed for Spark and was not found")
        pytest.skip("Java (17+) is needed for Spark and was not found")
    result = run_processor_entry(
        """
        from finnhub_processor.job import create_spark_session
        spark = create_spark_session(settings)
        log4j = spark.sparkContext._jvm.org.apache.logging.log4j
        log4j.LogManager.getLogger("org.apache.spark.finnhub.test").warn("from the driver's JVM")
        assert spark.range(5).count() == 5
        spark.stop()
        """
    )
    assert result.returncode == 0, result.stderr
    lines = events(result.stderr)
    jvm = next(e for e in lines if e["event"] == "from the driver's JVM")
    assert_event(jvm)
    assert jvm["level"] == "warning"
    assert jvm["logger"] == "org.apache.spark.finnhub.test"
    producer_style = next(e for e in lines if e["event"] == "feed_connected")
    assert set(jvm) - {"logger"} == set(producer_style) - {"url"}
