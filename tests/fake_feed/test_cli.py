"""The feed as a process: where it listens, how it refuses bad flags, what it logs."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import websocket
from finnhub_fake_feed.settings import SettingsError, parse_settings

TOKEN = "s3cret-finnhub-token"


@contextmanager
def feed(*flags: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The feed on a free port; yields the process and its `ws://` URL. Stopped on exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "finnhub_fake_feed", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("fake Finnhub listening on ws://"), line
        yield process, line.rsplit(" ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(10)


def _events(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def _fails_with_one_line(*flags: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "finnhub_fake_feed", *flags],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_host_flag_chooses_the_address_it_listens_on() -> None:
    with feed("--host", "127.0.0.2") as (_, url):
        assert url.startswith("ws://127.0.0.2:")
        port = int(url.rsplit(":", 1)[1])
        with urllib.request.urlopen(f"http://127.0.0.2:{port}/healthz", timeout=5) as response:
            assert response.status == 200
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_listens_on_loopback_by_default() -> None:
    with feed() as (_, url):
        assert url.startswith("ws://127.0.0.1:")


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (("--port", "70000"), "--port"),
        (("--port", "eighty"), "--port"),
        (("--host", "localhost"), "--host"),
        (("--rate", "-1"), "--rate"),
        (("--rate", "nan"), "--rate"),
        (("--keep-trades", "-5"), "--keep-trades"),
        (("--summary-interval", "0"), "--summary-interval"),
        (("--burst", "0"), "--burst"),
    ],
)
def test_bad_flag_fails_in_one_line_naming_it(flags: tuple[str, ...], named: str) -> None:
    line = _fails_with_one_line(*flags)
    assert line.startswith("finnhub-fake-feed: ")
    assert named in line


def test_settings_carry_the_checked_values() -> None:
    settings = parse_settings(["--host", "0.0.0.0", "--port", "8765", "--symbols", "AAPL,X:Y"])
    assert (settings.host, settings.port) == ("0.0.0.0", 8765)
    assert settings.known_symbols.count("AAPL") == 1
    assert "X:Y" in settings.known_symbols


def test_a_host_name_is_refused_rather_than_resolved() -> None:
    with pytest.raises(SettingsError, match="--host must be an IP address"):
        parse_settings(["--host", "example.invalid"])


def test_logs_start_connections_and_summaries_as_json_without_the_token() -> None:
    with feed("--rate", "50", "--summary-interval", "0.3") as (process, url):
        ws = websocket.create_connection(f"{url}/?token={TOKEN}", timeout=5)
        ws.send(json.dumps({"type": "subscribe", "symbol": "BINANCE:BTCUSDT"}))
        time.sleep(0.8)
        ws.close()
        time.sleep(0.5)
    stderr = process.stderr.read() if process.stderr else ""
    assert TOKEN not in stderr
    events = _events(stderr)
    by_name = {event["event"]: event for event in events}
    started = by_name["fake_feed_listening"]
    port = int(url.rsplit(":", 1)[1])
    assert (started["host"], started["port"], started["rate"]) == ("127.0.0.1", port, 50.0)
    assert by_name["fake_feed_client_connected"]["connection_id"] == 1
    gone = by_name["fake_feed_client_disconnected"]
    assert gone["reason"] == "closed" and gone["trades_sent"] > 0
    summaries = [event for event in events if event["event"] == "fake_feed_summary"]
    assert summaries and max(s["trades_sent_total"] for s in summaries) > 0
    assert all(event["level"] and event["timestamp"] for event in events)


def test_console_script_is_installed_under_its_name() -> None:
    script = shutil.which("finnhub-fake-feed", path=str(Path(sys.executable).parent))
    assert script is not None
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "--host" in result.stdout
