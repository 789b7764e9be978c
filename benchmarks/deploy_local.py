"""What `make deploy-local` costs on this machine: cold and warm, to the first trade in
Cassandra, and the memory the running pipeline holds.

    sudo -E uv run python benchmarks/deploy_local.py

On the developer's cluster (`local-cluster up` first, or this starts it), with a Pulumi state
of its own under `.state/bench/`: deploys from an empty stack (cold `pulumi up`; the images are
rebuilt, from dockerd's layer cache when this cluster built them before), waits until the
first trade row is readable, runs `up` again (warm: nothing to change), reads the memory of
the cluster's processes and of every pod, and destroys the stack. Prints one table.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "tools" / "pulumi" / "deploy_local.py"
sys.path.insert(0, str(ROOT / "tools" / "pulumi"))


def deploy(state: Path, *args: str) -> tuple[float, dict[str, float]]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(DEPLOY), *args, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(
            f"deploy_local.py {' '.join(args)} failed:\n"
            f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    # deploy-local's own summary line: "... (cluster 3 s, images 60 s, pulumi 109 s)"
    line = next(x for x in result.stdout.splitlines() if x.startswith("deploy-local:"))
    parts = line.split("(", 1)[1].rstrip(")").split(", ")
    steps = {p.split()[0]: float(p.split()[1]) for p in parts}
    return took, steps


def kubectl(*args: str) -> str:
    from local_cluster.layout import Layout
    from local_cluster.settings import LocalClusterSettings

    settings = LocalClusterSettings()
    kubeconfig = Layout(settings.resolved_state_dir).kubeconfig("admin")
    return subprocess.run(
        [str(settings.bin_dir / "kubectl"), "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def first_trade_seconds(since: float, timeout_s: float = 900) -> float:
    """Until a trade row is readable in Cassandra, through a port-forward to 127.0.0.1 and the
    processor's own credentials (read from their Secret)."""
    import base64

    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import WhiteListRoundRobinPolicy
    from finnhub_infra.components.cassandra import (
        APP_PASSWORD_KEY,
        APP_USER_KEY,
        CREDENTIALS_SECRET,
    )

    secret = json.loads(kubectl("-n", "finnhub", "get", "secret", CREDENTIALS_SECRET, "-o", "json"))
    user = base64.b64decode(secret["data"][APP_USER_KEY]).decode()
    password = base64.b64decode(secret["data"][APP_PASSWORD_KEY]).decode()
    forward = port_forward("pod/cassandra-0", 9042)
    try:
        port = int(forward.stdout.readline().split("127.0.0.1:", 1)[1].split()[0])  # type: ignore[union-attr]
        cluster = Cluster(
            ["127.0.0.1"],
            port=port,
            protocol_version=5,
            auth_provider=PlainTextAuthProvider(user, password),
            execution_profiles={
                EXEC_PROFILE_DEFAULT: ExecutionProfile(
                    load_balancing_policy=WhiteListRoundRobinPolicy(["127.0.0.1"])
                )
            },
        )
        session = cluster.connect()
        while time.monotonic() - since < timeout_s:
            if session.execute("SELECT symbol FROM market.trades LIMIT 1").one() is not None:
                cluster.shutdown()
                return time.monotonic() - since
            time.sleep(1)
        cluster.shutdown()
        return float("nan")
    finally:
        forward.kill()


def port_forward(target: str, port: int) -> subprocess.Popen[str]:
    from local_cluster.layout import Layout
    from local_cluster.settings import LocalClusterSettings

    settings = LocalClusterSettings()
    kubeconfig = Layout(settings.resolved_state_dir).kubeconfig("admin")
    return subprocess.Popen(
        [str(settings.bin_dir / "kubectl"), "--kubeconfig", str(kubeconfig), "-n", "finnhub",
         "port-forward", "--address", "127.0.0.1", target, f":{port}"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def memory_mib() -> dict[str, float]:
    """RSS of the cluster's own processes (local-cluster status) and the pods' cgroup usage."""
    usage = Path("/sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes")
    pods = int(usage.read_text()) / 2**20 if usage.is_file() else float("nan")
    status = subprocess.run(
        [sys.executable, "-m", "local_cluster", "status"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found = re.search(r"resident memory of these processes: (\d+) MiB", status)
    cluster = float(found.group(1)) if found else float("nan")
    return {"cluster processes": cluster, "pods": pods}


def main() -> int:
    state = ROOT / ".state" / "bench" / f"deploy-{int(time.time())}"
    try:
        started = time.monotonic()
        cold, steps = deploy(state, "up")
        first = first_trade_seconds(started)
        _, warm_steps = deploy(state, "up", "--skip-images", "--expect-no-changes")
        memory = memory_mib()
        destroy, _ = deploy(state, "destroy")
    finally:
        shutil.rmtree(state, ignore_errors=True)
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load average {' '.join(load)}")
    print(f"{'step':<44} {'seconds':>8}")
    for name, seconds in steps.items():
        print(f"  cold: {name:<38} {seconds:>8.0f}")
    print(f"{'cold deploy (empty stack), total':<44} {cold:>8.0f}")
    print(f"{'from deploy start to the first trade row':<44} {first:>8.0f}")
    print(f"{'warm pulumi up (no change)':<44} {warm_steps['pulumi']:>8.0f}")
    print(f"{'destroy':<44} {destroy:>8.0f}")
    for name, mib in memory.items():
        print(f"memory, {name:<36} {mib:>7.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
