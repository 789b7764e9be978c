"""Brings the whole cluster up in dependency order, reports on it, and takes it all down again."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from background_processes.pid_files import ProcessFiles, rss_bytes, start_background

from local_cluster import binaries, config_files, manifests, network, packages, pki, processes
from local_cluster.api import ApiClient
from local_cluster.errors import ComponentStartError, LocalClusterError
from local_cluster.images import BASE_IMAGES, ImageBuilder
from local_cluster.layout import Layout
from local_cluster.readiness import (
    client_tls,
    http_ok,
    unix_socket_answers,
    unverified_tls,
    wait_until,
)
from local_cluster.settings import LocalClusterSettings

# Start order; down goes the other way.
COMPONENTS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "containerd",
    "registry",
    "dockerd",
    "kubelet",
    "kube-proxy",
    "hostpath-provisioner",
)

NETNS_PREFIXES = ("/run/netns/cni-", "/var/run/netns/cni-")
CONTAINER_LOG_LINKS = Path("/var/log/containers")


@dataclass(frozen=True)
class Component:
    name: str
    address: str
    command: list[str]
    ready: Callable[[], bool]
    env: dict[str, str] | None = None


@dataclass
class UpReport:
    built: dict[str, float] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    address: str
    pid: int | None
    answering: bool
    rss_bytes: int | None
    log_file: Path


# Which cluster holds this machine. kube-proxy's and the kubelet's iptables chains (KUBE-SERVICES,
# KUBE-FIREWALL, ...) and `kube-proxy --cleanup` are machine-wide: a second cluster's kube-proxy
# rewrites the first one's Services away (seen: CoreDNS of both crash-looping, pods killed).
ACTIVE_CLUSTER_FILE = Path("/run/local-cluster/active")


def running_cluster(state: Path, active_file: Path = ACTIVE_CLUSTER_FILE) -> Path | None:
    """The state dir of another cluster that is up on this machine, if any."""
    if not active_file.is_file():
        return None
    other = Path(active_file.read_text().strip())
    if other == state:
        return None
    for pid_file in (other / "pids").glob("*.pid"):
        with contextlib.suppress(OSError, ValueError):
            if processes.is_running(int(pid_file.read_text().strip()), str(other)):
                return other
    return None


def claim_machine(state: Path, active_file: Path = ACTIVE_CLUSTER_FILE) -> None:
    other = running_cluster(state, active_file)
    if other is not None:
        raise LocalClusterError(
            f"another local-cluster is up on this machine (state dir {other}); their iptables "
            "chains are machine-wide, so two cannot run at once: stop it first with "
            f"`LOCAL_CLUSTER_STATE_DIR={other} local-cluster down`"
        )
    active_file.parent.mkdir(parents=True, exist_ok=True)
    active_file.write_text(f"{state}\n")


def release_machine(state: Path, active_file: Path = ACTIVE_CLUSTER_FILE) -> None:
    with contextlib.suppress(OSError):
        if Path(active_file.read_text().strip()) == state:
            active_file.unlink()


class LocalCluster:
    def __init__(
        self,
        settings: LocalClusterSettings,
        on_event: Callable[[str], None] = lambda _: None,
        stop_with_parent: bool = False,
    ) -> None:
        self.settings = settings
        self.layout = Layout(settings.resolved_state_dir)
        self.bin = settings.bin_dir
        self.report = on_event
        self.stop_with_parent = stop_with_parent

    # -- paths and clients -------------------------------------------------------------------

    def files(self, name: str) -> ProcessFiles:
        return ProcessFiles(
            pid_file=self.layout.pids / f"{name}.pid",
            log_file=self.layout.logs / f"{name}.log",
            identity=str(self.layout.state),
        )

    def log_file(self, name: str) -> Path:
        return self.files(name).log_file

    @property
    def admin_kubeconfig(self) -> Path:
        return self.layout.kubeconfig("admin")

    def api(self, user: str = "admin") -> ApiClient:
        pki_dir = self.layout.pki
        return ApiClient(
            self.settings.apiserver_url,
            pki_dir / "ca.crt",
            pki_dir / f"{user}.crt",
            pki_dir / f"{user}.key",
        )

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        result = subprocess.run(
            [str(self.bin / "kubectl"), "--kubeconfig", str(self.admin_kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise LocalClusterError(f"kubectl {' '.join(args[:3])} failed: {result.stderr.strip()}")
        return result.stdout

    # -- up ----------------------------------------------------------------------------------

    def up(self) -> UpReport:
        started = time.monotonic()
        packages.require_root("local-cluster up")
        claim_machine(self.layout.state)
        report = UpReport()
        packages.install_missing(self.report)
        report.built = binaries.ensure_built(
            self.bin, self.settings.go, self.report, self.layout.logs
        )
        self._write_files()
        network.ensure_bridge(
            self.settings.bridge, self.settings.bridge_address, self.settings.bridge_prefix_len
        )
        network.ensure_guard(self.settings.bridge, self.settings.bridge_address)
        self._remember_ip_forward()
        components = {component.name: component for component in self._components()}
        for name in (
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "containerd",
            "registry",
            "dockerd",
        ):
            report.started[name] = self._start(components[name])
        self._publish_images()
        report.started["kubelet"] = self._start(components["kubelet"])
        report.started["kube-proxy"] = self._start(components["kube-proxy"])
        self._apply_cluster_objects()
        report.started["hostpath-provisioner"] = self._start(components["hostpath-provisioner"])
        report.seconds = time.monotonic() - started
        return report

    def _start(self, component: Component) -> float:
        files = self.files(component.name)
        if processes.recorded_pid(files) is not None and _safe(component.ready):
            return 0.0
        self.report(f"starting {component.name} ({component.address})")
        pid = start_background(
            component.command,
            files,
            cwd=self.layout.state,
            env=component.env,
            stop_with_parent=self.stop_with_parent,
        )
        return wait_until(
            component.ready,
            component.name,
            component.address,
            files.log_file,
            self.settings.start_timeout_s,
            alive=lambda: processes.is_alive(pid),
        )

    def _write_files(self) -> None:
        s, layout = self.settings, self.layout
        for folder in (
            layout.config,
            layout.logs,
            layout.pids,
            layout.cni_conf,
            layout.volumes,
            layout.kubelet_root,
            layout.registry_data,
            layout.docker_data,
            layout.docker_exec,
            layout.etcd_data,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        layout.etcd_data.chmod(0o700)
        pki.ensure_pki(
            layout.pki,
            pki.cert_specs(
                s.node_name, s.bridge_address, s.kubernetes_service_ip, s.cluster_domain
            ),
        )
        for user in ("admin", "controller-manager", "scheduler", "kube-proxy", "kubelet-client"):
            layout.kubeconfig(user).write_text(
                config_files.kubeconfig(
                    s.apiserver_url,
                    layout.pki / "ca.crt",
                    layout.pki / f"{user}.crt",
                    layout.pki / f"{user}.key",
                    user,
                )
            )
        (layout.config / "kubelet.json").write_text(config_files.kubelet_config(s, layout))
        (layout.config / "kube-proxy.json").write_text(config_files.kube_proxy_config(s, layout))
        (layout.config / "containerd.toml").write_text(config_files.containerd_config(layout))
        (layout.config / "registry.json").write_text(config_files.registry_config(s, layout))
        (layout.cni_conf / "10-local-cluster.conflist").write_text(
            config_files.cni_conflist(s, layout)
        )
        layout.resolv_conf.write_text(config_files.resolv_conf(s))
        for registry in (*config_files.MIRRORED_REGISTRIES, s.registry_address):
            folder = layout.registry_hosts / registry
            folder.mkdir(parents=True, exist_ok=True)
            if registry == s.registry_address:
                hosts = f'server = "http://{registry}"\n'
            else:
                hosts = config_files.registry_hosts_toml(registry, s.registry_address)
            (folder / "hosts.toml").write_text(hosts)

    def _remember_ip_forward(self) -> None:
        saved = self.layout.config / "ip_forward.before"
        if not saved.is_file():
            saved.write_text(Path("/proc/sys/net/ipv4/ip_forward").read_text())

    def _components(self) -> list[Component]:
        s, layout, b = self.settings, self.layout, self.bin
        p = layout.pki
        bridge = s.bridge_address
        admin_tls = lambda: client_tls(p / "ca.crt", p / "admin.crt", p / "admin.key")  # noqa: E731
        # Registry traffic that slipped past the mirrors dies here, on loopback, by name unresolved.
        no_egress = {
            **os.environ,
            "HTTP_PROXY": config_files.DEAD_PROXY,
            "HTTPS_PROXY": config_files.DEAD_PROXY,
            "NO_PROXY": "127.0.0.1,localhost",
            "http_proxy": config_files.DEAD_PROXY,
            "https_proxy": config_files.DEAD_PROXY,
            "no_proxy": "127.0.0.1,localhost",
        }
        etcd_url = f"https://127.0.0.1:{s.etcd_port}"
        peer_url = f"http://127.0.0.1:{s.etcd_peer_port}"
        kubeconfig = layout.kubeconfig
        return [
            Component(
                "etcd",
                etcd_url,
                [
                    str(b / "etcd"),
                    "--name",
                    "local-cluster",
                    "--data-dir",
                    str(layout.etcd_data),
                    "--listen-client-urls",
                    etcd_url,
                    "--advertise-client-urls",
                    etcd_url,
                    "--listen-peer-urls",
                    peer_url,
                    "--initial-advertise-peer-urls",
                    peer_url,
                    "--initial-cluster",
                    f"local-cluster={peer_url}",
                    "--listen-metrics-urls",
                    f"http://127.0.0.1:{s.etcd_metrics_port}",
                    "--cert-file",
                    str(p / "etcd.crt"),
                    "--key-file",
                    str(p / "etcd.key"),
                    "--client-cert-auth",
                    "--trusted-ca-file",
                    str(p / "ca.crt"),
                    "--quota-backend-bytes",
                    str(2 * 2**30),
                    "--log-level",
                    "warn",
                ],
                lambda: http_ok(f"http://127.0.0.1:{s.etcd_metrics_port}/health", expect='"true"'),
            ),
            Component(
                "kube-apiserver",
                s.apiserver_url,
                [
                    str(b / "kube-apiserver"),
                    "--etcd-servers",
                    etcd_url,
                    "--etcd-cafile",
                    str(p / "ca.crt"),
                    "--etcd-certfile",
                    str(p / "apiserver-etcd-client.crt"),
                    "--etcd-keyfile",
                    str(p / "apiserver-etcd-client.key"),
                    # The bridge address, not 127.0.0.1: the `kubernetes` Service gets no endpoint
                    # for a loopback address, and pods must reach the API through it.
                    "--bind-address",
                    bridge,
                    "--advertise-address",
                    bridge,
                    "--secure-port",
                    str(s.apiserver_port),
                    "--tls-cert-file",
                    str(p / "apiserver.crt"),
                    "--tls-private-key-file",
                    str(p / "apiserver.key"),
                    "--client-ca-file",
                    str(p / "ca.crt"),
                    "--kubelet-client-certificate",
                    str(p / "apiserver-kubelet-client.crt"),
                    "--kubelet-client-key",
                    str(p / "apiserver-kubelet-client.key"),
                    "--kubelet-certificate-authority",
                    str(p / "ca.crt"),
                    # Otherwise `kubectl logs/exec` resolve the node's name through the machine's
                    # resolver.
                    "--kubelet-preferred-address-types",
                    "InternalIP",
                    "--service-account-issuer",
                    f"https://kubernetes.default.svc.{s.cluster_domain}",
                    "--service-account-key-file",
                    str(p / "sa.pub"),
                    "--service-account-signing-key-file",
                    str(p / "sa.key"),
                    "--service-cluster-ip-range",
                    s.service_cidr,
                    "--authorization-mode",
                    "Node,RBAC",
                    "--enable-admission-plugins",
                    "NodeRestriction",
                    "--allow-privileged=true",
                    "--profiling=false",
                    "--event-ttl",
                    "1h",
                ],
                lambda: http_ok(f"{s.apiserver_url}/readyz", admin_tls()),
            ),
            Component(
                "kube-controller-manager",
                f"https://127.0.0.1:{s.controller_manager_port}",
                [
                    str(b / "kube-controller-manager"),
                    "--kubeconfig",
                    str(kubeconfig("controller-manager")),
                    "--authentication-kubeconfig",
                    str(kubeconfig("controller-manager")),
                    "--authorization-kubeconfig",
                    str(kubeconfig("controller-manager")),
                    "--bind-address",
                    "127.0.0.1",
                    "--secure-port",
                    str(s.controller_manager_port),
                    "--cert-dir",
                    str(layout.state / "controller-manager"),
                    "--cluster-signing-cert-file",
                    str(p / "ca.crt"),
                    "--cluster-signing-key-file",
                    str(p / "ca.key"),
                    "--root-ca-file",
                    str(p / "ca.crt"),
                    "--service-account-private-key-file",
                    str(p / "sa.key"),
                    "--use-service-account-credentials=true",
                    "--service-cluster-ip-range",
                    s.service_cidr,
                    "--leader-elect=false",
                    "--profiling=false",
                ],
                lambda: http_ok(
                    f"https://127.0.0.1:{s.controller_manager_port}/healthz", unverified_tls()
                ),
            ),
            Component(
                "kube-scheduler",
                f"https://127.0.0.1:{s.scheduler_port}",
                [
                    str(b / "kube-scheduler"),
                    "--kubeconfig",
                    str(kubeconfig("scheduler")),
                    "--authentication-kubeconfig",
                    str(kubeconfig("scheduler")),
                    "--authorization-kubeconfig",
                    str(kubeconfig("scheduler")),
                    "--bind-address",
                    "127.0.0.1",
                    "--secure-port",
                    str(s.scheduler_port),
                    "--cert-dir",
                    str(layout.state / "scheduler"),
                    "--leader-elect=false",
                    "--profiling=false",
                ],
                lambda: http_ok(f"https://127.0.0.1:{s.scheduler_port}/healthz", unverified_tls()),
            ),
            Component(
                "containerd",
                f"unix://{layout.containerd_socket}",
                ["containerd", "--config", str(layout.config / "containerd.toml")],
                lambda: unix_socket_answers(layout.containerd_socket) and self._ctr_answers(),
                env=no_egress,
            ),
            Component(
                "registry",
                f"http://{s.registry_address}",
                ["docker-registry", "serve", str(layout.config / "registry.json")],
                lambda: http_ok(f"http://{s.registry_address}/v2/"),
            ),
            Component(
                "dockerd",
                f"unix://{layout.docker_socket}",
                [
                    "dockerd",
                    "--data-root",
                    str(layout.docker_data),
                    "--exec-root",
                    str(layout.docker_exec),
                    "-H",
                    f"unix://{layout.docker_socket}",
                    "--pidfile",
                    str(layout.state / "docker" / "dockerd.pid"),
                    "--containerd",
                    str(layout.containerd_socket),
                    # A unix socket and nothing else: no bridge, no NAT, no iptables rules.
                    "--bridge",
                    "none",
                    "--iptables=false",
                    "--ip-forward=false",
                    "--ip-masq=false",
                    "--userland-proxy=false",
                    "--oom-score-adjust",
                    "0",
                    "--storage-driver",
                    "overlay2",
                ],
                lambda: self._docker_answers(),
                env=no_egress,
            ),
            Component(
                "kubelet",
                f"https://{bridge}:{s.kubelet_port}",
                [
                    str(b / "kubelet"),
                    "--config",
                    str(layout.config / "kubelet.json"),
                    "--kubeconfig",
                    str(kubeconfig("kubelet-client")),
                    "--root-dir",
                    str(layout.kubelet_root),
                    "--cert-dir",
                    str(layout.kubelet_root / "pki"),
                    "--node-ip",
                    bridge,
                    "--hostname-override",
                    s.node_name,
                ],
                lambda: self.node_ready(),
            ),
            Component(
                "kube-proxy",
                f"http://127.0.0.1:{s.proxy_healthz_port}",
                [str(b / "kube-proxy"), "--config", str(layout.config / "kube-proxy.json")],
                lambda: http_ok(f"http://127.0.0.1:{s.proxy_healthz_port}/healthz"),
            ),
            Component(
                "hostpath-provisioner",
                s.apiserver_url,
                [
                    sys.executable,
                    "-m",
                    "local_cluster.provisioner",
                    "--server",
                    s.apiserver_url,
                    "--pki",
                    str(p),
                    "--volumes",
                    str(layout.volumes),
                    "--ready-file",
                    str(layout.state / "pids" / "hostpath-provisioner.ready"),
                ],
                lambda: (layout.state / "pids" / "hostpath-provisioner.ready").is_file(),
            ),
        ]

    def _ctr_answers(self) -> bool:
        return self._ctr("version", check=False).returncode == 0

    def _ctr(
        self, *args: str, namespace: str = "k8s.io", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["ctr", "--address", str(self.layout.containerd_socket), "-n", namespace, *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise LocalClusterError(f"ctr {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def _docker_answers(self) -> bool:
        result = subprocess.run(
            ["docker", "-H", f"unix://{self.layout.docker_socket}", "version"],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.returncode == 0

    def image_builder(self) -> ImageBuilder:
        return ImageBuilder(
            self.layout.docker_socket,
            self.settings.registry_address,
            self.settings.resolved_cache_dir,
            self.report,
        )

    def _publish_images(self) -> None:
        builder = self.image_builder()
        builder.publish_binary(self.bin / "pause", config_files.PAUSE_IMAGE)
        builder.publish_binary(
            self.bin / "coredns",
            f"{manifests.COREDNS_IMAGE_REPOSITORY}:{binaries.COREDNS_VERSION}",
        )
        for image in BASE_IMAGES:
            builder.publish_base(image)

    def node_ready(self) -> bool:
        try:
            node = self.api().get(f"/api/v1/nodes/{self.settings.node_name}")
        except Exception:
            return False
        conditions = node.get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def _apply_cluster_objects(self) -> None:
        s = self.settings
        objects = [
            *manifests.image_policy(s),
            *manifests.storage(s),
            *manifests.coredns(s, binaries.COREDNS_VERSION),
        ]
        self.kubectl(
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            "-",
            stdin=json.dumps(manifests.as_list(objects)),
        )
        self.report("waiting for CoreDNS")
        try:
            self.kubectl(
                "-n",
                "kube-system",
                "rollout",
                "status",
                "deployment/coredns",
                f"--timeout={int(s.start_timeout_s)}s",
            )
        except LocalClusterError as error:
            pods = self.kubectl(
                "-n", "kube-system", "describe", "pods", "-l", "k8s-app=kube-dns", check=False
            )
            raise ComponentStartError(
                f"CoreDNS (kube-system/coredns, {s.dns_service_ip}:53) did not become ready: "
                f"{error}\n{pods[-3000:]}\nkubelet log: {self.log_file('kubelet')}"
            ) from error

    # -- status ------------------------------------------------------------------------------

    def status(self) -> list[ComponentStatus]:
        statuses = []
        for component in self._components():
            pid = processes.recorded_pid(self.files(component.name))
            answering = pid is not None and _safe(component.ready)
            statuses.append(
                ComponentStatus(
                    component.name,
                    component.address,
                    pid,
                    answering,
                    rss_bytes(pid) if pid else None,
                    self.log_file(component.name),
                )
            )
        return statuses

    # -- down --------------------------------------------------------------------------------

    def down(self) -> list[str]:
        packages.require_root("local-cluster down")
        stopped: list[str] = []
        timeout = self.settings.stop_timeout_s
        for name in ("hostpath-provisioner", "kube-controller-manager", "kube-scheduler"):
            if processes.stop(self.files(name), timeout):
                stopped.append(name)
        self._drain_pods()
        for name in ("kubelet", "kube-proxy"):
            if processes.stop(self.files(name), timeout):
                stopped.append(name)
        if (self.bin / "kube-proxy").is_file():
            subprocess.run(
                [str(self.bin / "kube-proxy"), "--cleanup"], capture_output=True, check=False
            )
        self._remove_leftover_containers()
        for name in ("dockerd", "registry", "containerd", "kube-apiserver", "etcd"):
            if processes.stop(self.files(name), timeout):
                stopped.append(name)
        # containerd-shims outlive containerd by design; theirs name our socket in their argv.
        for pid in processes.pids_with(str(self.layout.state)):
            processes.stop_pid(pid, str(self.layout.state), timeout)
        self._unmount_all()
        network.remove_owned_chains()
        network.delete_bridge(self.settings.bridge)
        self._restore_ip_forward()
        self._remove_container_log_links()
        # Every pod is gone, so are its addresses.
        for entry in self.layout.cni_ipam.glob("*/*"):
            with contextlib.suppress(OSError):
                entry.unlink()
        release_machine(self.layout.state)
        return stopped

    def _drain_pods(self) -> None:
        """Deletes every pod while the kubelet still runs, so it tears down each sandbox (CNI DEL,
        netns, mounts) itself; then waits until containerd has no task left."""
        if processes.recorded_pid(self.files("kube-apiserver")) is None:
            return
        if processes.recorded_pid(self.files("kubelet")) is None:
            return
        self.kubectl(
            "delete",
            "pods",
            "--all",
            "--all-namespaces",
            "--grace-period=0",
            "--force",
            "--wait=false",
            check=False,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self._ctr("tasks", "ls", "-q", check=False).stdout.strip():
                break
            time.sleep(0.5)
        # Sandboxes: the kubelet removes each one's netns and CNI address asynchronously.
        while time.monotonic() < deadline:
            if not self._pod_netns_mounts():
                break
            time.sleep(0.5)

    def _remove_leftover_containers(self) -> None:
        if processes.recorded_pid(self.files("containerd")) is None:
            return
        for namespace in ("k8s.io", "moby"):
            for task in self._ctr(
                "tasks", "ls", "-q", namespace=namespace, check=False
            ).stdout.split():
                self._ctr("tasks", "kill", "-s", "SIGKILL", task, namespace=namespace, check=False)
                self._ctr("tasks", "delete", "-f", task, namespace=namespace, check=False)

    def _pod_netns_mounts(self) -> list[str]:
        """Pod network namespaces, as containerd's CRI names them: the cluster assumes it is the
        only CRI runtime on the machine (as `up` found it: containerd came from its own install)."""
        return [m for m in _mount_points() if m.startswith(NETNS_PREFIXES)]

    def _unmount_all(self) -> None:
        state = str(self.layout.state)
        targets = [m for m in _mount_points() if m == state or m.startswith(state + "/")]
        targets += self._pod_netns_mounts()
        for mount_point in sorted(set(targets), key=len, reverse=True):
            subprocess.run(["umount", "-l", mount_point], capture_output=True, check=False)
            if mount_point.startswith(NETNS_PREFIXES):
                with contextlib.suppress(OSError):
                    os.unlink(mount_point)

    def _remove_container_log_links(self) -> None:
        # The kubelet links each container's log into this fixed folder; ours point into the
        # state dir's pod-logs and dangle once the pods are gone.
        for link in CONTAINER_LOG_LINKS.glob("*.log"):
            with contextlib.suppress(OSError):
                if link.is_symlink() and os.readlink(link).startswith(str(self.layout.state)):
                    link.unlink()

    def _restore_ip_forward(self) -> None:
        saved = self.layout.config / "ip_forward.before"
        if saved.is_file():
            Path("/proc/sys/net/ipv4/ip_forward").write_text(saved.read_text())
            saved.unlink()

    def leftovers(self) -> dict[str, list[str]]:
        """What `down` must not leave behind: processes, mounts, iptables chains, the bridge."""
        state = str(self.layout.state)
        return {
            "processes": [str(pid) for pid in processes.pids_with(state)],
            "mounts": [
                m for m in _mount_points() if m.startswith(state) or m.startswith(NETNS_PREFIXES)
            ],
            "iptables chains": network.remaining_owned_chains(),
            "bridge": [self.settings.bridge] if network.bridge_exists(self.settings.bridge) else [],
            "container log links": [
                str(link)
                for link in CONTAINER_LOG_LINKS.glob("*.log")
                if link.is_symlink() and os.readlink(link).startswith(state)
            ],
        }


def _mount_points() -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        points.append(line.split()[4].replace("\\040", " "))
    return points


def _safe(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except Exception:
        return False
