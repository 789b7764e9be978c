"""The project's own dynamic volume provisioner: each claim of the default StorageClass gets a
directory under the state dir as a hostPath PersistentVolume. One node, so a host directory is
all a volume needs to be; released volumes of reclaim policy Delete lose their directory.

Runs as a host process beside the kubelet (`python -m local_cluster.provisioner`), because it
must create directories on the host; it talks to the API server with its own client
certificate, as the user its ClusterRole is bound to.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from local_cluster.api import ApiClient, ApiError

PROVISIONER_NAME = "finnhub-pipeline.local/hostpath"
STORAGE_CLASS = "local-hostpath"
_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"


def claims_to_provision(
    claims: list[dict[str, Any]], storage_classes: set[str]
) -> list[dict[str, Any]]:
    """Pending claims of our classes that no volume is bound to yet."""
    return [
        claim
        for claim in claims
        if claim.get("spec", {}).get("storageClassName") in storage_classes
        and not claim["spec"].get("volumeName")
        and claim.get("status", {}).get("phase") == "Pending"
        and not claim["metadata"].get("deletionTimestamp")
    ]


def volume_for(claim: dict[str, Any], volumes_dir: Path) -> dict[str, Any]:
    """The PersistentVolume that satisfies one claim, pre-bound to it."""
    meta, spec = claim["metadata"], claim["spec"]
    name = f"pvc-{meta['uid']}"
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {_PROVISIONED_BY: PROVISIONER_NAME}},
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": spec["storageClassName"],
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
            "hostPath": {"path": str(volumes_dir / name), "type": "DirectoryOrCreate"},
        },
    }


def volumes_to_delete(volumes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Our volumes whose claim is gone and whose policy says the data goes with it."""
    return [
        volume
        for volume in volumes
        if volume["metadata"].get("annotations", {}).get(_PROVISIONED_BY) == PROVISIONER_NAME
        and volume.get("status", {}).get("phase") in ("Released", "Failed")
        and volume["spec"].get("persistentVolumeReclaimPolicy") == "Delete"
    ]


def make_volume_dir(path: Path) -> None:
    """World-writable, as minikube's and the local-path provisioners make theirs: the kubelet
    applies a pod's fsGroup to no hostPath volume, so a non-root pod (Kafka uid 1000, Cassandra
    999, Spark 185) could not write its own claim otherwise."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)


def reconcile_once(api: ApiClient, volumes_dir: Path) -> None:
    classes = {
        item["metadata"]["name"]
        for item in api.get("/apis/storage.k8s.io/v1/storageclasses")["items"]
        if item.get("provisioner") == PROVISIONER_NAME
    }
    claims = api.get("/api/v1/persistentvolumeclaims")["items"]
    for claim in claims_to_provision(claims, classes):
        volume = volume_for(claim, volumes_dir)
        make_volume_dir(Path(volume["spec"]["hostPath"]["path"]))
        try:
            api.post("/api/v1/persistentvolumes", volume)
            print(
                f"provisioned {volume['metadata']['name']} for "
                f"{claim['metadata']['namespace']}/{claim['metadata']['name']}",
                flush=True,
            )
        except ApiError as error:
            if error.status != 409:  # already made on an earlier pass
                raise
    for volume in volumes_to_delete(api.get("/api/v1/persistentvolumes")["items"]):
        path = Path(volume["spec"]["hostPath"]["path"])
        if path.parent == volumes_dir:
            shutil.rmtree(path, ignore_errors=True)
        api.delete(f"/api/v1/persistentvolumes/{volume['metadata']['name']}")
        print(f"deleted {volume['metadata']['name']}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local-cluster-provisioner")
    parser.add_argument("--server", required=True)
    parser.add_argument("--pki", type=Path, required=True)
    parser.add_argument("--volumes", type=Path, required=True)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    api = ApiClient(
        args.server,
        args.pki / "ca.crt",
        args.pki / "hostpath-provisioner.crt",
        args.pki / "hostpath-provisioner.key",
    )
    args.volumes.mkdir(parents=True, exist_ok=True)
    ready = False
    while True:
        try:
            reconcile_once(api, args.volumes)
            if not ready:
                args.ready_file.write_text("ready\n")
                ready = True
        except (ApiError, OSError) as error:
            print(f"reconcile failed, retrying: {error}", file=sys.stderr, flush=True)
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
