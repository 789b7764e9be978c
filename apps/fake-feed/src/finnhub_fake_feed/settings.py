"""The feed process's settings: command-line flags -> one typed, checked `FeedSettings`.

Every error names its flag in one line (`SettingsError`), so a pod's log says what to fix.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from finnhub_fake_feed.server import DEFAULT_KEEP_TRADES
from finnhub_fake_feed.trades import DEFAULT_KNOWN_SYMBOLS

PROG = "finnhub-fake-feed"


class SettingsError(Exception):
    """A flag's value cannot be used; the message names the flag."""


@dataclass(frozen=True, slots=True)
class FeedSettings:
    host: str
    port: int
    rate: float
    realistic_spread: bool
    burst: int
    ping_interval_s: float
    seed: int | None
    known_symbols: tuple[str, ...]
    keep_trades: int
    summary_interval_s: float


class _Parser(argparse.ArgumentParser):
    # argparse's own errors (a non-number, an unknown flag) already name the flag; raising
    # keeps them to the same one line as ours instead of usage text on stderr.
    def error(self, message: str) -> NoReturn:
        raise SettingsError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="A fake of Finnhub's trade websocket, with GET /healthz and GET /sent on the "
        "same port. SIGUSR1 drops every connection, SIGUSR2 sends garbage frames; SIGINT/SIGTERM "
        "stop it.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="IP address to listen on (a pod passes 0.0.0.0 inside its own network namespace)",
    )
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument(
        "--rate", type=float, default=5.0, help="trades/s per symbol, on average over the symbols"
    )
    parser.add_argument(
        "--rate-spread",
        choices=("realistic", "uniform"),
        default="realistic",
        help="realistic: BTC busiest, DOGE quietest (same total); uniform: every symbol at --rate",
    )
    parser.add_argument("--burst", type=int, default=5, help="most trades in one frame")
    parser.add_argument("--ping-interval", type=float, default=5.0, help="seconds between pings")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--symbols", default="", help="comma-separated symbols to list besides the defaults"
    )
    parser.add_argument(
        "--keep-trades",
        type=int,
        default=DEFAULT_KEEP_TRADES,
        help="how many of the last trades GET /sent returns (~270 bytes each); 0 keeps none",
    )
    parser.add_argument(
        "--summary-interval", type=float, default=30.0, help="seconds between summary log lines"
    )
    return parser


def _positive(flag: str, value: float) -> float:
    if not (math.isfinite(value) and value > 0):
        raise SettingsError(f"{flag} must be a positive number, got {value}")
    return value


def parse_settings(argv: Sequence[str] | None = None) -> FeedSettings:
    args = _parser().parse_args(argv)
    try:
        # An address, never a name: the feed must not ask a resolver where to listen.
        host = str(ipaddress.ip_address(args.host))
    except ValueError:
        raise SettingsError(f"--host must be an IP address, got {args.host!r}") from None
    if not 0 <= args.port <= 65535:
        raise SettingsError(f"--port must be 0..65535, got {args.port}")
    if not (math.isfinite(args.rate) and args.rate >= 0):
        raise SettingsError(f"--rate must be a number >= 0, got {args.rate}")
    if args.burst < 1:
        raise SettingsError(f"--burst must be >= 1, got {args.burst}")
    if args.keep_trades < 0:
        raise SettingsError(f"--keep-trades must be >= 0, got {args.keep_trades}")
    extra = tuple(s.strip() for s in args.symbols.split(",") if s.strip())
    return FeedSettings(
        host=host,
        port=args.port,
        rate=args.rate,
        realistic_spread=args.rate_spread == "realistic",
        burst=args.burst,
        ping_interval_s=_positive("--ping-interval", args.ping_interval),
        seed=args.seed,
        known_symbols=tuple(dict.fromkeys((*DEFAULT_KNOWN_SYMBOLS, *extra))),
        keep_trades=args.keep_trades,
        summary_interval_s=_positive("--summary-interval", args.summary_interval),
    )
