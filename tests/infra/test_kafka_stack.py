"""KafkaStack alone under mocks, and its topics script run against fake Kafka tools."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from finnhub_infra.components.kafka import (
    KafkaStack,
    KafkaStackArgs,
    quorum_voters,
    topics_script,
)
from finnhub_infra.config import KafkaConfig
from infra_harness import Rendered, run_mocked


def render(cfg: KafkaConfig) -> Rendered:
    def body() -> object:
        stack = KafkaStack("kafka", KafkaStackArgs("pipeline", cfg, "fast"))
        return stack.bootstrap_servers

    return run_mocked(body)


def test_kafka_is_a_kraft_statefulset_on_persistent_volumes() -> None:
    sts = render(KafkaConfig()).manifest("StatefulSet", "kafka")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "ZOOKEEPER" not in " ".join(env)
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
    env = {e["name"]: e for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CLUSTER_ID"]["valueFrom"]["secretKeyRef"]["name"] == "kafka-cluster-id"
    assert len(rendered.manifest("Secret", "kafka-cluster-id")["stringData"]["cluster-id"]) == 22


def test_ui_is_optional() -> None:
    with_ui = render(KafkaConfig())
    without = render(KafkaConfig(ui_enabled=False))
    assert with_ui.manifest("Deployment", "kafka-ui")
    assert not [m for m in without.manifests() if m["metadata"]["name"] == "kafka-ui"]


def test_auto_topic_creation_is_off_so_topics_come_only_from_the_job() -> None:
    sts = render(KafkaConfig()).manifest("StatefulSet", "kafka")
    env = {
        e["name"]: e.get("value") for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def fake_tools(folder: Path, failures_before_ready: int) -> Path:
    log = folder / "calls.log"
    counter = folder / "attempts"
    counter.write_text("0")
    for tool in ("kafka-topics.sh", "kafka-configs.sh"):
        script = folder / tool
        script.write_text(
            "#!/bin/bash\n"
            f'echo "{tool} $*" >> {log}\n'
            'if [[ " $* " == *" --list "* ]]; then\n'
            f"  n=$(( $(cat {counter}) + 1 )); echo $n > {counter}\n"
            f"  [ $n -gt {failures_before_ready} ] || exit 1\n"
            "fi\n"
        )
        script.chmod(0o755)
    return log


def run_script(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": os.environ["PATH"]},
    )


def test_topics_job_waits_for_brokers_then_creates_both_topics(tmp_path: Path) -> None:
    log = fake_tools(tmp_path, failures_before_ready=2)
    cfg = KafkaConfig(topic_partitions=6, retention_ms=1000, dlq_retention_ms=2000)
    result = run_script(topics_script("ns", cfg, kafka_bin=str(tmp_path), retry_seconds=0))
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert sum("--list" in c for c in calls) == 3
    creates = [c for c in calls if "--create" in c]
    assert len(creates) == 2
    assert "--topic market --partitions 6" in creates[0] and "retention.ms=1000" in creates[0]
    assert "--topic market.dlq --partitions 6" in creates[1] and "retention.ms=2000" in creates[1]
    assert all("--if-not-exists" in c for c in creates)


def test_topics_job_gives_up_with_the_address_when_kafka_never_answers(tmp_path: Path) -> None:
    fake_tools(tmp_path, failures_before_ready=10_000)
    script = topics_script("ns", KafkaConfig(), kafka_bin=str(tmp_path), retry_seconds=0)
    result = run_script(script)
    assert result.returncode == 1
    assert "kafka.ns.svc.cluster.local:9092" in result.stderr
