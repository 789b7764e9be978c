"""What spark-submit hands the processor's session wins over the session's local defaults.

On Kubernetes spark-submit passes the driver pod's address (`spark.driver.bindAddress`,
`spark.driver.host`) and the master; a session that overrides them with its loopback and
`SPARK_MASTER` defaults leaves executors unable to reach the driver. Launched here by the real
spark-submit of the installed pyspark, on loopback addresses only (127.0.0.0/8).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyspark
import pytest

SUBMITTED_ADDRESS = "127.0.0.2"

SESSION_SCRIPT = """
import json, os
from finnhub_processor.job import create_spark_session
from finnhub_processor.settings import ProcessorSettings
spark = create_spark_session(ProcessorSettings())
conf = spark.sparkContext.getConf()
print(json.dumps({
    "bindAddress": conf.get("spark.driver.bindAddress"),
    "host": conf.get("spark.driver.host"),
    "master": spark.sparkContext.master,
    "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP"),
}), flush=True)
spark.stop()
"""


@pytest.fixture(scope="module")
def submitted_session(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    script = tmp_path_factory.mktemp("submitted") / "session.py"
    script.write_text(SESSION_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_"))}
    # The launcher's own bind address, as a Spark pod's environment would set it.
    env["SPARK_LOCAL_IP"] = SUBMITTED_ADDRESS
    env["PYSPARK_PYTHON"] = env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    result = subprocess.run(
        [
            str(spark_submit),
            "--master",
            "local[1]",
            "--conf",
            f"spark.driver.bindAddress={SUBMITTED_ADDRESS}",
            "--conf",
            f"spark.driver.host={SUBMITTED_ADDRESS}",
            "--conf",
            "spark.ui.enabled=false",
            str(script),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.spark
def test_the_driver_address_spark_submit_passes_is_kept(submitted_session: dict) -> None:
    assert submitted_session["bindAddress"] == SUBMITTED_ADDRESS
    assert submitted_session["host"] == SUBMITTED_ADDRESS


@pytest.mark.spark
def test_the_master_spark_submit_passes_wins_over_spark_master(submitted_session: dict) -> None:
    assert submitted_session["master"] == "local[1]"


@pytest.mark.spark
def test_a_launcher_address_set_on_purpose_is_kept(submitted_session: dict) -> None:
    assert submitted_session["SPARK_LOCAL_IP"] == SUBMITTED_ADDRESS
