"""The few Kubernetes API calls the submitter makes, as its pod's service account.

Standard library only (urllib, ssl): the token and the cluster CA are the ones Kubernetes
mounts into every pod with a service account, and the API server is the cluster's own
`kubernetes.default.svc`. The token is read for every request, because the kubelet rotates it.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
API_SERVER = "https://kubernetes.default.svc"


class ApiError(Exception):
    """A failed API call: what was asked and what the server (or the network) answered."""


@dataclass(frozen=True)
class InClusterApi:
    server: str = API_SERVER
    account_dir: Path = SERVICE_ACCOUNT_DIR
    timeout_s: float = 10.0

    @property
    def ca_file(self) -> Path:
        return self.account_dir / "ca.crt"

    @property
    def token_file(self) -> Path:
        return self.account_dir / "token"

    def list_pods(self, namespace: str, label_selector: str) -> dict[str, Any]:
        query = urllib.parse.urlencode({"labelSelector": label_selector})
        return self._call("GET", f"/api/v1/namespaces/{namespace}/pods?{query}")

    def delete_pod(self, namespace: str, name: str) -> None:
        """Deletes the pod; one already gone is what was asked for."""
        try:
            self._call("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}")
        except ApiError as error:
            if "HTTP 404" not in str(error):
                raise

    def _call(self, method: str, path: str) -> dict[str, Any]:
        try:
            token = self.token_file.read_text().strip()
            context = ssl.create_default_context(cafile=str(self.ca_file))
        except (OSError, ssl.SSLError) as error:
            raise ApiError(f"service account files in {self.account_dir}: {error}") from None
        request = urllib.request.Request(
            self.server + path,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s, context=context) as reply:
                return json.loads(reply.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise ApiError(f"{method} {path}: HTTP {error.code} {status_message(error)}") from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise ApiError(f"{method} {path}: {error}") from None


def status_message(error: urllib.error.HTTPError) -> str:
    """The message of the API's `Status` reply (e.g. which RBAC verb is missing)."""
    try:
        status = json.loads(error.read() or b"{}")
    except ValueError:
        return str(error.reason)
    return str(status.get("message") or error.reason)
