"""`finnhub-fake-feed` / `python -m finnhub_fake_feed`: the feed as a process.

Prints `fake Finnhub listening on ws://HOST:PORT` on stdout once it serves (`make run` waits for
that line to learn a port 0 choice); everything else is structured events on stderr.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Sequence

from finnhub_logs import configure_logging

from finnhub_fake_feed.server import FakeFinnhub
from finnhub_fake_feed.settings import PROG, FeedSettings, SettingsError, parse_settings
from finnhub_fake_feed.trades import REALISTIC_RATE_SHARES


def build_server(settings: FeedSettings) -> FakeFinnhub:
    return FakeFinnhub(
        host=settings.host,
        port=settings.port,
        rate=settings.rate,
        rate_shares=REALISTIC_RATE_SHARES if settings.realistic_spread else None,
        burst=settings.burst,
        ping_interval_s=settings.ping_interval_s,
        known_symbols=settings.known_symbols,
        seed=settings.seed,
        # A long-running server must not remember every frame it ever sent; `/sent` keeps a
        # bounded log of trades instead.
        record=False,
        keep_trades=settings.keep_trades,
        summary_interval_s=settings.summary_interval_s,
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = parse_settings(argv)
    except SettingsError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    configure_logging()
    server = build_server(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(
        signal.SIGUSR1, lambda *_: threading.Thread(target=server.drop_connections).start()
    )
    signal.signal(signal.SIGUSR2, lambda *_: threading.Thread(target=server.send_garbage).start())
    try:
        server.start()
    except RuntimeError as error:
        print(f"{PROG}: cannot serve on {settings.host}:{settings.port}: {error}", file=sys.stderr)
        return 1
    print(f"fake Finnhub listening on {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        while not stop.wait(0.5):
            pass
    server.stop()
    return 0
