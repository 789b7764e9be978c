"""`finnhub-live`: a terminal view of the market, read from Cassandra with the panels' queries."""

import argparse
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cassandra.cluster import Session
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from finnhub_dashboards.connection import CassandraUnreachable, connect
from finnhub_dashboards.panel_data import fetch_panel
from finnhub_dashboards.queries import Panel
from finnhub_dashboards.settings import DashboardSettings

RATE_WINDOW = timedelta(seconds=10)
# Windows close a little after their end (watermark), so look back far enough to find one.
WINDOW_LOOKBACK = timedelta(minutes=5)
STALE_AFTER_MS = 5_000


@dataclass(frozen=True)
class SymbolSnapshot:
    symbol: str
    last_price: float | None = None
    last_trade_at: datetime | None = None
    age_ms: int | None = None
    lag_ms: int | None = None
    trades_per_second: float | None = None
    window_start: datetime | None = None
    vwap: float | None = None
    average_price_volume: float | None = None


def _newest_per_symbol(rows: Iterable[Mapping[str, Any]], key: str) -> dict[str, Mapping[str, Any]]:
    newest: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        current = newest.get(row["symbol"])
        if current is None or row[key] > current[key]:
            newest[row["symbol"]] = row
    return newest


def build_snapshots(
    symbols: Sequence[str],
    last_trades: Iterable[Mapping[str, Any]],
    per_second: Iterable[Mapping[str, Any]],
    windows: Iterable[Mapping[str, Any]],
    averages: Iterable[Mapping[str, Any]],
    rate_window: timedelta = RATE_WINDOW,
) -> list[SymbolSnapshot]:
    """One snapshot per configured symbol, in the given order, from the panels' rows."""
    last = {row["symbol"]: row for row in last_trades}
    counts: dict[str, int] = {}
    for row in per_second:
        counts[row["symbol"]] = counts.get(row["symbol"], 0) + row["trades"]
    window = _newest_per_symbol(windows, "window_start")
    average = _newest_per_symbol(averages, "window_start")
    snapshots = []
    for symbol in symbols:
        trade = last.get(symbol, {})
        candle = window.get(symbol, {})
        snapshots.append(
            SymbolSnapshot(
                symbol=symbol,
                last_price=trade.get("price"),
                last_trade_at=trade.get("trade_timestamp"),
                age_ms=trade.get("age_ms"),
                lag_ms=trade.get("lag_ms"),
                trades_per_second=counts.get(symbol, 0) / rate_window.total_seconds(),
                window_start=candle.get("window_start"),
                vwap=candle.get("vwap"),
                average_price_volume=average.get(symbol, {}).get("price_volume_multiply"),
            )
        )
    return snapshots


def format_price(value: float | None) -> str:
    """Prices span 1e-5 (meme coins) to 1e5 (BTC): keep about six significant digits."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.2f}"
    if abs(value) >= 1:
        return f"{value:.4f}"
    return f"{value:.6g}"


def format_duration_ms(value: int | None) -> str:
    if value is None:
        return "-"
    if value < 1000:
        return f"{value} ms"
    if value < 120_000:
        return f"{value / 1000:.1f} s"
    return f"{value / 60_000:.0f} min"


def format_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render_view(snapshots: Sequence[SymbolSnapshot], now: datetime, header: str = "") -> Group:
    """The screen: a header line and one table row per symbol; stale symbols in red."""
    table = Table(title=f"Finnhub market  {now:%Y-%m-%d %H:%M:%S} UTC", expand=True)
    table.add_column("symbol", style="bold")
    for name in ("last price", "trades/s", "VWAP (window)", "avg p x v (15 s)", "lag", "age"):
        table.add_column(name, justify="right")
    table.add_column("window start", justify="right")
    for snapshot in snapshots:
        stale = snapshot.age_ms is None or snapshot.age_ms > STALE_AFTER_MS
        table.add_row(
            snapshot.symbol,
            format_price(snapshot.last_price),
            format_rate(snapshot.trades_per_second),
            format_price(snapshot.vwap),
            format_price(snapshot.average_price_volume),
            format_duration_ms(snapshot.lag_ms),
            Text(format_duration_ms(snapshot.age_ms), style="red" if stale else "green"),
            "-" if snapshot.window_start is None else f"{snapshot.window_start:%H:%M:%S}",
        )
    return Group(Text(header), table) if header else Group(table)


def read_snapshots(
    session: Session, keyspace: str, symbols: Sequence[str], now: datetime
) -> list[SymbolSnapshot]:
    """Query Cassandra with the dashboard's panel queries and build the snapshots.

    Rates and windows are read back from the newest stored trade rather than from `now`: while
    the pipeline lags, the trades of the last ten wall-clock seconds are not stored yet, and
    the rate would read 0 although trades flow. The age column shows the lag instead.
    """
    last_trades = fetch_panel(session, keyspace, Panel.LAST_TRADE, symbols, now, now)
    newest = max((row["trade_timestamp"] for row in last_trades), default=now)
    reference = min(newest + timedelta(milliseconds=1), now)

    def rows(panel: Panel, since: timedelta) -> list[dict[str, Any]]:
        return fetch_panel(session, keyspace, panel, symbols, reference - since, reference)

    return build_snapshots(
        symbols,
        last_trades=last_trades,
        per_second=rows(Panel.TRADES_PER_SECOND, RATE_WINDOW),
        windows=rows(Panel.CANDLES, WINDOW_LOOKBACK),
        averages=rows(Panel.AVERAGE_15S, WINDOW_LOOKBACK),
    )


def run_live_view(
    session: Session,
    keyspace: str,
    symbols: Sequence[str],
    refresh_s: float = 1.0,
    should_stop: Callable[[], bool] = lambda: False,
    header: Callable[[], str] = lambda: "",
    console: Console | None = None,
) -> None:
    """Redraw until `should_stop()` is true or Ctrl-C; a failed read is shown, not fatal."""
    with Live(console=console, auto_refresh=False, screen=False) as live:
        while not should_stop():
            now = datetime.now(UTC)
            try:
                view = render_view(read_snapshots(session, keyspace, symbols, now), now, header())
            except Exception as error:  # a Cassandra hiccup must not end the view
                view = Group(Text(header()), Text(f"reading Cassandra failed: {error}", "red"))
            live.update(view, refresh=True)
            deadline = time.monotonic() + refresh_s
            while time.monotonic() < deadline and not should_stop():
                time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--refresh", type=float, default=1.0, help="seconds between redraws")
    parser.add_argument("--once", action="store_true", help="print one view and exit")
    parser.add_argument("--svg", type=Path, help="with --once: also save the view as SVG")
    args = parser.parse_args(argv)
    settings = DashboardSettings()
    try:
        cluster, session = connect(settings)
    except CassandraUnreachable as error:
        print(f"finnhub-live: {error}", file=sys.stderr)
        return 1
    try:
        if args.once:
            console = Console(record=args.svg is not None, width=140)
            now = datetime.now(UTC)
            symbols = settings.finnhub_symbols
            console.print(
                render_view(read_snapshots(session, settings.cassandra_keyspace, symbols, now), now)
            )
            if args.svg is not None:
                console.save_svg(str(args.svg), title="finnhub-live")
            return 0
        run_live_view(session, settings.cassandra_keyspace, settings.finnhub_symbols, args.refresh)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
