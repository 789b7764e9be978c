"""KafkaStack alone under mocks, and its topics script run against fake Kafka tools."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from finnhub_infra.components.kafka import (
    KafkaStack,
    KafkaStackArgs,
    quorum_voters,
    topics_script,
)
from finnhub_infra.components.kafka_container import BrokerPaths
from finnhub_infra.config import KafkaConfig
from infra_harness import Rendered, run_mocked

IMAGE = "registry.test/finnhub-kafka@sha256:" + "ef" * 32


def render(cfg: KafkaConfig) -> Rendered:
    def body() -> object:
        stack = KafkaStack("kafka", KafkaStackArgs("pipeline", cfg, "fast", IMAGE))
        return stack.bootstrap_servers

    return run_mocked(body)


def server_properties(rendered: Rendered) -> dict[str, str]:
    text = rendered.manifest("ConfigMap", "kafka-config")["data"]["server.properties"]
    return dict(line.split("=", 1) for line in text.splitlines())


def test_kafka_is_a_kraft_statefulset_on_persistent_volumes() -> None:
    rendered = render(KafkaConfig())
    sts = rendered.manifest("StatefulSet", "kafka")
    properties = server_properties(rendered)
    assert properties["process.roles"] == "broker,controller"
    assert not [key for key in properties if "zookeeper" in key]
    claim = sts["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["storageClassName"] == "fast"
    assert claim["resources"]["requests"]["storage"] == "5Gi"
    assert sts["spec"]["serviceName"] == "kafka-headless"


def test_headless_service_publishes_not_ready_brokers_for_the_quorum() -> None:
    svc = render(KafkaConfig()).manifest("Service", "kafka-headless")
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["publishNotReadyAddresses"] is True


def test_quorum_lists_every_broker_by_its_stable_dns_name() -> None:
    voters = quorum_voters(3, "pipeline").split(",")
    assert voters == [
        f"{i}@kafka-{i}.kafka-headless.pipeline.svc.cluster.local:9093" for i in range(3)
    ]


def test_cluster_id_comes_from_a_secret() -> None:
    rendered = render(KafkaConfig())
    sts = rendered.manifest("StatefulSet", "kafka")
    env = {e["name"]: e for e in sts["spec"]["template"]["spec"]["initContainers"][0]["env"]}
    assert env["CLUSTER_ID"]["valueFrom"]["secretKeyRef"]["name"] == "kafka-cluster-id"
    assert len(rendered.manifest("Secret", "kafka-cluster-id")["stringData"]["cluster-id"]) == 22


def test_ui_is_optional() -> None:
    with_ui = render(KafkaConfig())
    without = render(KafkaConfig(ui_enabled=False))
    assert with_ui.manifest("Deployment", "kafka-ui")
    assert not [m for m in without.manifests() if m["metadata"]["name"] == "kafka-ui"]


def test_ui_is_the_maintained_kafbat_image_at_a_released_tag() -> None:
    deployment = render(KafkaConfig()).manifest("Deployment", "kafka-ui")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    repository, _, tag = container["image"].partition(":")
    assert repository == "kafbat/kafka-ui"
    assert re.fullmatch(r"v\d+\.\d+\.\d+", tag), tag
    env = {e["name"]: e["value"] for e in container["env"]}
    # provectuslabs' variables, which kafbat reads unchanged.
    assert env["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] == "kafka.pipeline.svc.cluster.local:9092"
    assert env["KAFKA_CLUSTERS_0_READONLY"] == "true"


def test_auto_topic_creation_is_off_so_topics_come_only_from_the_job() -> None:
    assert server_properties(render(KafkaConfig()))["auto.create.topics.enable"] == "false"


def fake_java(folder: Path, failures_before_ready: int) -> Path:
    """A `java` that logs the admin tool's arguments (after its main class) and fails the
    first `--list` calls, as brokers that are not up yet would."""
    log = folder / "calls.log"
    counter = folder / "attempts"
    counter.write_text("0")
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    script = bin_dir / "java"
    script.write_text(
        "#!/bin/bash\n"
        'while [ "$#" -gt 0 ] && [[ "$1" != org.apache.kafka.tools.* ]]; do shift; done\n'
        'tool="${1##*.}"; shift\n'
        f'echo "$tool $*" >> {log}\n'
        'if [[ " $* " == *" --list "* ]]; then\n'
        f"  n=$(( $(cat {counter}) + 1 )); echo $n > {counter}\n"
        f"  [ $n -gt {failures_before_ready} ] || exit 1\n"
        "fi\n"
    )
    script.chmod(0o755)
    return log


def run_script(script: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": f"{folder / 'bin'}:{os.environ['PATH']}"},
    )


def test_topics_job_runs_kafkas_own_tools_from_the_images_jars(tmp_path: Path) -> None:
    log = fake_java(tmp_path, failures_before_ready=0)
    paths = BrokerPaths(libs=str(tmp_path / "libs"))
    result = run_script(topics_script("ns", KafkaConfig(), paths, retry_seconds=0), tmp_path)
    assert result.returncode == 0, result.stderr
    tools = {line.split()[0] for line in log.read_text().splitlines()}
    assert tools == {"TopicCommand", "ConfigCommand"}


def test_topics_job_waits_for_brokers_then_creates_both_topics(tmp_path: Path) -> None:
    log = fake_java(tmp_path, failures_before_ready=2)
    cfg = KafkaConfig(topic_partitions=6, retention_ms=1000, dlq_retention_ms=2000)
    result = run_script(topics_script("ns", cfg, retry_seconds=0), tmp_path)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert sum("--list" in c for c in calls) == 3
    creates = [c for c in calls if "--create" in c]
    assert len(creates) == 2
    assert "--topic market --partitions 6" in creates[0] and "retention.ms=1000" in creates[0]
    assert "--topic market.dlq --partitions 6" in creates[1] and "retention.ms=2000" in creates[1]
    assert all("--if-not-exists" in c for c in creates)


def test_topics_job_gives_up_with_the_address_when_kafka_never_answers(tmp_path: Path) -> None:
    fake_java(tmp_path, failures_before_ready=10_000)
    script = topics_script("ns", KafkaConfig(), retry_seconds=0)
    result = run_script(script, tmp_path)
    assert result.returncode == 1
    assert "kafka.ns.svc.cluster.local:9092" in result.stderr
