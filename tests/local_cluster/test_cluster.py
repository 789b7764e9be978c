"""The real cluster: workloads the pipeline's deployment relies on run on it, images come only
from this machine, pods cannot reach off it, and `down` takes everything away again.

The tests share one cluster (session fixture) and run in file order: the last two take it down
and bring it up again.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from cluster_client import ClusterClient
from local_cluster.errors import LocalClusterError

# A cold build of the binaries (minutes) runs inside the first test's set-up.
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(3600)]

DEBIAN = "debian:bookworm-slim"
PYTHON = "python:3.11-slim-bookworm"
JDK = "openjdk:17-jdk-slim"


def _pod_spec(image: str, command: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "containers": [{"name": "main", "image": image, "command": command, **extra}],
        "terminationGracePeriodSeconds": 1,
    }


def _run_pod(cluster: ClusterClient, namespace: str, image: str, script: str) -> str:
    """Runs `script` with bash in a one-off pod until it succeeds; returns its output."""
    name = f"run-{uuid.uuid4().hex[:6]}"
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"run": name}},
            "spec": {**_pod_spec(image, ["bash", "-c", script]), "restartPolicy": "Never"},
        }
    )
    try:
        cluster.wait(f"pod/{name}", "jsonpath={.status.phase}=Succeeded", namespace)
    except LocalClusterError:
        pytest.fail(
            f"pod {name} did not succeed:\n"
            f"{cluster.kubectl('-n', namespace, 'describe', 'pod', name, check=False)}\n"
            f"{cluster.kubectl('-n', namespace, 'logs', name, check=False)}"
        )
    return cluster.kubectl("-n", namespace, "logs", name)


def test_up_from_nothing_brings_the_node_ready(local_cluster: ClusterClient) -> None:
    assert local_cluster.cluster.node_ready()
    nodes = local_cluster.kubectl("get", "nodes", "-o", "jsonpath={.items[*].metadata.name}")
    assert nodes == "lc-test"


def test_a_deployment_with_a_readiness_probe_becomes_ready(local_cluster: ClusterClient) -> None:
    namespace = local_cluster.namespace()
    labels = {"app": "ready"}
    local_cluster.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "ready", "namespace": namespace},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": _pod_spec(
                        DEBIAN,
                        ["bash", "-c", "touch /tmp/ready && exec sleep infinity"],
                        readinessProbe={
                            "exec": {"command": ["test", "-f", "/tmp/ready"]},
                            "periodSeconds": 1,
                        },
                    ),
                },
            },
        }
    )
    local_cluster.wait("deployment/ready", "condition=Available", namespace)
    ready = local_cluster.kubectl(
        "-n", namespace, "get", "deployment", "ready", "-o", "jsonpath={.status.readyReplicas}"
    )
    assert ready == "1"


def test_a_statefulset_claim_binds_and_keeps_its_data_across_a_pod_delete(
    local_cluster: ClusterClient,
) -> None:
    namespace = local_cluster.namespace()
    labels = {"app": "store"}
    local_cluster.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "store", "namespace": namespace},
            "spec": {
                "serviceName": "store",
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": _pod_spec(
                        DEBIAN,
                        [
                            "bash",
                            "-c",
                            "[ -f /data/first ] || cat /proc/sys/kernel/random/uuid "
                            "> /data/first; exec sleep infinity",
                        ],
                        volumeMounts=[{"name": "data", "mountPath": "/data"}],
                        readinessProbe={
                            "exec": {"command": ["test", "-f", "/data/first"]},
                            "periodSeconds": 1,
                        },
                    ),
                },
                # No storageClassName: the default class's provisioner must serve it.
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "16Mi"}},
                        },
                    }
                ],
            },
        }
    )
    local_cluster.wait("pvc/data-store-0", "jsonpath={.status.phase}=Bound", namespace)
    local_cluster.wait("pod/store-0", "condition=Ready", namespace)
    before = local_cluster.kubectl("-n", namespace, "exec", "store-0", "--", "cat", "/data/first")
    uid = local_cluster.kubectl(
        "-n", namespace, "get", "pod", "store-0", "-o", "jsonpath={.metadata.uid}"
    )
    local_cluster.kubectl("-n", namespace, "delete", "pod", "store-0", "--wait=true")
    # The StatefulSet controller makes a new pod of the same name; wait for that one.
    local_cluster.wait("pod/store-0", "condition=Ready", namespace)
    assert (
        local_cluster.kubectl(
            "-n", namespace, "get", "pod", "store-0", "-o", "jsonpath={.metadata.uid}"
        )
        != uid
    )
    after = local_cluster.kubectl("-n", namespace, "exec", "store-0", "--", "cat", "/data/first")
    assert before.strip() and after == before


def test_a_service_is_reached_by_its_dns_name_from_another_pod(
    local_cluster: ClusterClient,
) -> None:
    namespace = local_cluster.namespace()
    labels = {"app": "web"}
    local_cluster.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": _pod_spec(
                        PYTHON,
                        [
                            "bash",
                            "-c",
                            "mkdir -p /srv && echo served-by-web > /srv/index.html && "
                            "exec python3 -m http.server 8080 --directory /srv",
                        ],
                        readinessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                    ),
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    local_cluster.wait("deployment/web", "condition=Available", namespace)
    output = _run_pod(
        local_cluster,
        namespace,
        PYTHON,
        f'python3 -c "import urllib.request; print(urllib.request.urlopen('
        f"'http://web.{namespace}.svc.cluster.local/', timeout=10).read().decode())\"",
    )
    assert "served-by-web" in output


def test_a_job_runs_to_completion(local_cluster: ClusterClient) -> None:
    namespace = local_cluster.namespace()
    local_cluster.apply(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once", "namespace": namespace},
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        **_pod_spec(DEBIAN, ["bash", "-c", "echo job-finished"]),
                        "restartPolicy": "Never",
                    }
                },
            },
        }
    )
    local_cluster.wait("job/once", "condition=Complete", namespace)
    assert "job-finished" in local_cluster.pod_logs(namespace, "job-name=once")


def test_the_local_python_and_jdk_bases_run_python_3_11_and_java_17(
    local_cluster: ClusterClient,
) -> None:
    namespace = local_cluster.namespace()
    python = _run_pod(local_cluster, namespace, PYTHON, "python --version")
    java = _run_pod(local_cluster, namespace, JDK, "java -version 2>&1 && javac -version 2>&1")
    assert python.startswith("Python 3.11.")
    assert 'version "17.' in java and "javac 17." in java


def test_an_image_built_by_dockerd_from_the_local_base_runs_in_a_pod(
    local_cluster: ClusterClient, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:10]
    (tmp_path / "Dockerfile").write_text(
        f'FROM {DEBIAN}\nRUN echo built-here-{tag} > /built\nCMD ["cat", "/built"]\n'
    )
    registry = local_cluster.cluster.settings.registry_address
    local_name = f"{registry}/docker.io/library/lc-test-image:{tag}"
    # The legacy builder, no network: FROM must be satisfied by the image imported here.
    local_cluster.docker(
        "build", "--network", "none", "--pull=false", "-t", local_name, str(tmp_path)
    )
    local_cluster.docker("push", local_name)
    namespace = local_cluster.namespace()
    # Named as a user would: Docker Hub's short form, resolved by the docker.io mirror.
    name = f"lc-test-image:{tag}"
    local_cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "built", "namespace": namespace},
            "spec": {"containers": [{"name": "main", "image": name}], "restartPolicy": "Never"},
        }
    )
    local_cluster.wait("pod/built", "jsonpath={.status.phase}=Succeeded", namespace)
    assert local_cluster.kubectl("-n", namespace, "logs", "built").strip() == f"built-here-{tag}"


def test_a_pod_has_no_route_off_the_machine(local_cluster: ClusterClient) -> None:
    namespace = local_cluster.namespace()
    # 203.0.113.1 (TEST-NET-3) is no address of this machine or its network. With no route the
    # kernel refuses the connect in the pod itself: not one packet is sent.
    output = _run_pod(
        local_cluster,
        namespace,
        PYTHON,
        """python3 - <<'PY'
import errno, socket
routes = open("/proc/net/route").read().splitlines()[1:]
print("default-route", any(line.split()[1] == "00000000" for line in routes))
sock = socket.socket()
sock.settimeout(5)
try:
    sock.connect(("203.0.113.1", 80))
    print("connected")
except OSError as error:
    print("errno", errno.errorcode.get(error.errno, error.errno))
PY""",
    )
    assert "default-route False" in output
    assert "errno ENETUNREACH" in output


def test_in_cluster_clients_reach_the_api_through_the_kubernetes_service(
    local_cluster: ClusterClient,
) -> None:
    namespace = local_cluster.namespace()
    output = _run_pod(
        local_cluster,
        namespace,
        PYTHON,
        """python3 - <<'PY'
import json, ssl, urllib.request
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
context = ssl.create_default_context(cafile=f"{sa}/ca.crt")
request = urllib.request.Request("https://kubernetes.default.svc/version",
    headers={"Authorization": "Bearer " + open(f"{sa}/token").read()})
print(json.load(urllib.request.urlopen(request, context=context, timeout=10))["gitVersion"])
PY""",
    )
    assert output.strip() == "v1.34.4"


def test_a_pod_naming_an_unmirrored_registry_is_refused_at_admission(
    local_cluster: ClusterClient,
) -> None:
    namespace = local_cluster.namespace()
    with pytest.raises(LocalClusterError, match=r"refused: example\.invalid/app:1"):
        local_cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "elsewhere", "namespace": namespace},
                "spec": _pod_spec("example.invalid/app:1", ["true"]),
            }
        )


def test_down_leaves_no_process_mount_or_iptables_chain(local_cluster: ClusterClient) -> None:
    local_cluster.cluster.down()
    assert local_cluster.cluster.leftovers() == {
        "processes": [],
        "mounts": [],
        "iptables chains": [],
        "bridge": [],
        "container log links": [],
    }


def test_up_after_down_reuses_the_built_binaries(local_cluster: ClusterClient) -> None:
    report = local_cluster.cluster.up()
    assert report.built == {}
    assert local_cluster.cluster.node_ready()
    version = subprocess.run(
        [str(local_cluster.cluster.bin / "kubectl"), "version", "--client", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "v1.34.4" in version
