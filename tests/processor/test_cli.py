"""The processor's entry points, and what its Spark session exposes on the network."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_module_entry_point_rejects_bad_configuration_with_exit_2_naming_the_setting() -> None:
    env = {**os.environ, "CASSANDRA_PORT": "not-a-port"}
    result = subprocess.run(
        [sys.executable, "-m", "finnhub_processor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr
    assert "cassandra_port" in result.stderr


SESSION_SCRIPT = """
import sys, time
from finnhub_processor.job import create_spark_session
from finnhub_processor.settings import ProcessorSettings
spark = create_spark_session(ProcessorSettings(spark_master="local[1]", spark_ui_enabled=True))
spark.range(10).count()
print("ready", flush=True)
time.sleep(120)
"""


@pytest.mark.spark
def test_the_processors_spark_session_listens_on_loopback_only(listening_sockets) -> None:
    # Without SPARK_LOCAL_IP, as benchmarks and a bare `finnhub-processor` start it; UI on.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_"))}
    process = subprocess.Popen(
        [sys.executable, "-c", SESSION_SCRIPT], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        listeners, commands = listening_sockets(process.pid)
    finally:
        process.kill()
        process.wait(timeout=60)
    assert any("SparkSubmit" in command for command in commands)
    assert any("SparkSubmit" in entry.command for entry in listeners)
    assert [entry for entry in listeners if not entry.loopback] == []
