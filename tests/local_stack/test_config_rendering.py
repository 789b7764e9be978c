"""Rendered configs bind to loopback, use the configured ports and keep data in the state dir."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from local_stack.cassandra import CassandraService, render_cassandra_yaml
from local_stack.kafka import KafkaService, new_cluster_id, render_server_properties
from local_stack.settings import LocalStackSettings


@pytest.fixture
def settings(tmp_path: Path) -> LocalStackSettings:
    return LocalStackSettings(
        kafka_port=19092,
        kafka_controller_port=19093,
        cassandra_port=19042,
        cassandra_storage_port=17000,
        cassandra_jmx_port=17199,
        state_dir=tmp_path / "state",
        cache_dir=tmp_path / "cache",
    )


def _properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_kafka_node_is_combined_broker_and_controller_on_loopback_ports(settings) -> None:
    props = _properties(render_server_properties(settings, Path("/data")))
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["log.dirs"] == "/data"


def test_kafka_internal_topics_fit_a_single_broker(settings) -> None:
    props = _properties(render_server_properties(settings, Path("/data")))
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "share.coordinator.state.topic.replication.factor",
    ):
        assert props[key] == "1"


def test_kafka_cluster_id_is_22_url_safe_characters() -> None:
    cluster_id = new_cluster_id()
    assert len(cluster_id) == 22
    assert set(cluster_id) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )


def test_cassandra_yaml_binds_every_port_to_loopback_as_configured(settings) -> None:
    config = yaml.safe_load(render_cassandra_yaml(settings, Path("/home")))
    assert config["listen_address"] == config["rpc_address"] == "127.0.0.1"
    assert config["native_transport_port"] == 19042
    assert config["storage_port"] == 17000
    assert config["seed_provider"][0]["parameters"][0]["seeds"] == "127.0.0.1:17000"


def test_cassandra_yaml_keeps_all_data_under_the_node_home(settings) -> None:
    config = yaml.safe_load(render_cassandra_yaml(settings, Path("/home")))
    folders = [
        *config["data_file_directories"],
        config["commitlog_directory"],
        config["saved_caches_directory"],
        config["hints_directory"],
        config["cdc_raw_directory"],
    ]
    assert all(folder.startswith("/home/") for folder in folders)


def test_cassandra_command_has_java17_flags_heap_and_local_jmx_port(settings) -> None:
    command = CassandraService(settings, "java", Path("/jars")).command()
    assert command[-1] == "org.apache.cassandra.service.CassandraDaemon"
    assert "-Xmx1g" in command
    assert "--add-opens=java.base/java.lang=ALL-UNNAMED" in command
    assert "-Dcassandra.jmx.local.port=17199" in command
    assert not any(arg.startswith("-Dcassandra.jmx.remote") for arg in command)


def test_both_services_keep_pids_and_logs_under_the_state_dir(settings) -> None:
    state = settings.resolved_state_dir
    for service in (
        KafkaService(settings, "java", Path("/jars")),
        CassandraService(settings, "java", Path("/jars")),
    ):
        assert service.files.pid_file.is_relative_to(state)
        assert service.files.log_file.is_relative_to(state)
        # The identity that guards against killing a recycled pid is unique per state dir.
        assert str(state) in service.files.identity


def test_ports_and_folders_come_from_local_stack_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LOCAL_STACK_KAFKA_PORT", "29092")
    monkeypatch.setenv("LOCAL_STACK_CASSANDRA_PORT", "29042")
    monkeypatch.setenv("LOCAL_STACK_STATE_DIR", str(tmp_path))
    settings = LocalStackSettings()
    assert settings.kafka_bootstrap == "127.0.0.1:29092"
    assert settings.cassandra_port == 29042
    assert settings.resolved_state_dir == tmp_path


def test_defaults_match_the_design_contract(monkeypatch) -> None:
    for name in ("KAFKA_PORT", "CASSANDRA_PORT", "STATE_DIR", "CACHE_DIR", "PROJECT_ROOT"):
        monkeypatch.delenv(f"LOCAL_STACK_{name}", raising=False)
    settings = LocalStackSettings()
    assert (settings.kafka_port, settings.cassandra_port) == (9092, 9042)
    assert settings.resolved_state_dir == settings.project_root / ".state"
    assert settings.resolved_cache_dir == settings.project_root / ".cache"
    assert (settings.project_root / "uv.lock").is_file()


def test_quick_start_jit_limits_both_jvms_to_c1_and_can_be_turned_off(settings) -> None:
    def commands(quick: bool) -> list[list[str]]:
        tuned = settings.model_copy(update={"quick_start_jit": quick})
        return [
            KafkaService(tuned, "java", Path("/jars")).command(),
            CassandraService(tuned, "java", Path("/jars")).command(),
        ]

    assert all("-XX:TieredStopAtLevel=1" in command for command in commands(True))
    assert not any("-XX:TieredStopAtLevel=1" in command for command in commands(False))
