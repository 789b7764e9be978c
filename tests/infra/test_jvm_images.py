"""The Kafka and Cassandra images (`images/*/Dockerfile`) against the contracts' pins and the
components' container contract, read from the Dockerfiles. The rendered commands run for real in
test_jvm_image_contract.py; the images are built and run for real in tests/images."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from finnhub_contracts.versions import CASSANDRA_VERSION, CQLSH_VERSION, KAFKA_VERSION
from finnhub_images.catalog import CASSANDRA, KAFKA, ImageSpec
from finnhub_infra.components import cassandra, kafka
from finnhub_infra.components.cassandra_container import NodePaths
from finnhub_infra.components.kafka_container import BrokerPaths
from finnhub_infra.config import CassandraConfig, KafkaConfig
from infra_harness import Rendered
from local_stack.cassandra import DAEMON_MAIN
from local_stack.kafka import SERVER_MAIN, STORAGE_TOOL_MAIN

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "registry.test/finnhub-jvm@sha256:" + "34" * 32
JVM_IMAGES = (KAFKA, CASSANDRA)
BY_NAME = {image.name: image for image in JVM_IMAGES}
UIDS = {"kafka": kafka.KAFKA_UID, "cassandra": cassandra.CASSANDRA_UID}
LIB_DIRS = {"kafka": BrokerPaths().libs, "cassandra": NodePaths().lib}


def instructions(name: str) -> list[str]:
    """Dockerfile instructions with continuations joined, comments dropped."""
    text = (ROOT / "images" / name / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line for line in joined.splitlines() if line and not line.startswith("#")]


def build_arg_defaults(name: str) -> dict[str, str | None]:
    args: dict[str, str | None] = {}
    for line in instructions(name):
        if line.startswith("ARG "):
            key, _, default = line.removeprefix("ARG ").partition("=")
            args[key] = default or None
    return args


def kafka_pod() -> dict[str, Any]:
    sts = kafka.statefulset_manifest("ns", KafkaConfig(), "standard", "id", IMAGE)
    return sts["spec"]["template"]["spec"]


def cassandra_pod() -> dict[str, Any]:
    sts = cassandra.statefulset_manifest("ns", CassandraConfig(), "standard", IMAGE)
    return sts["spec"]["template"]["spec"]


@pytest.mark.parametrize("image", JVM_IMAGES, ids=lambda i: i.name)
def test_version_build_args_have_no_default_of_their_own(image: ImageSpec) -> None:
    # The only pin is finnhub_contracts.versions; a default here could silently differ from it.
    defaults = build_arg_defaults(image.name)
    for arg in image.build_args:
        assert arg in defaults, f"{image.name}: no ARG {arg}"
        assert defaults[arg] is None, f"{image.name}: ARG {arg} pins {defaults[arg]}"


def test_the_program_passes_the_contracts_pins_as_build_args() -> None:
    assert BY_NAME["kafka"].build_args["KAFKA_VERSION"] == KAFKA_VERSION
    assert BY_NAME["cassandra"].build_args["CASSANDRA_VERSION"] == CASSANDRA_VERSION
    assert BY_NAME["kafka"].jar_sets["jars"].artifacts[0].version == KAFKA_VERSION
    assert BY_NAME["cassandra"].jar_sets["jars"].artifacts[0].version == CASSANDRA_VERSION


@pytest.mark.parametrize("image", JVM_IMAGES, ids=lambda i: i.name)
def test_build_refuses_a_context_of_another_version(image: ImageSpec) -> None:
    # Every artifact of the set at the pinned version must be present by its jar name.
    checks = " ".join(line for line in instructions(image.name) if line.startswith("RUN "))
    for arg, value in image.build_args.items():
        checks = checks.replace(f"${{{arg}}}", value)
    lib = LIB_DIRS[image.name]
    for artifact in image.jar_sets["jars"].artifacts:
        if artifact.version == image.version:
            assert f"{lib}/{artifact.artifact}-{artifact.version}.jar" in checks, artifact


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_base_is_a_pinned_debian_with_its_jre_17(name: str) -> None:
    default = build_arg_defaults(name)["BASE_IMAGE"]
    assert default is not None and re.fullmatch(r"debian:\d+\.\d+-slim", default), default
    froms = [line for line in instructions(name) if line.startswith("FROM ")]
    assert froms == ["FROM ${BASE_IMAGE}"]
    assert any("openjdk-17-jre-headless" in line for line in instructions(name))


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_jars_land_where_the_rendered_classpath_reads_them(name: str) -> None:
    assert f"COPY jars/ {LIB_DIRS[name]}/" in instructions(name)


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_image_runs_as_the_uid_the_pods_run_as(name: str) -> None:
    users = [line.split()[1] for line in instructions(name) if line.startswith("USER ")]
    assert users == [f"{UIDS[name]}:{UIDS[name]}"]
    assert any(f"useradd --uid {UIDS[name]}" in line for line in instructions(name))


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_image_has_no_entrypoint_and_no_secrets(name: str) -> None:
    lines = instructions(name)
    assert not [line for line in lines if line.split()[0] in ("ENTRYPOINT", "CMD")]
    secret = re.compile(r"password|token|secret", re.IGNORECASE)
    assert not [line for line in lines if line.startswith(("ENV", "ARG")) and secret.search(line)]


def test_cassandra_image_puts_jamm_where_the_jvm_options_load_it_from() -> None:
    agent = NodePaths().jamm_agent
    assert any(f"jamm-*.jar {agent}" in line for line in instructions("cassandra"))
    options = cassandra.config_map_manifest("ns", CassandraConfig())["data"]["jvm.options"]
    assert f"-javaagent:{agent}" in options.splitlines()


def test_kafka_broker_runs_the_jvm_on_the_rendered_server_properties() -> None:
    (broker,) = kafka_pod()["containers"]
    command = broker["command"]
    assert command[0] == "java"
    assert command[-4:] == [
        "-cp",
        f"{BrokerPaths().libs}/*",
        SERVER_MAIN,
        "/config/server.properties",
    ]
    assert "-Xmx512m" in command


def test_kafka_init_step_renders_the_pods_config_and_formats_storage_once() -> None:
    pod = kafka_pod()
    (prepare,) = pod["initContainers"]
    assert prepare["image"] == pod["containers"][0]["image"] == IMAGE
    script = kafka.config_map_manifest("ns", KafkaConfig())["data"]["prepare-node.sh"]
    assert prepare["command"] == ["/bin/bash", "/etc/kafka/templates/prepare-node.sh"]
    assert "> /config/server.properties" in script
    assert STORAGE_TOOL_MAIN in script and "--ignore-formatted" in script
    mounts = {m["name"]: m["mountPath"] for m in prepare["volumeMounts"]}
    assert mounts == {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["templates"] == "/etc/kafka/templates" and mounts["config"] == "/config"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["templates"]["configMap"]["name"] == kafka.CONFIGMAP


def test_kafka_properties_leave_only_the_pods_own_values_to_the_init_step() -> None:
    data = kafka.config_map_manifest("ns", KafkaConfig(replicas=3))["data"]
    properties = dict(line.split("=", 1) for line in data["server.properties"].splitlines())
    assert properties["node.id"] == "@NODE_ID@"
    assert properties["advertised.listeners"] == "PLAINTEXT://@ADVERTISED_HOST@:9092"
    assert properties["controller.quorum.voters"] == kafka.quorum_voters(3, "ns")
    assert properties["log.dirs"].startswith(BrokerPaths().data + "/")


def test_cassandra_node_runs_the_daemon_with_the_rendered_jvm_options() -> None:
    (node,) = cassandra_pod()["containers"]
    assert node["command"] == [
        "java",
        "@/etc/cassandra/templates/jvm.options",
        "-cp",
        f"{NodePaths().lib}/*",
        DAEMON_MAIN,
    ]
    options = cassandra.config_map_manifest("ns", CassandraConfig())["data"]["jvm.options"]
    assert "-Dcassandra.config=file:///config/cassandra.yaml" in options.splitlines()
    assert "-Xmx1G" in options.splitlines()


def test_cassandra_init_step_writes_the_pods_address_into_its_cassandra_yaml() -> None:
    pod = cassandra_pod()
    (prepare,) = pod["initContainers"]
    env = {e["name"]: e for e in prepare["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    data = cassandra.config_map_manifest("ns", CassandraConfig())["data"]
    assert "@POD_IP@" in data["cassandra.yaml"]
    assert "> /config/cassandra.yaml" in data["prepare-node.sh"]


def test_cassandra_seeds_resolve_through_the_service_that_lists_booting_pods() -> None:
    data = cassandra.config_map_manifest("ns", CassandraConfig(replicas=3))["data"]
    assert (
        '"seeds": "cassandra-0.cassandra-peers.ns.svc.cluster.local,cassandra-1.'
        in (data["cassandra.yaml"])
    )
    peers = cassandra.peers_service_manifest("ns")
    assert peers["spec"]["publishNotReadyAddresses"] is True
    sts = cassandra.statefulset_manifest("ns", CassandraConfig(), "standard", IMAGE)
    assert sts["spec"]["serviceName"] == cassandra.PEERS


def test_cassandra_images_cqlsh_is_the_one_the_contract_test_runs() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = next(p["version"] for p in lock["package"] if p["name"] == "cqlsh")
    assert BY_NAME["cassandra"].build_args["CQLSH_VERSION"] == CQLSH_VERSION == locked


def test_both_stacks_run_the_contract_the_images_are_built_for(any_stack: Rendered) -> None:
    for name, lib in (("kafka", BrokerPaths().libs), ("cassandra", NodePaths().lib)):
        pod = any_stack.manifest("StatefulSet", name)["spec"]["template"]["spec"]
        (main,) = pod["containers"]
        (prepare,) = pod["initContainers"]
        assert main["command"][0] == "java" and f"{lib}/*" in main["command"], name
        assert prepare["command"][0] == "/bin/bash", name
        config_map = next(v for v in pod["volumes"] if "configMap" in v)["configMap"]["name"]
        data = any_stack.manifest("ConfigMap", config_map)["data"]
        assert prepare["command"][1].rsplit("/", 1)[-1] in data, name
        assert "entrypoint" not in json.dumps(pod).lower(), name
