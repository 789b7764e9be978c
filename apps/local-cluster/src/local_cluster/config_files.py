"""The components' configuration files, rendered from settings and the layout: pure functions.

JSON wherever a component reads YAML (YAML is a superset), so nothing here needs a YAML writer.
"""

from __future__ import annotations

import json
from pathlib import Path

from local_cluster.layout import Layout
from local_cluster.settings import LocalClusterSettings

# Each registry a pod's image may name, mirrored to a folder of the same name in the local
# registry: `docker.io/library/debian:bookworm-slim` is `127.0.0.1:5000/docker.io/library/debian`.
MIRRORED_REGISTRIES = ("docker.io", "registry.k8s.io", "ghcr.io", "quay.io")

PAUSE_IMAGE = "registry.k8s.io/pause:3.10"

# Any registry request that escaped the mirrors would go through this proxy, where nothing
# listens: it fails at once on loopback, and never asks the machine's resolver for a name.
DEAD_PROXY = "http://127.0.0.1:9"


def kubeconfig(server: str, ca: Path, cert: Path, key: Path, user: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "local-cluster",
                    "cluster": {"server": server, "certificate-authority": str(ca)},
                }
            ],
            "users": [
                {"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}
            ],
            "contexts": [
                {"name": "local-cluster", "context": {"cluster": "local-cluster", "user": user}}
            ],
            "current-context": "local-cluster",
        },
        indent=2,
    )


def kubelet_config(settings: LocalClusterSettings, layout: Layout) -> str:
    pki = layout.pki
    return json.dumps(
        {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": settings.bridge_address,
            "port": settings.kubelet_port,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": settings.kubelet_healthz_port,
            "tlsCertFile": str(pki / "kubelet-serving.crt"),
            "tlsPrivateKeyFile": str(pki / "kubelet-serving.key"),
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(pki / "ca.crt")},
            },
            "authorization": {"mode": "Webhook"},
            "clusterDomain": settings.cluster_domain,
            "clusterDNS": [settings.dns_service_ip],
            # Pods with dnsPolicy Default get this file, never the machine's own resolver.
            "resolvConf": str(layout.resolv_conf),
            "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
            "cgroupDriver": "cgroupfs",
            # This machine has the cgroup v1 hierarchy; 1.34 refuses it unless told otherwise.
            "failCgroupV1": False,
            "failSwapOn": False,
            # A shared development disk and memory: the defaults (10% disk, 100Mi) would evict
            # or refuse pods on a machine that is merely busy.
            "evictionHard": {
                "memory.available": "50Mi",
                "nodefs.available": "1%",
                "nodefs.inodesFree": "1%",
                "imagefs.available": "1%",
            },
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "serializeImagePulls": False,
            "maxPods": 110,
            "makeIPTablesUtilChains": True,
            "protectKernelDefaults": False,
            "staticPodPath": "",
            "podLogsDir": str(layout.state / "pod-logs"),
            "enableServer": True,
        },
        indent=2,
    )


def kube_proxy_config(settings: LocalClusterSettings, layout: Layout) -> str:
    return json.dumps(
        {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(layout.kubeconfig("kube-proxy"))},
            "mode": "iptables",
            "hostnameOverride": settings.node_name,
            "bindAddress": "127.0.0.1",
            "healthzBindAddress": f"127.0.0.1:{settings.proxy_healthz_port}",
            "metricsBindAddress": f"127.0.0.1:{settings.proxy_metrics_port}",
            "clusterCIDR": settings.pod_cidr,
            # NodePorts only on the bridge: never on the machine's own network interfaces.
            "nodePortAddresses": [f"{settings.bridge_address}/32"],
            # Leave the machine's conntrack sysctls alone (shared machine, often not writable).
            "conntrack": {
                "maxPerCore": 0,
                "min": 0,
                "tcpEstablishedTimeout": "0s",
                "tcpCloseWaitTimeout": "0s",
            },
        },
        indent=2,
    )


def containerd_config(layout: Layout) -> str:
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""# local-cluster's own containerd: its own root, state and socket under the state dir.
version = 2
root = "{layout.containerd_root}"
state = "{layout.containerd_state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", \
"io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", \
"io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "{layout.containerd_socket}"

[ttrpc]
  address = "{layout.containerd_socket}.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  # Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails to lower its
  # oom_score_adj (runc: "can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false

[{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{layout.cni_conf}"
  max_conf_num = 1

[{cri}.registry]
  config_path = "{layout.registry_hosts}"
"""


def registry_hosts_toml(registry: str, local_registry: str) -> str:
    """containerd 1.6's mirror for one registry: the local registry, with no fall-through.

    `server` is set to the mirror too: left out, containerd would fall back to the registry's
    real host when the mirror lacks an image.
    """
    mirror = f"http://{local_registry}/v2/{registry}"
    return f"""# local-cluster: {registry} images resolve to images built on this machine.
server = "{mirror}"
override_path = true
capabilities = ["pull", "resolve"]

[host."{mirror}"]
  capabilities = ["pull", "resolve"]
  override_path = true
"""


def cni_conflist(settings: LocalClusterSettings, layout: Layout) -> str:
    return json.dumps(
        {
            "cniVersion": "1.0.0",
            "name": "local-cluster",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": settings.bridge,
                    "isGateway": True,
                    # No default route and no masquerade: a pod reaches other pods and the
                    # ClusterIP range through the bridge, and nothing else.
                    "isDefaultGateway": False,
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "dataDir": str(layout.cni_ipam),
                        "ranges": [
                            [{"subnet": settings.pod_cidr, "gateway": settings.bridge_address}]
                        ],
                        "routes": [{"dst": settings.service_cidr}],
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        },
        indent=2,
    )


def registry_config(settings: LocalClusterSettings, layout: Layout) -> str:
    return json.dumps(
        {
            "version": 0.1,
            "log": {"level": "info"},
            "storage": {
                "filesystem": {"rootdirectory": str(layout.registry_data)},
                "delete": {"enabled": True},
            },
            "http": {"addr": settings.registry_address},
        },
        indent=2,
    )


def corefile(settings: LocalClusterSettings) -> str:
    """cluster.local and reverse lookups from the API; no `forward`: other names fail here."""
    return f""".:53 {{
    errors
    health {{
        lameduck 2s
    }}
    ready
    kubernetes {settings.cluster_domain} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }}
    cache 30
    loadbalance
}}
"""


def resolv_conf(settings: LocalClusterSettings) -> str:
    return (
        "# local-cluster: pods never get the machine's resolver; this names the cluster's DNS.\n"
        f"nameserver {settings.dns_service_ip}\n"
    )
