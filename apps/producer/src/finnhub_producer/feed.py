"""The websocket edge: connect, subscribe, read frames, reconnect with backoff until stopped."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import structlog
import websocket
from pydantic import SecretStr

from finnhub_producer.metrics import ProducerMetrics

log = structlog.get_logger("finnhub_producer.feed")

CONNECT_TIMEOUT_S = 10.0


def reconnect_delay(attempt: int, initial_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with 'equal jitter': between half and all of min(max, initial * 2^n).

    The jitter spreads many producers' reconnects after a Finnhub outage; the half that is kept
    stops a tight loop against an endpoint that refuses us.
    """
    ceiling = min(max_s, initial_s * 2 ** min(attempt, 32))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def url_with_token(url: str, token: SecretStr | None) -> str:
    """Finnhub takes the token as the `token` query parameter. Never log the result."""
    if token is None:
        return url
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("token", token.get_secret_value())]
    return urlunsplit(parts._replace(query=urlencode(query)))


def url_for_logs(url: str) -> str:
    """The endpoint without query or credentials, safe to log."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class FeedClient:
    """Reads Finnhub frames and hands each raw frame to `on_frame` on the calling thread.

    `on_idle` runs whenever the socket has been quiet for `read_timeout_s` (and between
    reconnects), so Kafka delivery reports keep being served while no trade arrives.
    """

    def __init__(
        self,
        url: str,
        token: SecretStr | None,
        symbols: Sequence[str],
        on_frame: Callable[[bytes], object],
        on_idle: Callable[[], None],
        metrics: ProducerMetrics,
        reconnect_initial_s: float,
        reconnect_max_s: float,
        stall_timeout_s: float,
        read_timeout_s: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        self._url = url
        self._token = token
        self._symbols = tuple(symbols)
        self._on_frame = on_frame
        self._on_idle = on_idle
        self._metrics = metrics
        self._reconnect_initial_s = reconnect_initial_s
        self._reconnect_max_s = reconnect_max_s
        self._stall_timeout_s = stall_timeout_s
        self._read_timeout_s = read_timeout_s
        self._rng = rng or random.Random()
        self._endpoint = url_for_logs(url)

    def run(self, stop: threading.Event) -> None:
        """Blocks until `stop` is set; connection problems are retried, never raised."""
        attempt = 0
        outage_started: float | None = None
        while not stop.is_set():
            self._metrics.heartbeat()
            try:
                ws = self._connect()
            except (OSError, websocket.WebSocketException) as exc:
                outage_started = outage_started or time.monotonic()
                error = _describe(exc)
                self._metrics.feed_state.set("reconnecting", f"connect failed: {error}")
                log.warning(
                    "feed_connect_failed",
                    endpoint=self._endpoint,
                    error=error,
                    attempt=attempt + 1,
                )
                attempt = self._wait_before_retry(stop, attempt)
                continue
            if outage_started is not None:
                log.info(
                    "feed_reconnected",
                    endpoint=self._endpoint,
                    outage_s=round(time.monotonic() - outage_started, 3),
                    attempts=attempt,
                )
            else:
                log.info("feed_connected", endpoint=self._endpoint, symbols=list(self._symbols))
            outage_started = None
            try:
                frames, reason = self._subscribe_and_read(ws, stop)
            finally:
                self._metrics.connected.set(0)
                ws.close(timeout=1)
            if stop.is_set():
                break
            outage_started = time.monotonic()
            self._metrics.feed_state.set("reconnecting", f"disconnected: {reason}")
            log.warning("feed_disconnected", endpoint=self._endpoint, reason=reason, frames=frames)
            # A connection that carried data was healthy: start the backoff over.
            if frames:
                attempt = 0
            attempt = self._wait_before_retry(stop, attempt)
        self._metrics.feed_state.set("stopped")

    def _connect(self) -> websocket.WebSocket:
        ws = websocket.create_connection(
            url_with_token(self._url, self._token),
            timeout=CONNECT_TIMEOUT_S,
            # Invalid UTF-8 is a bad frame for the dead letters, not a reason to hang up.
            skip_utf8_validation=True,
        )
        ws.settimeout(self._read_timeout_s)
        return ws

    def _subscribe_and_read(
        self, ws: websocket.WebSocket, stop: threading.Event
    ) -> tuple[int, str]:
        """Returns how many frames the connection carried and why it ended."""
        frames = 0
        try:
            for symbol in self._symbols:
                ws.send(json.dumps({"type": "subscribe", "symbol": symbol}))
        except (OSError, websocket.WebSocketException) as exc:
            return frames, f"subscribe failed: {_describe(exc)}"
        self._metrics.connected.set(1)
        self._metrics.feed_state.set("connected")
        last_frame_at = time.monotonic()
        heartbeat = self._metrics.heartbeat
        while not stop.is_set():
            heartbeat()
            try:
                opcode, data = ws.recv_data()
            except websocket.WebSocketTimeoutException:
                self._on_idle()
                if time.monotonic() - last_frame_at > self._stall_timeout_s:
                    return frames, f"stalled: no frame for {self._stall_timeout_s}s"
                continue
            except (OSError, websocket.WebSocketException) as exc:
                return frames, _describe(exc)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return frames, "closed by server"
            frames += 1
            last_frame_at = time.monotonic()
            self._on_frame(data)
        return frames, "stopped"

    def _wait_before_retry(self, stop: threading.Event, attempt: int) -> int:
        delay = reconnect_delay(
            attempt, self._reconnect_initial_s, self._reconnect_max_s, self._rng
        )
        self._metrics.reconnects.inc()
        log.info("feed_reconnect_scheduled", delay_s=round(delay, 3), attempt=attempt + 1)
        deadline = time.monotonic() + delay
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            self._on_idle()
            self._metrics.heartbeat()
            stop.wait(min(left, self._read_timeout_s))
        return attempt + 1


def _describe(exc: BaseException) -> str:
    """The error without anything that could echo the URL (and so the token) back."""
    if isinstance(exc, websocket.WebSocketBadStatusException):
        return f"HTTP {exc.status_code} on the websocket handshake"
    return f"{type(exc).__name__}: {exc}"
