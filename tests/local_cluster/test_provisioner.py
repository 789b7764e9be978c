"""The hostPath provisioner's decisions: which claims get a volume, which volumes go."""

from __future__ import annotations

from pathlib import Path

from local_cluster.provisioner import (
    PROVISIONER_NAME,
    claims_to_provision,
    make_volume_dir,
    volume_for,
    volumes_to_delete,
)


def _claim(
    name: str, storage_class: str = "local-hostpath", phase: str = "Pending", **spec
) -> dict:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"},
        "spec": {
            "storageClassName": storage_class,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            **spec,
        },
        "status": {"phase": phase},
    }


def test_only_pending_unbound_claims_of_our_class_are_provisioned() -> None:
    claims = [
        _claim("mine"),
        _claim("other-class", storage_class="gp3"),
        _claim("bound", phase="Bound"),
        _claim("has-volume", volumeName="pv-x"),
    ]
    assert [c["metadata"]["name"] for c in claims_to_provision(claims, {"local-hostpath"})] == [
        "mine"
    ]


def test_a_volume_is_pre_bound_to_its_claim_under_the_volumes_dir() -> None:
    volume = volume_for(_claim("data"), Path("/state/volumes"))
    assert volume["spec"]["claimRef"]["uid"] == "uid-data"
    assert volume["spec"]["hostPath"]["path"] == "/state/volumes/pvc-uid-data"
    assert volume["spec"]["capacity"] == {"storage": "1Gi"}
    assert volume["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == PROVISIONER_NAME


def test_only_our_released_volumes_are_deleted() -> None:
    ours = volume_for(_claim("a"), Path("/v")) | {"status": {"phase": "Released"}}
    bound = volume_for(_claim("b"), Path("/v")) | {"status": {"phase": "Bound"}}
    foreign = {
        "metadata": {"name": "x"},
        "spec": {"persistentVolumeReclaimPolicy": "Delete"},
        "status": {"phase": "Released"},
    }
    assert volumes_to_delete([ours, bound, foreign]) == [ours]


def test_a_volume_dir_is_writable_by_the_non_root_pods_that_claim_it(tmp_path: Path) -> None:
    # The kubelet applies no fsGroup to hostPath volumes: Kafka (uid 1000) failed to format its
    # claim with AccessDenied on the first real `pulumi up` until the directory was 0777.
    path = tmp_path / "volumes" / "pvc-1"
    make_volume_dir(path)
    assert path.is_dir()
    assert path.stat().st_mode & 0o777 == 0o777
