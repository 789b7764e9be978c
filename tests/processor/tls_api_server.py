"""A stand-in for the Kubernetes API server's transport: HTTPS on 127.0.0.1 with a CA of its
own, answering scripted JSON replies and recording each request (method, path, bearer)."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def certificate(folder: Path, name: str) -> tuple[Path, Path]:
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


# `python -c SUBMITTER_ENTRY <server url> <account dir> <args>`: the submitter's entry as its pod
# runs it, with the API client pointed at a server of this module.
SUBMITTER_ENTRY = """
import sys
from pathlib import Path
from finnhub_processor import k8s_submit
from finnhub_processor.k8s_api import InClusterApi
api = InClusterApi(server=sys.argv[1], account_dir=Path(sys.argv[2]), timeout_s=10.0)
sys.exit(k8s_submit.main(sys.argv[3:], api=api))
"""

# How a server answers one request (method, path, body): status and JSON reply.
Answer = Callable[[str, str, bytes], tuple[int, dict[str, Any]]]


@dataclass
class FakeApiServer:
    """Answers from `replies` in order (200 {} once they run out), or with `answer` if set."""

    url: str
    replies: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    answer: Answer | None = None


@contextmanager
def serving(tmp_path: Path) -> Iterator[FakeApiServer]:
    cert, key = certificate(tmp_path, "server")
    fake = FakeApiServer(url="")

    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as the Kubernetes clients (fabric8's in spark-submit) expect.
        protocol_version = "HTTP/1.1"

        def answer(self) -> None:
            fake.seen.append((self.command, self.path, self.headers.get("Authorization")))
            length = int(self.headers.get("Content-Length") or 0)
            request = self.rfile.read(length) if length else b""
            fake.bodies.append(request)
            if fake.answer is not None:
                status, body = fake.answer(self.command, self.path, request)
            else:
                status, body = fake.replies.pop(0) if fake.replies else (200, {})
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_DELETE = do_POST = do_PATCH = do_PUT = answer

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
    # As the kubelet writes it: no newline (spark-submit sends the file verbatim).
    (tmp_path / "account" / "token").write_text("token-one")
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()
