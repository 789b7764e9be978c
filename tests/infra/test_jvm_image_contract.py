"""The Kafka and Cassandra pods' container contract, run for real without a container engine.

Each test takes what the component renders (the ConfigMap's files, the init container's and the
main container's commands and environment), lays the files out as the kubelet would mount them,
and runs exactly those commands with a real JVM and the jar set the image is built from (the
image copies `.cache/jars/<set>` to its libs folder). Only what a pod gets from the cluster
differs: loopback and free ports instead of the pod's network, a temporary folder for the
volumes. Kafka must answer a metadata request as node 0; Cassandra must answer CQL with the
pinned release, logging in with password authentication on; the schema Job's script, with the
cqlsh the image installs, must then replace the default superuser and apply the schema there.

Outside CI a machine without Java or Maven skips; under CI=true that is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from background_processes.log_files import log_tail
from background_processes.pid_files import ProcessFiles, start_background
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable
from confluent_kafka.admin import AdminClient, ConfigResource
from finnhub_contracts.cassandra import setup_cql
from finnhub_contracts.versions import CASSANDRA_VERSION
from finnhub_infra.components import cassandra, kafka
from finnhub_infra.components.cassandra_container import NodeNetwork, NodePaths
from finnhub_infra.components.kafka_container import BrokerNetwork, BrokerPaths
from finnhub_infra.config import CassandraConfig, KafkaConfig
from local_stack.artifacts import CASSANDRA_JARS, KAFKA_JARS, JarResolver
from local_stack.errors import LocalStackError
from local_stack.kafka import new_cluster_id
from local_stack.network import free_ports
from local_stack.processes import find_java, stop
from local_stack.settings import LocalStackSettings

# Real Kafka and Cassandra JVMs, like the suite's other services tests (started here, not by the
# session fixture: these run the pods' own files and commands).
pytestmark = pytest.mark.services

IMAGE = "registry.test/finnhub-jvm@sha256:" + "12" * 32
JOB_ENV = {
    "ADMIN_USER": "finnhub_admin",
    "ADMIN_PASSWORD": "adminSecret1",
    "APP_USER": "finnhub",
    "APP_PASSWORD": "appSecret2",
    "GRAFANA_USER": "grafana",
    "GRAFANA_PASSWORD": "grafanaSecret3",
}
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


@dataclass(frozen=True)
class KafkaBroker:
    client_port: int
    paths: BrokerPaths
    brokers: dict[int, Any]


# Class scope: the broker stops before the Cassandra tests start a JVM of their own.
@pytest.fixture(scope="class")
def kafka_broker(jvm: Jvm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """One broker started from the rendered pod, answering metadata requests."""
    folder = tmp_path_factory.mktemp("kafka-pod")
    client_port, controller_port = free_ports(2)
    network = BrokerNetwork(
        client_port=client_port,
        controller_port=controller_port,
        bind_host="127.0.0.1",
        voter_hosts=("127.0.0.1",),
    )
    paths = BrokerPaths(
        libs=str(jvm.kafka_jars),
        templates=str(folder / "templates"),
        config=str(folder / "config"),
        data=str(folder / "data"),
    )
    cfg = KafkaConfig()
    config_map = kafka.config_map_manifest(NAMESPACE, cfg, network, paths)
    pod = pod_spec(kafka.statefulset_manifest(NAMESPACE, cfg, "standard", "id", IMAGE, paths))
    mount_config_map(config_map["data"], folder / "templates")
    (folder / "config").mkdir()
    (folder / "data").mkdir()

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
    run_init(prepare, env, folder)
    assert (folder / "data" / "logs" / "meta.properties").is_file()

    (main,) = pod["containers"]
    assert main["command"][0] == "java"
    files = ProcessFiles(folder / "kafka.pid", folder / "kafka.log", str(folder))
    start_background(main["command"], files, folder, stop_with_parent=True)
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
        yield KafkaBroker(client_port, paths, brokers)
    finally:
        stop(files, timeout_s=30)


class TestKafkaPod:
    """One broker from the rendered pod, then the topics Job against it."""

    def test_kafka_pod_contract_serves_metadata_as_node_0(self, kafka_broker: KafkaBroker) -> None:
        found = {(b.id, b.host, b.port) for b in kafka_broker.brokers.values()}
        assert found == {(0, "127.0.0.1", kafka_broker.client_port)}

    def test_topics_job_creates_both_topics_with_kafkas_tools_from_the_jar_set(
        self, kafka_broker: KafkaBroker
    ) -> None:
        cfg = KafkaConfig(topic_partitions=2, retention_ms=3_600_000, dlq_retention_ms=7_200_000)
        server = f"127.0.0.1:{kafka_broker.client_port}"
        script = kafka.topics_script(
            NAMESPACE, cfg, kafka_broker.paths, retry_seconds=1, server=server
        )
        result = subprocess.run(
            ["bash", "-c", script],
            env={"PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        admin = AdminClient({"bootstrap.servers": server, "log_level": 0})
        topics = admin.list_topics(timeout=10).topics
        assert {name: len(topics[name].partitions) for name in (kafka.TOPIC, kafka.DLQ_TOPIC)} == {
            kafka.TOPIC: 2,
            kafka.DLQ_TOPIC: 2,
        }
        resources = [ConfigResource("topic", name) for name in (kafka.TOPIC, kafka.DLQ_TOPIC)]
        retention = {
            resource.name: future.result(timeout=10)["retention.ms"].value
            for resource, future in admin.describe_configs(resources).items()
        }
        assert retention == {kafka.TOPIC: "3600000", kafka.DLQ_TOPIC: "7200000"}


@dataclass(frozen=True)
class CassandraNode:
    cql_port: int
    folder: Path
    files: ProcessFiles


def login(node: CassandraNode, user: str, password: str) -> Cluster:
    return Cluster(
        ["127.0.0.1"],
        port=node.cql_port,
        protocol_version=5,
        auth_provider=PlainTextAuthProvider(user, password),
        connect_timeout=5,
    )


@pytest.fixture(scope="module")
def cassandra_node(jvm: Jvm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CassandraNode]:
    """One node started from the rendered pod, ready for CQL logins."""
    folder = tmp_path_factory.mktemp("cassandra-pod")
    cql_port, storage_port = free_ports(2)
    network = NodeNetwork(cql_port=cql_port, storage_port=storage_port, rpc_bind="127.0.0.1")
    # The image's layout: the jar set in lib/, jamm copied to a fixed name (the Dockerfile's cp).
    agent = folder / "agents" / "jamm.jar"
    agent.parent.mkdir()
    shutil.copy(next(jvm.cassandra_jars.glob("jamm-*.jar")), agent)
    paths = NodePaths(
        lib=str(jvm.cassandra_jars),
        jamm_agent=str(agent),
        templates=str(folder / "templates"),
        config=str(folder / "config"),
        data=str(folder / "data"),
    )
    cfg = CassandraConfig()
    config_map = cassandra.config_map_manifest(
        NAMESPACE, cfg, f"127.0.0.1:{storage_port}", network, paths
    )
    pod = pod_spec(cassandra.statefulset_manifest(NAMESPACE, cfg, "standard", IMAGE, paths))
    mount_config_map(config_map["data"], folder / "templates")
    (folder / "config").mkdir()
    (folder / "data").mkdir()

    (prepare,) = pod["initContainers"]
    run_init(prepare, container_env(prepare, {"POD_IP": "127.0.0.1"}), folder)

    (main,) = pod["containers"]
    assert main["command"][0] == "java"
    files = ProcessFiles(folder / "cassandra.pid", folder / "cassandra.log", str(folder))
    start_background(main["command"], files, folder, stop_with_parent=True)
    node = CassandraNode(cql_port, folder, files)

    def answers() -> bool:
        # Authentication is on: a new cluster has only Cassandra's default superuser.
        cluster = login(node, "cassandra", "cassandra")
        try:
            cluster.connect()
        except Exception:
            return False
        finally:
            cluster.shutdown()
        return True

    try:
        wait_for(answers, files, "Cassandra")
        yield node
    finally:
        stop(files, timeout_s=60)


def run_schema_job(
    node: CassandraNode, schema: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The schema Job's script against `node`, with the cqlsh the image installs (the version
    this environment installs too: CQLSH_VERSION, uv.lock) and a fresh work folder."""
    work = Path(tempfile.mkdtemp(dir=node.folder))
    script = cassandra.schema_job_script(
        NAMESPACE,
        CassandraConfig(),
        work_dir=str(work),
        schema_dir=str(schema),
        retry_seconds=2,
        deadline_seconds=120,
        address=("127.0.0.1", node.cql_port),
    )
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "-c", script],
        env={"PATH": path, "HOME": str(work), **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_cassandra_pod_contract_answers_cql_with_the_pinned_release(
    cassandra_node: CassandraNode,
) -> None:
    cluster = login(cassandra_node, "cassandra", "cassandra")
    try:
        row = cluster.connect().execute("SELECT release_version FROM system.local").one()
    finally:
        cluster.shutdown()
    assert row.release_version == CASSANDRA_VERSION


@pytest.fixture(scope="module")
def schema_volume(cassandra_node: CassandraNode) -> Path:
    """The schema Job's ConfigMap, mounted."""
    folder = cassandra_node.folder / "schema"
    data = cassandra.schema_configmap_manifest(NAMESPACE, CassandraConfig(), setup_cql())
    mount_config_map(data["data"], folder)
    return folder


def test_schema_job_with_the_images_cqlsh_sets_up_roles_and_keyspace_on_that_node(
    cassandra_node: CassandraNode, schema_volume: Path
) -> None:
    # Runs after the release test (file order): it retires the default superuser.
    cfg = CassandraConfig()
    result = run_schema_job(cassandra_node, schema_volume, JOB_ENV)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]

    cluster = login(cassandra_node, JOB_ENV["APP_USER"], JOB_ENV["APP_PASSWORD"])
    try:
        session = cluster.connect()
        replication = session.execute(
            "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = 'market'"
        ).one()
        tables = {
            r.table_name
            for r in session.execute(
                "SELECT table_name FROM system_schema.tables WHERE keyspace_name = 'market'"
            )
        }
    finally:
        cluster.shutdown()
    assert replication.replication["class"].endswith("NetworkTopologyStrategy")
    assert replication.replication[cassandra.DATACENTER] == str(cfg.replication_factor)
    assert {"trades", "running_averages_15_sec", "trade_windows"} <= tables
    default = login(cassandra_node, "cassandra", "cassandra")
    try:
        with pytest.raises(NoHostAvailable):
            default.connect()
    finally:
        default.shutdown()


def test_schema_job_converges_a_changed_app_password_on_that_node(
    cassandra_node: CassandraNode, schema_volume: Path
) -> None:
    # After the first run (file order); Cassandra allows one password change per 5 s.
    time.sleep(6)
    rotated = {**JOB_ENV, "APP_PASSWORD": "rotatedSecret4"}
    result = run_schema_job(cassandra_node, schema_volume, rotated)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    cluster = login(cassandra_node, rotated["APP_USER"], rotated["APP_PASSWORD"])
    try:
        assert cluster.connect().execute("SELECT release_version FROM system.local").one()
    finally:
        cluster.shutdown()
    stale = login(cassandra_node, JOB_ENV["APP_USER"], JOB_ENV["APP_PASSWORD"])
    try:
        with pytest.raises(NoHostAvailable):
            stale.connect()
    finally:
        stale.shutdown()
