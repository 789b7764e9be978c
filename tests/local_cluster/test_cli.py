"""The `local-cluster` command: exit codes and one-line messages a person or a script can act on."""

from __future__ import annotations

from pathlib import Path

import pytest
from local_cluster import packages
from local_cluster.cli import main


@pytest.fixture(autouse=True)
def empty_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("LOCAL_CLUSTER_STATE_DIR", str(tmp_path))
    return tmp_path


def test_a_bad_setting_is_one_line_naming_the_variable(monkeypatch, capsys) -> None:
    monkeypatch.setenv("LOCAL_CLUSTER_POD_CIDR", "bogus")
    assert main(["status"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("local-cluster: LOCAL_CLUSTER_POD_CIDR:")
    assert "\n" not in err and "Traceback" not in err


def test_status_of_a_stopped_cluster_says_nothing_answers_and_exits_3(capsys) -> None:
    assert main(["status"]) == 3
    out = capsys.readouterr().out
    assert "kube-apiserver" in out and "kubelet" in out
    assert "yes" not in out


def test_kubeconfig_before_up_says_to_run_up(capsys, empty_state) -> None:
    assert main(["kubeconfig"]) == 1
    assert "run `local-cluster up` first" in capsys.readouterr().err


def test_up_without_root_is_refused_before_anything_starts(monkeypatch, capsys) -> None:
    monkeypatch.setattr(packages.os, "geteuid", lambda: 1000)
    assert main(["up"]) == 1
    assert "needs root" in capsys.readouterr().err


def test_logs_of_a_component_never_started_points_at_the_missing_file(capsys, empty_state) -> None:
    assert main(["logs", "etcd"]) == 0
    assert f"no log at {empty_state}" in capsys.readouterr().out
