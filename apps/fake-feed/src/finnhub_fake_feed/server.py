"""The fake Finnhub server: the websocket I/O on its own event loop in a background thread.

Speaks the same protocol: `?token=` on the URL, `{"type":"subscribe"|"unsubscribe","symbol":S}`,
trade frames `{"type":"trade","data":[...]}` only for subscribed symbols (several trades and
symbols per frame, as Finnhub batches them), `{"type":"ping"}` every few seconds and
`{"type":"error","msg":...}` for a symbol it does not list. Faults on demand: drop every
connection, send garbage, stall. Every frame sent is recorded, so a test can compare what
arrived in Kafka with exactly what went out. On the same port, plain HTTP `GET /healthz` and
`GET /sent` (see `http_endpoints`) answer a probe or a test that cannot reach into the process.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from finnhub_fake_feed import http_endpoints
from finnhub_fake_feed.faults import GARBAGE_SAMPLES
from finnhub_fake_feed.record import SentFrame, SentTradeLog
from finnhub_fake_feed.trades import DEFAULT_KNOWN_SYMBOLS, TradeGenerator, symbol_rates

log = structlog.get_logger("finnhub_fake_feed.server")

# What `/sent` keeps unless told otherwise: at the in-cluster default of 5 trades/s over 4
# symbols, the last ~40 minutes.
DEFAULT_KEEP_TRADES = 50_000


@dataclass(slots=True)
class _Client:
    connection_id: int
    connection: ServerConnection
    symbols: set[str] = field(default_factory=set)
    subscribed_at: float | None = None
    preloaded: bool = False
    dropped: bool = False
    trades_sent: int = 0
    connected_at: float = field(default_factory=time.monotonic)


class FakeFinnhub:
    """The fake server on its own event loop in a background thread.

    Use as a context manager, or `start()` / `stop()`. `rate` is trades per second per
    subscribed symbol and connection, on average over a connection's symbols when
    `rate_shares` spreads it unevenly (see `symbol_rates`); `preload_frames` are sent verbatim,
    as fast as possible, to each connection right after it subscribed (for throughput
    benchmarks, which need the same frames on every path they compare).

    `record` keeps every frame for `sent_frames()` (unbounded: for tests); `keep_trades` bounds
    the compact trade log `/sent` serves whatever `record` says. `summary_interval_s` logs a
    `fake_feed_summary` event that often (None: never).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        rate: float = 5.0,
        rate_shares: Mapping[str, float] | None = None,
        burst: int = 5,
        ping_interval_s: float = 5.0,
        required_token: str | None = None,
        known_symbols: Iterable[str] = DEFAULT_KNOWN_SYMBOLS,
        seed: int | None = None,
        tick_s: float = 0.02,
        preload_frames: Sequence[str] = (),
        record: bool = True,
        keep_trades: int = DEFAULT_KEEP_TRADES,
        summary_interval_s: float | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.rate = rate
        self.rate_shares = dict(rate_shares) if rate_shares is not None else None
        self.burst = burst
        self.ping_interval_s = ping_interval_s
        self.required_token = required_token
        self.known_symbols = frozenset(known_symbols)
        self.tick_s = tick_s
        self.preload_frames = tuple(preload_frames)
        self.record = record
        self.summary_interval_s = summary_interval_s
        self._trade_log = SentTradeLog(keep_trades)
        self._serving = False
        self._generator = TradeGenerator(random.Random(seed))
        self._lock = threading.Lock()
        self._sent: list[SentFrame] = []
        self._received: list[tuple[int, str | bytes]] = []
        self._clients: dict[int, _Client] = {}
        self._connection_ids = itertools.count(1)
        self._connections_total = 0
        self._paused = False
        self._stalled_until = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._emitting: asyncio.Lock | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> FakeFinnhub:
        self._thread = threading.Thread(target=self._run_loop, name="fake-finnhub", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError(f"fake Finnhub did not start listening within {timeout_s}s")
        if self._startup_error is not None:
            raise RuntimeError(f"fake Finnhub failed to start: {self._startup_error}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeFinnhub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    # -- faults ----------------------------------------------------------------------------

    def drop_connections(self) -> int:
        """Cut every connection without a close handshake, as a network failure would.

        What was already sent is still delivered (the socket is closed, not reset), so the
        record of sent trades stays exact. Returns how many connections were cut.
        """
        return self._call(self._drop_all())

    def send_garbage(self, payloads: Sequence[str | bytes] = GARBAGE_SAMPLES) -> None:
        """Send these frames (str as text, bytes as binary) to every connection."""
        self._call(self._broadcast(payloads, "garbage"))

    def send_raw(self, payload: str | bytes, kind: str = "unknown") -> None:
        self._call(self._broadcast([payload], kind))

    def stall(self, seconds: float) -> None:
        """Keep connections open but send nothing, not even pings, for `seconds`."""
        with self._lock:
            self._stalled_until = time.monotonic() + seconds

    def pause(self) -> None:
        """Stop emitting trades (pings go on) until `resume()`."""
        with self._lock:
            self._paused = True
        # Returns only once a tick in progress has finished, so `sent_trades()` is final.
        self._call(self._emission_idle())

    def resume(self) -> None:
        with self._lock:
            self._paused = False

    # -- what happened ---------------------------------------------------------------------

    def sent_frames(self) -> list[SentFrame]:
        with self._lock:
            return list(self._sent)

    def sent_trades(self) -> list[dict[str, Any]]:
        with self._lock:
            return [trade for frame in self._sent for trade in frame.trades]

    def sent_report(self) -> dict[str, Any]:
        """What `GET /sent` answers: the last `keep_trades` trades sent and the total count."""
        with self._lock:
            return self._trade_log.report()

    def received_messages(self) -> list[tuple[int, str | bytes]]:
        """What clients sent: (connection id, message)."""
        with self._lock:
            return list(self._received)

    @property
    def connections_total(self) -> int:
        return self._connections_total

    def subscriptions(self) -> dict[int, frozenset[str]]:
        with self._lock:
            return {cid: frozenset(c.symbols) for cid, c in self._clients.items()}

    def wait_until_subscribed(
        self, symbols: Iterable[str], timeout_s: float = 10.0, after_connection: int = 0
    ) -> int:
        """Block until one connection newer than `after_connection` holds all `symbols`."""
        wanted = set(symbols)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for cid, held in self.subscriptions().items():
                if cid > after_connection and wanted <= held:
                    return cid
            time.sleep(0.01)
        raise TimeoutError(f"no connection subscribed to {sorted(wanted)} within {timeout_s}s")

    # -- the server ------------------------------------------------------------------------

    def _call(self, coroutine: Any) -> Any:
        if self._loop is None:
            raise RuntimeError("fake Finnhub is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    def _run_loop(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start() instead of dying silently
            self._startup_error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._emitting = asyncio.Lock()
        async with serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            # Finnhub's trade frames are small; this bounds what a test client can make us hold.
            max_size=2**20,
        ) as server:
            self.port = _bound_port(server)
            self._serving = True
            log.info("fake_feed_listening", host=self.host, port=self.port, rate=self.rate)
            self._ready.set()
            tasks = [
                asyncio.create_task(self._tick_forever()),
                asyncio.create_task(self._ping_forever()),
            ]
            if self.summary_interval_s is not None:
                tasks.append(asyncio.create_task(self._summarize_forever(self.summary_interval_s)))
            await self._stopped.wait()
            self._serving = False
            for task in tasks:
                task.cancel()
            server.close()
        log.info("fake_feed_stopped", **self._summary())

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Plain HTTP for the endpoints; otherwise the token check, then the websocket handshake."""
        if http_endpoints.is_http_endpoint(request.path):
            answer = http_endpoints.answer(request.path, self._serving, self.sent_report)
            response = connection.respond(answer.status, answer.body)
            # websockets' Headers holds every value set; assigning would add a second one.
            del response.headers["Content-Type"]
            response.headers["Content-Type"] = answer.content_type
            return response
        # The token stays in here: nothing about it but whether it matched is ever logged.
        token = parse_qs(urlsplit(request.path).query).get("token", [None])[0]
        if self.required_token is not None and token != self.required_token:
            log.warning("fake_feed_client_rejected", remote=_remote(connection), reason="token")
            return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid token\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        client = _Client(next(self._connection_ids), connection)
        with self._lock:
            self._clients[client.connection_id] = client
            self._connections_total += 1
        log.info(
            "fake_feed_client_connected",
            connection_id=client.connection_id,
            remote=_remote(connection),
        )
        # The iterator ends quietly on a close handshake and raises when the connection is lost.
        reason = "closed"
        try:
            async for message in connection:
                with self._lock:
                    self._received.append((client.connection_id, message))
                await self._on_client_message(client, message)
        except ConnectionClosed:
            reason = "lost"
        finally:
            with self._lock:
                self._clients.pop(client.connection_id, None)
            log.info(
                "fake_feed_client_disconnected",
                connection_id=client.connection_id,
                reason="dropped on request" if client.dropped else reason,
                close_code=None if connection.close_code is None else int(connection.close_code),
                trades_sent=client.trades_sent,
                connected_s=round(time.monotonic() - client.connected_at, 3),
            )

    async def _on_client_message(self, client: _Client, message: str | bytes) -> None:
        try:
            request = json.loads(message)
            kind, symbol = request["type"], request["symbol"]
        except (ValueError, KeyError, TypeError):
            await self._send(client, json.dumps({"type": "error", "msg": "Bad request"}), "error")
            return
        if kind == "subscribe":
            if symbol not in self.known_symbols:
                error = json.dumps({"type": "error", "msg": f"Invalid symbol {symbol}"})
                await self._send(client, error, "error")
                return
            with self._lock:
                client.symbols.add(symbol)
                client.subscribed_at = client.subscribed_at or time.monotonic()
        elif kind == "unsubscribe":
            with self._lock:
                client.symbols.discard(symbol)

    async def _send(
        self,
        client: _Client,
        raw: str | bytes,
        kind: str,
        trades: tuple[dict[str, Any], ...] = (),
    ) -> bool:
        # A cut transport silently swallows writes until websockets notices the loss, so a frame
        # "sent" after the cut would be recorded yet never arrive. The flag is checked in the same
        # event-loop step as the write (send does not suspend before writing), so it is exact.
        if client.dropped:
            return False
        try:
            await client.connection.send(raw)
        except ConnectionClosed:
            return False
        # Recorded only once handed to the socket: a frame for a closed connection was not sent.
        client.trades_sent += len(trades)
        with self._lock:
            self._trade_log.add(trades)
            if self.record:
                self._sent.append(SentFrame(client.connection_id, kind, raw, trades))
        return True

    async def _broadcast(self, payloads: Sequence[str | bytes], kind: str) -> None:
        for client in list(self._clients.values()):
            for payload in payloads:
                await self._send(client, payload, kind)

    async def _emission_idle(self) -> None:
        assert self._emitting is not None
        async with self._emitting:
            pass

    async def _drop_all(self) -> int:
        clients = list(self._clients.values())
        for client in clients:
            client.dropped = True
            client.connection.transport.close()
        return len(clients)

    def _quiet(self) -> bool:
        return time.monotonic() < self._stalled_until

    async def _ping_forever(self) -> None:
        ping = json.dumps({"type": "ping"})
        while True:
            await asyncio.sleep(self.ping_interval_s)
            if not self._quiet():
                for client in list(self._clients.values()):
                    await self._send(client, ping, "ping")

    def _summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "connections_open": len(self._clients),
                "connections_total": self._connections_total,
                "trades_sent_total": self._trade_log.total,
            }

    async def _summarize_forever(self, interval_s: float) -> None:
        last_total = 0
        while True:
            await asyncio.sleep(interval_s)
            summary = self._summary()
            total = summary["trades_sent_total"]
            log.info(
                "fake_feed_summary",
                **summary,
                trades_sent_interval=total - last_total,
                interval_s=interval_s,
            )
            last_total = total

    async def _tick_forever(self) -> None:
        owed: dict[tuple[int, str], float] = {}
        while True:
            await asyncio.sleep(self.tick_s)
            if self._quiet() or self._paused:
                continue
            assert self._emitting is not None
            async with self._emitting:
                await self._tick(owed)

    async def _tick(self, owed: dict[tuple[int, str], float]) -> None:
        now_ms = int(time.time() * 1000)
        for client in list(self._clients.values()):
            with self._lock:
                symbols = sorted(client.symbols)
            if not symbols:
                continue
            if self.preload_frames and not client.preloaded:
                # Subscriptions arrive one message each; give them a moment to all land.
                if time.monotonic() - (client.subscribed_at or 0) < 0.2:
                    continue
                client.preloaded = True
                for raw in self.preload_frames:
                    if not await self._send(client, raw, "preload"):
                        break
                continue
            trades: list[dict[str, Any]] = []
            for symbol, rate in symbol_rates(symbols, self.rate, self.rate_shares).items():
                key = (client.connection_id, symbol)
                owed[key] = owed.get(key, 0.0) + rate * self.tick_s
                count = int(owed[key])
                owed[key] -= count
                trades.extend(self._generator.trade(symbol, now_ms) for _ in range(count))
            await self._emit(client, trades)

    async def _emit(self, client: _Client, trades: list[dict[str, Any]]) -> None:
        frames = self._generator.frames(trades, self.burst)
        encoded = [json.dumps({"data": data, "type": "trade"}) for data in frames]
        for data, raw in zip(frames, encoded, strict=True):
            if self._paused:
                return
            if not await self._send(client, raw, "trade", tuple(data)):
                return


def _remote(connection: ServerConnection) -> str:
    address = connection.remote_address
    return f"{address[0]}:{address[1]}" if address else "unknown"


def _bound_port(server: Server) -> int:
    for sock in server.sockets:
        return sock.getsockname()[1]
    raise RuntimeError("fake Finnhub has no listening socket")
