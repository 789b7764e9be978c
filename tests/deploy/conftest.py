"""One real deployment per module: `make deploy-local`'s own script onto a cluster of its own.

The cluster gets its own state dir, bridge, subnets and ports (LOCAL_CLUSTER_*), so a
developer's `make deploy-local` beside the tests is left alone, and the deployment its own
Pulumi backend and image references. Outside CI a machine that cannot run the cluster (not
root, not Linux, no Go) skips with the reason; under CI=true that is a failure.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from deploy_harness import CLUSTER_ENV, ROOT, Deployment


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"local deployment unavailable under CI: {reason}", pytrace=False)
    pytest.skip(f"local deployment unavailable: {reason}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if os.uname().sysname != "Linux":
        _unavailable("needs Linux")
    if os.geteuid() != 0:
        _unavailable("needs root (network, mounts, iptables, cgroups)")
    if shutil.which("go") is None:
        _unavailable("needs Go to build the cluster's binaries")
    base = tmp_path_factory.mktemp("deploy")
    cluster_state = base / "cluster"
    token = "tok-" + secrets.token_urlsafe(18)
    env = {
        **os.environ,
        **CLUSTER_ENV,
        "LOCAL_CLUSTER_STATE_DIR": str(cluster_state),
        # Known to the test, so the scans can look for it.
        "FINNHUB_TOKEN": token,
        "PULUMI_PREVIEW_CLI": "built",
    }
    logs = base / "logs"
    logs.mkdir()
    # Inside the repository: the Pulumi program's uv toolchain must find the workspace (its lock
    # and venv) above the staged project, as it does for `make deploy-local`.
    pulumi_dir = ROOT / ".state" / "tests" / f"deploy-{secrets.token_hex(4)}"
    deployment = Deployment(env, pulumi_dir, cluster_state, token, logs)
    try:
        yield deployment
    finally:
        if not deployment.destroyed:
            deployment.deploy("destroy", label="cleanup-destroy")
        subprocess.run(
            [sys.executable, "-m", "local_cluster", "down"],
            env=env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        shutil.rmtree(cluster_state, ignore_errors=True)
        shutil.rmtree(pulumi_dir, ignore_errors=True)
