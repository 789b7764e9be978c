"""Trade generation, pure: which symbols exist, how busy each is, and the trades themselves."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from finnhub_contracts.symbols import DEFAULT_SYMBOLS

# Every symbol the producer subscribes to by default, and a few more a test or a stack may add.
DEFAULT_KNOWN_SYMBOLS = (
    *DEFAULT_SYMBOLS,
    "BINANCE:SOLUSDT",
    "AAPL",
    "AMZN",
    "MSFT",
    "IC MARKETS:1",
)

_CONDITIONS = ("1", "8", "12", "24", "37")

# Rough late-2026 levels for the default symbols, so a local run looks like a market; any other
# symbol starts at a random level.
_START_PRICES: dict[str, float] = {
    "BINANCE:BTCUSDT": 90_000.0,
    "BINANCE:ETHUSDT": 3_000.0,
    "BINANCE:XRPUSDT": 2.0,
    "BINANCE:DOGEUSDT": 0.15,
}

# Relative trade rates of the default symbols: an illustrative spread in the order Binance's
# books show (BTC busiest, DOGE quietest), so a local run's symbols do not all look alike.
REALISTIC_RATE_SHARES: dict[str, float] = {
    "BINANCE:BTCUSDT": 2.0,
    "BINANCE:ETHUSDT": 1.2,
    "BINANCE:XRPUSDT": 0.5,
    "BINANCE:DOGEUSDT": 0.3,
}


def symbol_rates(
    symbols: Sequence[str], mean_rate: float, shares: Mapping[str, float] | None
) -> dict[str, float]:
    """Trades/s per symbol, averaging `mean_rate` over `symbols`; no share (or None) counts as 1.

    The mean stays fixed whatever the spread, so `--rate` keeps meaning the same total load.
    """
    weights = {symbol: (shares or {}).get(symbol, 1.0) for symbol in symbols}
    total = sum(weights.values())
    if total <= 0:
        return dict.fromkeys(symbols, 0.0)
    return {symbol: mean_rate * len(symbols) * w / total for symbol, w in weights.items()}


class TradeGenerator:
    """Random-walk prices per symbol, log-normal volumes, conditions sometimes null. Pure."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._prices: dict[str, float] = {}

    def trade(self, symbol: str, time_ms: int) -> dict[str, Any]:
        rng = self._rng
        price = self._prices.get(symbol) or _START_PRICES.get(symbol) or rng.uniform(0.1, 60000.0)
        price *= math.exp(rng.gauss(0.0, 0.0005))
        self._prices[symbol] = price
        roll = rng.random()
        # Finnhub sends null for most crypto trades and a list of codes for stocks.
        conditions: list[str] | None
        if roll < 0.4:
            conditions = None
        elif roll < 0.5:
            conditions = []
        else:
            conditions = rng.sample(_CONDITIONS, rng.randint(1, 3))
        return {
            "c": conditions,
            "p": round(price, 6),
            "s": symbol,
            "t": time_ms,
            "v": round(rng.lognormvariate(0.0, 1.5), 6),
        }

    def frames(self, trades: list[dict[str, Any]], burst: int) -> list[list[dict[str, Any]]]:
        """Cut trades into frames of 1..burst trades, keeping their order."""
        frames = []
        start = 0
        while start < len(trades):
            size = self._rng.randint(1, max(1, burst))
            frames.append(trades[start : start + size])
            start += size
        return frames
