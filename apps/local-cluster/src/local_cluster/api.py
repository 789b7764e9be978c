"""A minimal Kubernetes API client over mutual TLS (standard library only).

Enough for readiness checks and the hostPath provisioner; `kubectl` (built with the cluster)
does everything else.
"""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


@dataclass(frozen=True)
class ApiClient:
    server: str
    ca: Path
    cert: Path
    key: Path
    timeout_s: float = 10.0

    def _connection(self) -> http.client.HTTPSConnection:
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(str(self.cert), str(self.key))
        parts = urlsplit(self.server)
        return http.client.HTTPSConnection(
            parts.hostname or "", parts.port or 443, context=context, timeout=self.timeout_s
        )

    def request(self, method: str, path: str, body: Any = None, content_type: str = "") -> Any:
        connection = self._connection()
        try:
            payload = None if body is None else json.dumps(body).encode()
            headers = {"Accept": "application/json"}
            if payload is not None:
                headers["Content-Type"] = content_type or "application/json"
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        if response.status >= 400:
            raise ApiError(response.status, data.decode(errors="replace")[:500])
        return json.loads(data) if data and data[:1] in (b"{", b"[") else data.decode()

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)
