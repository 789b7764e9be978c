"""The hostPath provisioner's decisions: which claims get a volume, which volumes go."""

from __future__ import annotations

from pathlib import Path

from local_cluster.provisioner import (
    PROVISIONER_NAME,
    claims_to_provision,
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
