"""Everything the local cluster can be told, read once from the environment (LOCAL_CLUSTER_*)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def find_project_root(start: Path | None = None) -> Path:
    """The uv workspace root: the nearest folder upwards holding pyproject.toml and uv.lock."""
    here = (start or Path.cwd()).resolve()
    for base in (here, Path(__file__).resolve()):
        for folder in (base, *base.parents):
            if (folder / "pyproject.toml").is_file() and (folder / "uv.lock").is_file():
                return folder
    return here


class LocalClusterSettings(BaseSettings):
    """Addresses, ports and folders of the local cluster; each has an env override."""

    model_config = SettingsConfigDict(env_prefix="LOCAL_CLUSTER_", extra="ignore")

    node_name: str = Field("local-cluster", description="The single node's name.")
    bridge: str = Field("lcluster0", max_length=15, description="Pods' Linux bridge (CNI).")
    pod_cidr: str = Field("10.88.0.0/16", description="Pod addresses, on the bridge only.")
    service_cidr: str = Field("10.96.0.0/16", description="Virtual ClusterIPs (kube-proxy).")
    cluster_domain: str = "cluster.local"

    etcd_port: int = Field(2379, description="etcd clients (TLS), on 127.0.0.1.")
    etcd_peer_port: int = Field(2380, description="etcd peers, on 127.0.0.1 (one member).")
    etcd_metrics_port: int = Field(2381, description="etcd /health, on 127.0.0.1.")
    apiserver_port: int = Field(6443, description="API server, on the bridge address.")
    controller_manager_port: int = Field(10257, description="On 127.0.0.1.")
    scheduler_port: int = Field(10259, description="On 127.0.0.1.")
    kubelet_port: int = Field(10250, description="Kubelet API, on the bridge address.")
    kubelet_healthz_port: int = Field(10248, description="On 127.0.0.1.")
    proxy_healthz_port: int = Field(10256, description="kube-proxy, on 127.0.0.1.")
    proxy_metrics_port: int = Field(10249, description="kube-proxy, on 127.0.0.1.")
    registry_port: int = Field(5000, description="Local image registry, on 127.0.0.1.")

    project_root: Path = Field(
        default_factory=find_project_root,
        description="Default: the folder upwards from here holding pyproject.toml and uv.lock.",
    )
    cache_dir: Path | None = Field(
        None, description="Built binaries, images; default <project>/.cache."
    )
    state_dir: Path | None = Field(
        None, description="Data, logs, pids; default <project>/.state/local-cluster."
    )
    go: str = Field("go", description="Go toolchain that builds the binaries, a name or a path.")

    start_timeout_s: float = Field(180.0, description="How long to wait for a component.")
    stop_timeout_s: float = Field(20.0, description="SIGTERM grace before SIGKILL.")

    @field_validator("pod_cidr", "service_cidr")
    @classmethod
    def _is_network(cls, value: str) -> str:
        ipaddress.ip_network(value)
        return value

    @property
    def resolved_cache_dir(self) -> Path:
        return (self.cache_dir or self.project_root / ".cache") / "local-cluster"

    @property
    def resolved_state_dir(self) -> Path:
        return self.state_dir or self.project_root / ".state" / "local-cluster"

    @property
    def bin_dir(self) -> Path:
        return self.resolved_cache_dir / "bin"

    @property
    def bridge_address(self) -> str:
        """The bridge's own address: pods' gateway to ClusterIPs, and the API server's address."""
        return str(next(ipaddress.ip_network(self.pod_cidr).hosts()))

    @property
    def bridge_prefix_len(self) -> int:
        return ipaddress.ip_network(self.pod_cidr).prefixlen

    @property
    def kubernetes_service_ip(self) -> str:
        return str(next(ipaddress.ip_network(self.service_cidr).hosts()))

    @property
    def dns_service_ip(self) -> str:
        return str(ipaddress.ip_network(self.service_cidr).network_address + 10)

    @property
    def apiserver_url(self) -> str:
        return f"https://{self.bridge_address}:{self.apiserver_port}"

    @property
    def registry_address(self) -> str:
        return f"127.0.0.1:{self.registry_port}"
