"""`finnhub-live` with its output piped: plain status lines, read from the real Cassandra."""

import os
import queue
import subprocess
import sys
import threading
import time
import uuid

import pytest

pytestmark = pytest.mark.services


def test_live_view_prints_plain_status_lines_when_output_is_not_a_terminal(local_stack) -> None:
    symbol = f"TEST:{uuid.uuid4().hex[:8]}:PIPED"
    env = {
        **os.environ,
        "CASSANDRA_HOSTS": local_stack.cassandra_host,
        "CASSANDRA_PORT": str(local_stack.cassandra_port),
        "FINNHUB_SYMBOLS": symbol,
    }
    # rich would take these as "this is a terminal after all".
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "finnhub_dashboards.live", "--plain-every", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout])
    reader.start()
    received: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while len(received) < 2 and time.monotonic() < deadline:
            try:
                received.append(lines.get(timeout=1))
            except queue.Empty:
                assert process.poll() is None, "finnhub-live exited"
    finally:
        process.terminate()
        process.wait(10)
        reader.join(10)
    assert len(received) == 2, received
    assert all(f"{symbol} no trades: price -" in line for line in received)
