"""The submitter's API client over real TLS: a local HTTPS server on 127.0.0.1 with its own CA
stands in for the API server's transport (token, CA, Status replies), not for Kubernetes."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from finnhub_processor.k8s_api import ApiError, InClusterApi


def certificate(folder: Path, name: str) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("openssl is needed to make the test server's certificate")
        pytest.skip("openssl is needed to make the test server's certificate")
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
    extension = "subjectAltName=IP:127.0.0.1"
    subprocess.run(
        [*command.split(), "-addext", extension, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@dataclass
class FakeServer:
    url: str
    replies: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FakeServer]:
    cert, key = certificate(tmp_path, "server")
    fake = FakeServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            fake.seen.append((self.command, self.path, self.headers.get("Authorization")))
            status, body = fake.replies.pop(0) if fake.replies else (200, {})
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_DELETE = answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    fake.url = f"https://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    (tmp_path / "account").mkdir()
    shutil.copy(cert, tmp_path / "account" / "ca.crt")
    (tmp_path / "account" / "token").write_text("token-one\n")
    yield fake
    httpd.shutdown()
    httpd.server_close()


def api_for(server: FakeServer, tmp_path: Path) -> InClusterApi:
    return InClusterApi(server=server.url, account_dir=tmp_path / "account", timeout_s=5.0)


def test_pods_are_listed_by_label_selector_with_the_accounts_token(
    server: FakeServer, tmp_path: Path
) -> None:
    server.replies.append((200, {"kind": "PodList", "items": [{"metadata": {"name": "d"}}]}))
    found = api_for(server, tmp_path).list_pods("finnhub", "a=b,spark-role=driver")
    assert found["items"][0]["metadata"]["name"] == "d"
    method, path, auth = server.seen[0]
    assert method == "GET"
    assert path == "/api/v1/namespaces/finnhub/pods?labelSelector=a%3Db%2Cspark-role%3Ddriver"
    assert auth == "Bearer token-one"


def test_a_rotated_token_is_used_from_the_next_request_on(
    server: FakeServer, tmp_path: Path
) -> None:
    api = api_for(server, tmp_path)
    api.list_pods("finnhub", "a=b")
    (tmp_path / "account" / "token").write_text("token-two")
    api.list_pods("finnhub", "a=b")
    assert [auth for _, _, auth in server.seen] == ["Bearer token-one", "Bearer token-two"]


def test_a_refusal_carries_the_api_servers_reason_and_not_the_token(
    server: FakeServer, tmp_path: Path
) -> None:
    message = 'pods is forbidden: User "system:serviceaccount:finnhub:x" cannot list pods'
    server.replies.append((403, {"kind": "Status", "message": message}))
    with pytest.raises(ApiError, match="HTTP 403") as error:
        api_for(server, tmp_path).list_pods("finnhub", "a=b")
    assert message in str(error.value)
    assert "token-one" not in str(error.value)


def test_deleting_a_pod_already_gone_is_no_error(server: FakeServer, tmp_path: Path) -> None:
    server.replies.append((404, {"kind": "Status", "message": 'pods "d" not found'}))
    api_for(server, tmp_path).delete_pod("finnhub", "d")
    assert server.seen[0][:2] == ("DELETE", "/api/v1/namespaces/finnhub/pods/d")


def test_a_server_the_cluster_ca_did_not_sign_is_refused(
    server: FakeServer, tmp_path: Path
) -> None:
    other, _ = certificate(tmp_path, "other")
    shutil.copy(other, tmp_path / "account" / "ca.crt")
    with pytest.raises(ApiError, match="CERTIFICATE_VERIFY_FAILED"):
        api_for(server, tmp_path).list_pods("finnhub", "a=b")
    assert server.seen == []


def test_missing_service_account_files_are_named(tmp_path: Path) -> None:
    api = InClusterApi(server="https://127.0.0.1:1", account_dir=tmp_path / "none")
    with pytest.raises(ApiError, match="service account files"):
        api.list_pods("finnhub", "a=b")
