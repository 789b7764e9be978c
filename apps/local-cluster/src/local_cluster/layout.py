"""Where each component keeps its configuration, data, sockets, pids and logs (state dir)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    state: Path

    @property
    def pki(self) -> Path:
        return self.state / "pki"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def pids(self) -> Path:
        return self.state / "pids"

    @property
    def config(self) -> Path:
        return self.state / "config"

    @property
    def etcd_data(self) -> Path:
        return self.state / "etcd"

    @property
    def containerd_root(self) -> Path:
        return self.state / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        return self.state / "containerd" / "state"

    @property
    def containerd_socket(self) -> Path:
        return self.state / "containerd" / "containerd.sock"

    @property
    def registry_hosts(self) -> Path:
        return self.state / "containerd" / "certs.d"

    @property
    def cni_conf(self) -> Path:
        return self.state / "cni" / "net.d"

    @property
    def cni_ipam(self) -> Path:
        return self.state / "cni" / "ipam"

    @property
    def kubelet_root(self) -> Path:
        return self.state / "kubelet"

    @property
    def docker_data(self) -> Path:
        return self.state / "docker" / "data"

    @property
    def docker_exec(self) -> Path:
        return self.state / "docker" / "exec"

    @property
    def docker_socket(self) -> Path:
        return self.state / "docker" / "docker.sock"

    @property
    def registry_data(self) -> Path:
        return self.state / "registry"

    @property
    def volumes(self) -> Path:
        """Where the hostPath provisioner puts each claim's directory."""
        return self.state / "volumes"

    @property
    def resolv_conf(self) -> Path:
        return self.config / "resolv.conf"

    def kubeconfig(self, user: str) -> Path:
        return self.config / f"{user}.kubeconfig"
