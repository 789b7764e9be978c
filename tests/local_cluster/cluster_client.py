"""What the cluster tests do with a running cluster: apply objects, wait on them, read logs,
build and push images. Thin over `kubectl` and `docker`, both talking only to this cluster."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from local_cluster.cluster import LocalCluster, UpReport


@dataclass
class ClusterClient:
    cluster: LocalCluster
    first_up: UpReport

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        return self.cluster.kubectl(*args, stdin=stdin, check=check)

    def apply(self, *objects: dict[str, Any]) -> None:
        items = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
        self.kubectl("apply", "-f", "-", stdin=json.dumps(items))

    def wait(self, what: str, condition: str, namespace: str, timeout_s: int = 120) -> None:
        """`kubectl wait`, once the object exists: kubectl fails at once on one not made yet
        (a StatefulSet's pod right after its claim binds, or right after a delete)."""
        deadline = time.monotonic() + timeout_s
        while not self.kubectl("-n", namespace, "get", what, "--ignore-not-found", "-o", "name"):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{what} did not appear in namespace {namespace} in {timeout_s} s"
                )
            time.sleep(0.2)
        remaining = max(1, int(deadline - time.monotonic()))
        self.kubectl("-n", namespace, "wait", what, f"--for={condition}", f"--timeout={remaining}s")

    def namespace(self) -> str:
        """A fresh namespace, once its `default` ServiceAccount exists (pods need it)."""
        name = f"t-{uuid.uuid4().hex[:8]}"
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        deadline = time.monotonic() + 30
        while not self.kubectl(
            "-n", name, "get", "serviceaccount", "default", "--ignore-not-found", "-o", "name"
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no default ServiceAccount in namespace {name} after 30 s")
            time.sleep(0.2)
        return name

    def pod_logs(self, namespace: str, selector: str) -> str:
        return self.kubectl("-n", namespace, "logs", "-l", selector, "--tail=-1")

    def docker(self, *args: str) -> str:
        return self.cluster.image_builder().docker(*args)
