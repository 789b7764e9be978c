"""The windows the processor must write for a set of sent trades, computed here independently
(the end-to-end tests, on this machine and in the cluster, compare Cassandra with this)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

WINDOW_MS = 15_000


def expected_windows(
    sent: list[dict[str, Any]], window_ms: int = WINDOW_MS
) -> dict[tuple[str, datetime], dict[str, Any]]:
    """Per (symbol, window start): open/close/high/low/volume/vwap/average/count, from trades
    `{"s", "p", "t", "v"}` in sending order (which is Kafka order per symbol)."""
    trades_of: dict[tuple[str, datetime], list[dict[str, Any]]] = defaultdict(list)
    for trade in sent:
        start_ms = trade["t"] // window_ms * window_ms
        trades_of[(trade["s"], datetime.fromtimestamp(start_ms / 1000, UTC))].append(trade)
    windows = {}
    for key, trades in trades_of.items():
        volume = sum(t["v"] for t in trades)
        price_volume = sum(t["p"] * t["v"] for t in trades)
        windows[key] = {
            "open": min(trades, key=lambda t: t["t"])["p"],
            "close": max(reversed(trades), key=lambda t: t["t"])["p"],
            "high": max(t["p"] for t in trades),
            "low": min(t["p"] for t in trades),
            "volume": volume,
            "vwap": price_volume / volume,
            "average": price_volume / len(trades),
            "trade_count": len(trades),
        }
    return windows
