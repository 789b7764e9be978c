"""The processor's entry points, without starting Spark."""

from __future__ import annotations

import os
import subprocess
import sys


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
