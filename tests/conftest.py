"""Real services for the whole test suite: one private Kafka + Cassandra per pytest session.

`local_stack` starts them on free loopback ports with a throwaway state dir, applies
schemas/cassandra-setup.cql, creates topics `market` and `market.dlq`, and stops them when the
session ends. Jars come from the project's shared `.cache/` (resolved once with Maven).
Outside CI a machine without Java/Maven/the services skips the tests that need them, with the
reason; under CI=true that is an error, so a broken set-up can never pass as "all skipped".
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cassandra.cluster import Session
from local_stack.cassandra import connect
from local_stack.errors import LocalStackError
from local_stack.network import free_ports
from local_stack.settings import LocalStackSettings
from local_stack.stack import LocalStack


@dataclass(frozen=True)
class LocalStackHandle:
    kafka_bootstrap: str
    cassandra_host: str
    cassandra_port: int
    spark_jars: list[Path]
    state_dir: Path
    stack: LocalStack


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"local stack unavailable under CI: {reason}", pytrace=False)
    pytest.skip(f"local stack unavailable: {reason}")


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStackHandle]:
    kafka, controller, native, storage, jmx = free_ports(5)
    settings = LocalStackSettings(
        kafka_port=kafka,
        kafka_controller_port=controller,
        cassandra_port=native,
        cassandra_storage_port=storage,
        cassandra_jmx_port=jmx,
        state_dir=tmp_path_factory.mktemp("local-stack-state"),
        # Spark and other JVMs of the suite share the cores; a loaded machine boots slowly.
        start_timeout_s=360.0,
    )
    # Tied to this pytest process: even a killed session leaves no JVM behind.
    stack = LocalStack(settings, stop_with_parent=True)
    try:
        endpoints = stack.up()
        spark_jars = stack.spark_connector_jars()
    except LocalStackError as error:
        stack.down()
        _unavailable(str(error))
    try:
        yield LocalStackHandle(
            kafka_bootstrap=endpoints.kafka_bootstrap,
            cassandra_host=endpoints.cassandra_host,
            cassandra_port=endpoints.cassandra_port,
            spark_jars=spark_jars,
            state_dir=endpoints.state_dir,
            stack=stack,
        )
    finally:
        stack.down()


@pytest.fixture(scope="session")
def kafka_bootstrap(local_stack: LocalStackHandle) -> str:
    return local_stack.kafka_bootstrap


@pytest.fixture(scope="session")
def cassandra_session(local_stack: LocalStackHandle) -> Iterator[Session]:
    cluster = connect(local_stack.cassandra_host, local_stack.cassandra_port)
    try:
        yield cluster.connect()
    finally:
        cluster.shutdown()
