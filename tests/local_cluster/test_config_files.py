"""What the components are told: no route off the machine, no fall-through to a real registry."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from local_cluster.config_files import (
    MIRRORED_REGISTRIES,
    cni_conflist,
    containerd_config,
    corefile,
    kubelet_config,
    registry_hosts_toml,
    resolv_conf,
)
from local_cluster.layout import Layout
from local_cluster.settings import LocalClusterSettings

SETTINGS = LocalClusterSettings(state_dir=Path("/state"))
LAYOUT = Layout(Path("/state"))


def test_pods_get_routes_to_services_only_never_a_default_route() -> None:
    plugin = json.loads(cni_conflist(SETTINGS, LAYOUT))["plugins"][0]
    assert plugin["isDefaultGateway"] is False
    assert plugin["ipMasq"] is False
    assert plugin["ipam"]["routes"] == [{"dst": SETTINGS.service_cidr}]


def test_each_mirror_sends_every_request_to_the_local_registry_with_no_fallback() -> None:
    hosts = tomllib.loads(registry_hosts_toml("docker.io", "127.0.0.1:5000"))
    # Without `server`, containerd falls back to the registry's real host.
    assert hosts["server"] == "http://127.0.0.1:5000/v2/docker.io"
    assert list(hosts["host"]) == ["http://127.0.0.1:5000/v2/docker.io"]
    assert hosts["override_path"] is True


def test_containerd_restricts_oom_score_and_reads_mirrors_from_the_state_dir() -> None:
    config = tomllib.loads(containerd_config(LAYOUT))
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True
    assert cri["registry"]["config_path"] == "/state/containerd/certs.d"
    assert cri["stream_server_address"] == "127.0.0.1"
    assert config["grpc"]["address"].startswith("/state/")


def test_kubelet_accepts_cgroup_v1_and_never_hands_pods_the_machine_resolver() -> None:
    config = json.loads(kubelet_config(SETTINGS, LAYOUT))
    assert config["failCgroupV1"] is False
    assert config["resolvConf"] == str(LAYOUT.resolv_conf)
    assert config["healthzBindAddress"] == "127.0.0.1"
    assert config["readOnlyPort"] == 0
    assert config["authentication"]["anonymous"]["enabled"] is False


def test_pod_resolv_conf_names_only_the_cluster_dns() -> None:
    servers = [
        line.split()[1]
        for line in resolv_conf(SETTINGS).splitlines()
        if line.startswith("nameserver")
    ]
    assert servers == [SETTINGS.dns_service_ip]


def test_coredns_forwards_nothing() -> None:
    text = corefile(SETTINGS)
    assert "forward" not in text and "proxy" not in text
    assert "kubernetes cluster.local" in text


def test_docker_hub_and_the_kubernetes_registry_are_mirrored() -> None:
    assert {"docker.io", "registry.k8s.io"} <= set(MIRRORED_REGISTRIES)


def test_addresses_derive_from_the_cidrs() -> None:
    assert SETTINGS.bridge_address == "10.88.0.1"
    assert SETTINGS.kubernetes_service_ip == "10.96.0.1"
    assert SETTINGS.dns_service_ip == "10.96.0.10"
