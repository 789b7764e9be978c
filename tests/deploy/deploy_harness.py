"""What the deployment tests drive: `deploy_local.py` on a cluster of the tests' own, and
kubectl/docker against that cluster only."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "tools" / "pulumi" / "deploy_local.py"
NAMESPACE = "finnhub"
# Not the defaults (a developer's cluster) and not tests/local_cluster's (10.89/10.97, 1xxxx).
CLUSTER_ENV = {
    "LOCAL_CLUSTER_NODE_NAME": "lc-deploy",
    "LOCAL_CLUSTER_BRIDGE": "lcdeploy0",
    "LOCAL_CLUSTER_POD_CIDR": "10.90.0.0/16",
    "LOCAL_CLUSTER_SERVICE_CIDR": "10.98.0.0/16",
    "LOCAL_CLUSTER_ETCD_PORT": "22379",
    "LOCAL_CLUSTER_ETCD_PEER_PORT": "22380",
    "LOCAL_CLUSTER_ETCD_METRICS_PORT": "22381",
    "LOCAL_CLUSTER_APISERVER_PORT": "26443",
    "LOCAL_CLUSTER_CONTROLLER_MANAGER_PORT": "30257",
    "LOCAL_CLUSTER_SCHEDULER_PORT": "30259",
    "LOCAL_CLUSTER_KUBELET_PORT": "30250",
    "LOCAL_CLUSTER_KUBELET_HEALTHZ_PORT": "30248",
    "LOCAL_CLUSTER_PROXY_HEALTHZ_PORT": "30256",
    "LOCAL_CLUSTER_PROXY_METRICS_PORT": "30249",
    "LOCAL_CLUSTER_REGISTRY_PORT": "25000",
    "LOCAL_CLUSTER_START_TIMEOUT_S": "300",
}


@dataclass
class Deployment:
    env: dict[str, str]
    state_dir: Path
    cluster_state: Path
    token: str
    log_dir: Path
    timings: dict[str, float] = field(default_factory=dict)
    destroyed: bool = False

    def deploy(
        self, action: str, *pulumi_args: str, label: str
    ) -> subprocess.CompletedProcess[str]:
        """deploy_local.py `action`; output kept in `<log_dir>/<label>.log` and returned."""
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(DEPLOY), action, "--state-dir", str(self.state_dir), *pulumi_args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        self.timings[label] = time.monotonic() - started
        (self.log_dir / f"{label}.log").write_text(result.stdout + result.stderr)
        return result

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        result = subprocess.run(
            [
                str(ROOT / ".cache/local-cluster/bin/kubectl"),
                "--kubeconfig",
                str(self.kubeconfig),
                *args,
            ],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr[-2000:]}")
        return result.stdout

    def objects(self, kinds: str) -> list[dict[str, Any]]:
        return json.loads(self.kubectl("-n", NAMESPACE, "get", kinds, "-o", "json"))["items"]

    def secret_values(self) -> list[str]:
        """Every value of every Secret the stack made (the token and the passwords)."""
        values = []
        for item in self.objects("secrets"):
            # The KRaft cluster id is an identifier (Kafka writes it into meta.properties and
            # its logs), kept in a Secret only so the init container can read it.
            if item["metadata"]["name"].endswith("cluster-id"):
                continue
            for raw in (item.get("data") or {}).values():
                value = base64.b64decode(raw).decode(errors="replace")
                if len(value) >= 8:
                    values.append(value)
        return values

    def docker(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["docker", "-H", f"unix://{self.cluster_state / 'docker/docker.sock'}", *args],
            capture_output=True,
            env={**self.env, "DOCKER_CONFIG": str(self.state_dir / "docker-cli")},
            timeout=600,
            check=False,
        )

    @property
    def kubeconfig(self) -> Path:
        return self.cluster_state / "config" / "admin.kubeconfig"

    @property
    def pulumi_state(self) -> Path:
        return self.state_dir / "backend" / ".pulumi" / "stacks" / "finnhub-pipeline" / "local.json"

    def references(self) -> dict[str, str]:
        return json.loads((self.state_dir / "image-references.json").read_text())


class PortForward:
    """`kubectl port-forward` to 127.0.0.1 on a free port, for as long as the `with` lasts."""

    def __init__(self, deployment: Deployment, target: str, remote_port: int) -> None:
        self.deployment = deployment
        self.target = target
        self.remote_port = remote_port
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> PortForward:
        self.process = subprocess.Popen(
            [
                str(ROOT / ".cache/local-cluster/bin/kubectl"),
                "--kubeconfig",
                str(self.deployment.kubeconfig),
                "-n",
                NAMESPACE,
                "port-forward",
                "--address",
                "127.0.0.1",
                self.target,
                f":{self.remote_port}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # "Forwarding from 127.0.0.1:PORT -> REMOTE"
        if "Forwarding from 127.0.0.1:" not in line:
            self.process.kill()
            raise AssertionError(f"port-forward to {self.target} failed: {line}")
        self.port = int(line.split("127.0.0.1:", 1)[1].split()[0])
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)


def wait_until(condition, timeout_s: float, what: str, interval_s: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = condition()
            if last:
                return
        except Exception as error:  # a pod may be restarting: keep waiting
            last = error
        time.sleep(interval_s)
    raise AssertionError(f"{what} not reached within {timeout_s:.0f} s (last: {last!r})")


def fake_feed_sent(deployment: Deployment) -> list[dict[str, Any]]:
    """Every trade the in-cluster fake feed still records as sent (`GET /sent`)."""
    import urllib.request

    with PortForward(deployment, "svc/finnhub-fake-feed", 8765) as forward:
        url = f"http://127.0.0.1:{forward.port}/sent"
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())["trades"]


def cassandra_credentials(deployment: Deployment) -> tuple[str, str]:
    from finnhub_infra.components.cassandra import (
        APP_PASSWORD_KEY,
        APP_USER_KEY,
        CREDENTIALS_SECRET,
    )

    data = json.loads(
        deployment.kubectl("-n", NAMESPACE, "get", "secret", CREDENTIALS_SECRET, "-o", "json")
    )["data"]
    return (
        base64.b64decode(data[APP_USER_KEY]).decode(),
        base64.b64decode(data[APP_PASSWORD_KEY]).decode(),
    )
