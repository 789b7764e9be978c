"""One local-cluster per machine: kube-proxy's iptables chains are machine-wide, so a second
cluster's `up` is refused while the first runs (two at once killed each other's Services)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from local_cluster.cluster import claim_machine, release_machine, running_cluster
from local_cluster.errors import LocalClusterError


def _fake_component(state: Path) -> subprocess.Popen[bytes]:
    """A process whose command line names `state`, with its pid file where `up` writes one."""
    (state / "pids").mkdir(parents=True)
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", str(state / "config")]
    )
    (state / "pids" / "etcd.pid").write_text(f"{process.pid}\n")
    # Until the child has exec'd, its /proc cmdline is the parent's (pytest's), which names no
    # state dir: a busy machine once ran the claim check in that gap.
    cmdline = Path(f"/proc/{process.pid}/cmdline")
    deadline = time.monotonic() + 10
    while str(state) not in cmdline.read_bytes().decode(errors="replace"):
        assert time.monotonic() < deadline, "the fake component never started"
        time.sleep(0.01)
    return process


def test_a_second_cluster_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    active = tmp_path / "run" / "active"
    first, second = tmp_path / "first", tmp_path / "second"
    component = _fake_component(first)
    try:
        claim_machine(first, active)
        assert running_cluster(second, active) == first
        with pytest.raises(LocalClusterError, match=f"state dir {first}.*local-cluster down"):
            claim_machine(second, active)
        claim_machine(first, active)  # the same cluster's `up` again is fine
    finally:
        component.kill()
        component.wait()
    # Once its processes are gone (even without a `down`), the machine is free.
    claim_machine(second, active)
    assert active.read_text().strip() == str(second)


def test_down_releases_only_its_own_claim(tmp_path: Path) -> None:
    active = tmp_path / "active"
    claim_machine(tmp_path / "mine", active)
    release_machine(tmp_path / "other", active)
    assert active.is_file()
    release_machine(tmp_path / "mine", active)
    assert not active.exists()
