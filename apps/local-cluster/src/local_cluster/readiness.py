"""Waiting for a component to answer: a check polled until it passes, never a fixed sleep."""

from __future__ import annotations

import socket
import ssl
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from background_processes.log_files import log_tail

from local_cluster.errors import ComponentStartError


def wait_until(
    check: Callable[[], bool],
    component: str,
    address: str,
    log_file: Path,
    timeout_s: float,
    alive: Callable[[], bool] = lambda: True,
) -> float:
    """Polls check until it is true; returns seconds waited. Fails fast if the process died."""
    started = time.monotonic()
    delay = 0.05
    while True:
        try:
            if check():
                return time.monotonic() - started
        except OSError:
            pass
        if not alive():
            raise ComponentStartError(
                f"{component} ({address}) exited during start; last lines of {log_file}:\n"
                f"{log_tail(log_file)}"
            )
        if time.monotonic() - started > timeout_s:
            raise ComponentStartError(
                f"{component} did not answer at {address} within {timeout_s:.0f} s; "
                f"last lines of {log_file}:\n{log_tail(log_file)}"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)


def http_ok(url: str, context: ssl.SSLContext | None = None, expect: str | None = None) -> bool:
    with urllib.request.urlopen(url, timeout=5, context=context) as response:
        body = response.read().decode(errors="replace")
        return response.status == 200 and (expect is None or expect in body)


def unverified_tls() -> ssl.SSLContext:
    """For loopback health endpoints served with a component's self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def client_tls(ca: Path, cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(cert), str(key))
    return context


def unix_socket_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        sock.connect(str(path))
        return True
