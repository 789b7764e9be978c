"""One real cluster per test session, on its own bridge, subnets, ports and state dir.

Binaries come from the project's shared cache (built on first use: minutes). Outside CI a
machine that cannot run the cluster (not root, not Linux, no Go) skips these tests with the
reason; under CI=true that is a failure, so a broken set-up never passes as "all skipped".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_cluster.cluster import LocalCluster
from local_cluster.errors import LocalClusterError
from local_cluster.settings import LocalClusterSettings

# The cluster client is test code: it lives beside the tests that drive it.
sys.path.insert(0, str(Path(__file__).parent))
from cluster_client import ClusterClient


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"local cluster unavailable under CI: {reason}", pytrace=False)
    pytest.skip(f"local cluster unavailable: {reason}")


def _test_settings(state_dir: Path) -> LocalClusterSettings:
    # Not the defaults, so its state, bridge and ports never touch a developer's cluster (which
    # must be down meanwhile: only one local-cluster can run on a machine, see claim_machine).
    return LocalClusterSettings(
        state_dir=state_dir,
        node_name="lc-test",
        bridge="lctest0",
        pod_cidr="10.89.0.0/16",
        service_cidr="10.97.0.0/16",
        etcd_port=12379,
        etcd_peer_port=12380,
        etcd_metrics_port=12381,
        apiserver_port=16443,
        controller_manager_port=20257,
        scheduler_port=20259,
        kubelet_port=20250,
        kubelet_healthz_port=20248,
        proxy_healthz_port=20256,
        proxy_metrics_port=20249,
        registry_port=15000,
        start_timeout_s=300,
    )


@pytest.fixture(scope="session")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterClient]:
    if os.uname().sysname != "Linux":
        _unavailable("needs Linux")
    if os.geteuid() != 0:
        _unavailable("needs root (network, mounts, iptables, cgroups)")
    try:
        subprocess.run(["go", "version"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        _unavailable("needs Go to build the cluster's binaries")
    state = tmp_path_factory.mktemp("local-cluster")
    # Tied to this pytest process: even a killed session leaves no cluster behind.
    cluster = LocalCluster(_test_settings(state), stop_with_parent=True)
    try:
        report = cluster.up()
    except LocalClusterError as error:
        cluster.down()
        _unavailable(str(error))
    try:
        yield ClusterClient(cluster, report)
    finally:
        cluster.down()
        # Images, etcd and volumes: most of a GiB per session, of no use to the next one.
        shutil.rmtree(state, ignore_errors=True)
