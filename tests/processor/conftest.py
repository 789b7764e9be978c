"""Fixtures of the processor tests: one shared Spark session and Avro-encoded Kafka records."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import fastavro
import pytest
from finnhub_processor.job import spark_session_builder
from finnhub_processor.settings import ProcessorSettings
from pyspark.sql import SparkSession

# Test modules import the TLS test server by name (pytest runs with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).parent))

from finnhub_contracts.avro import trades_schema
from tls_api_server import FakeApiServer, serving

ROOT = Path(__file__).resolve().parents[2]

Trade = dict[str, object]
EncodeTrades = Callable[[list[Trade]], bytes]


def unavailable(reason: str) -> None:
    """Outside CI a missing prerequisite skips with its reason; under CI=true it fails."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def connector_jars() -> list[Path]:
    """Kafka and Avro connector jars, resolved once by the local-stack package."""
    try:
        from local_stack.artifacts import spark_connector_jars
    except ImportError as error:
        unavailable(f"local-stack package (Spark connector jars) not importable: {error}")
    try:
        return spark_connector_jars()
    except Exception as error:
        unavailable(f"Spark connector jars could not be resolved: {error}")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def spark_jars() -> list[Path]:
    return connector_jars()


@pytest.fixture(scope="session")
def spark(spark_jars: list[Path]) -> Iterator[SparkSession]:
    """One local Spark for every processor test: starting one costs ~10 s on two cores."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        unavailable("Java (17+) is needed for Spark and was not found on PATH or JAVA_HOME")
    settings = ProcessorSettings(
        # The trades query's real-time tasks hold one slot per partition (3) all the time.
        spark_master="local[6]",
        spark_jars=",".join(str(j) for j in spark_jars),
        spark_shuffle_partitions=2,
    )
    # The job's own builder: tests see the job's semantics (late filtering, no-data batches,
    # loopback binding), not a look-alike session's.
    session = (
        spark_session_builder(settings)
        .appName("finnhub-processor-tests")
        .config("spark.default.parallelism", "2")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def parsed_schema() -> dict:
    return fastavro.parse_schema(json.loads(trades_schema()))


@pytest.fixture(scope="session")
def encode_trades(parsed_schema: dict) -> EncodeTrades:
    """Encodes trades (dicts with s, p, t, v and optional c) as one `market` record value."""

    def encode(trades: list[Trade]) -> bytes:
        message = {"data": [{"c": t.get("c", []), **t} for t in trades], "type": "trade"}
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, parsed_schema, message)
        return buffer.getvalue()

    return encode


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[FakeApiServer]:
    """An HTTPS server on 127.0.0.1 answering from `replies`, recording what it was asked;
    `tmp_path/account` holds its CA and a token, as a pod's service account folder does."""
    if shutil.which("openssl") is None:
        unavailable("openssl is needed to make the test API server's certificate")
    with serving(tmp_path) as server:
        yield server
