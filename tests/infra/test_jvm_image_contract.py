"""The Kafka and Cassandra pods' container contract, run for real without a container engine.

Each test takes what the component renders (the ConfigMap's files, the init container's and the
main container's commands and environment), lays the files out as the kubelet would mount them,
and runs exactly those commands with a real JVM and the jar set the image is built from (the
image copies `.cache/jars/<set>` to its libs folder). Only what a pod gets from the cluster
differs: loopback and free ports instead of the pod's network, a temporary folder for the
volumes. Kafka must answer a metadata request as node 0; Cassandra must answer CQL with the
pinned release, logging in with password authentication on.

Outside CI a machine without Java or Maven skips; under CI=true that is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster
from confluent_kafka.admin import AdminClient
from finnhub_infra.components import cassandra, kafka
from finnhub_infra.components.cassandra_container import NodeNetwork, NodePaths
from finnhub_infra.components.kafka_container import BrokerNetwork, BrokerPaths
from finnhub_infra.config import CassandraConfig, KafkaConfig
from local_stack.artifacts import (
    CASSANDRA_JARS,
    CASSANDRA_VERSION,
    KAFKA_JARS,
    JarResolver,
)
from local_stack.errors import LocalStackError
from local_stack.kafka import new_cluster_id
from local_stack.network import free_ports
from local_stack.processes import ProcessFiles, find_java, log_tail, start_background, stop
from local_stack.settings import LocalStackSettings

IMAGE = "registry.test/finnhub-jvm@sha256:" + "12" * 32
NAMESPACE = "contract"
START_TIMEOUT_S = 300.0
_CLUSTER_VAR = re.compile(r"\$\((\w+)\)")


@dataclass(frozen=True)
class Jvm:
    java: str
    kafka_jars: Path
    cassandra_jars: Path


@pytest.fixture(scope="module")
def jvm() -> Jvm:
    try:
        java = find_java("java")
        resolver = JarResolver(LocalStackSettings())
        resolver.jars(KAFKA_JARS)
        resolver.jars(CASSANDRA_JARS)
    except LocalStackError as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"JVM contract test cannot run under CI: {error}", pytrace=False)
        pytest.skip(f"JVM contract test cannot run: {error}")
    return Jvm(java, resolver.jar_dir(KAFKA_JARS), resolver.jar_dir(CASSANDRA_JARS))


def mount_config_map(data: dict[str, str], folder: Path) -> None:
    """What the kubelet does with a ConfigMap volume: one file per key."""
    folder.mkdir(parents=True)
    for key, content in data.items():
        (folder / key).write_text(content)


def container_env(container: dict[str, Any], from_cluster: dict[str, str]) -> dict[str, str]:
    """The container's environment as the kubelet builds it. Values the cluster supplies
    (downward API, Secrets, `$(VAR)` references) come from `from_cluster`, which must name
    exactly those: a new cluster-supplied variable the test does not stand in for fails here."""
    env = {"PATH": os.environ["PATH"]}
    needed = set()
    for entry in container.get("env", []):
        value = entry.get("value")
        if value is None or _CLUSTER_VAR.search(value):
            needed.add(entry["name"])
        else:
            env[entry["name"]] = value
    assert needed == set(from_cluster) - {"HOSTNAME"}, needed
    return env | from_cluster


def run_init(container: dict[str, Any], env: dict[str, str], cwd: Path) -> None:
    result = subprocess.run(
        container["command"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def wait_for(check: Callable[[], bool], files: ProcessFiles, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(2)
    pytest.fail(f"{what} did not answer in {START_TIMEOUT_S:.0f} s:\n{log_tail(files.log_file)}")


def pod_spec(statefulset: dict[str, Any]) -> dict[str, Any]:
    return statefulset["spec"]["template"]["spec"]


def test_kafka_pod_contract_serves_metadata_as_node_0(jvm: Jvm, tmp_path: Path) -> None:
    client_port, controller_port = free_ports(2)
    network = BrokerNetwork(
        client_port=client_port,
        controller_port=controller_port,
        bind_host="127.0.0.1",
        voter_hosts=("127.0.0.1",),
    )
    paths = BrokerPaths(
        libs=str(jvm.kafka_jars),
        templates=str(tmp_path / "templates"),
        config=str(tmp_path / "config"),
        data=str(tmp_path / "data"),
    )
    cfg = KafkaConfig()
    config_map = kafka.config_map_manifest(NAMESPACE, cfg, network, paths)
    pod = pod_spec(kafka.statefulset_manifest(NAMESPACE, cfg, "standard", "id", IMAGE, paths))
    mount_config_map(config_map["data"], tmp_path / "templates")
    (tmp_path / "config").mkdir()
    (tmp_path / "data").mkdir()

    (prepare,) = pod["initContainers"]
    env = container_env(
        prepare,
        {
            "HOSTNAME": "kafka-0",
            "POD_NAME": "kafka-0",
            # The pod's own DNS name in the cluster; on a host, loopback.
            "ADVERTISED_HOST": "127.0.0.1",
            "CLUSTER_ID": new_cluster_id(),
        },
    )
    run_init(prepare, env, tmp_path)
    assert (tmp_path / "data" / "logs" / "meta.properties").is_file()

    (broker,) = pod["containers"]
    assert broker["command"][0] == "java"
    files = ProcessFiles(tmp_path / "kafka.pid", tmp_path / "kafka.log", str(tmp_path))
    start_background(broker["command"], files, tmp_path, stop_with_parent=True)
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{client_port}", "log_level": 0})
    brokers: dict[int, Any] = {}

    def answers() -> bool:
        try:
            brokers.update(admin.list_topics(timeout=5).brokers)
        except Exception:
            return False
        return bool(brokers)

    try:
        wait_for(answers, files, "Kafka")
    finally:
        stop(files, timeout_s=30)
    assert {(b.id, b.host, b.port) for b in brokers.values()} == {(0, "127.0.0.1", client_port)}


def test_cassandra_pod_contract_answers_cql_with_the_pinned_release(
    jvm: Jvm, tmp_path: Path
) -> None:
    cql_port, storage_port = free_ports(2)
    network = NodeNetwork(cql_port=cql_port, storage_port=storage_port, rpc_bind="127.0.0.1")
    # The image's layout: the jar set in lib/, jamm copied to a fixed name (the Dockerfile's cp).
    agent = tmp_path / "agents" / "jamm.jar"
    agent.parent.mkdir()
    shutil.copy(next(jvm.cassandra_jars.glob("jamm-*.jar")), agent)
    paths = NodePaths(
        lib=str(jvm.cassandra_jars),
        jamm_agent=str(agent),
        templates=str(tmp_path / "templates"),
        config=str(tmp_path / "config"),
        data=str(tmp_path / "data"),
    )
    cfg = CassandraConfig()
    config_map = cassandra.config_map_manifest(
        NAMESPACE, cfg, f"127.0.0.1:{storage_port}", network, paths
    )
    pod = pod_spec(cassandra.statefulset_manifest(NAMESPACE, cfg, "standard", IMAGE, paths))
    mount_config_map(config_map["data"], tmp_path / "templates")
    (tmp_path / "config").mkdir()
    (tmp_path / "data").mkdir()

    (prepare,) = pod["initContainers"]
    run_init(prepare, container_env(prepare, {"POD_IP": "127.0.0.1"}), tmp_path)

    (node,) = pod["containers"]
    assert node["command"][0] == "java"
    files = ProcessFiles(tmp_path / "cassandra.pid", tmp_path / "cassandra.log", str(tmp_path))
    start_background(node["command"], files, tmp_path, stop_with_parent=True)
    release: list[str] = []

    def answers() -> bool:
        # Authentication is on: only Cassandra's default superuser exists on a new cluster.
        cluster = Cluster(
            ["127.0.0.1"],
            port=cql_port,
            protocol_version=5,
            auth_provider=PlainTextAuthProvider("cassandra", "cassandra"),
            connect_timeout=5,
        )
        try:
            row = cluster.connect().execute("SELECT release_version FROM system.local").one()
        except Exception:
            return False
        finally:
            cluster.shutdown()
        release.append(row.release_version)
        return True

    try:
        wait_for(answers, files, "Cassandra")
    finally:
        stop(files, timeout_s=60)
    assert release == [CASSANDRA_VERSION]
