"""`finnhub-live`: a terminal view of the market, read from Cassandra with the panels' queries.

On a terminal the table is redrawn in place; with output piped or redirected (a log file, CI)
there is nothing to redraw, so plain status lines are printed every few seconds instead.
"""

import argparse
import os
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
from finnhub_dashboards.settings import DashboardSettings, warn_about_unknown_environment

RATE_WINDOW = timedelta(seconds=10)
# Windows close a little after their end (watermark), so look back far enough to find one.
WINDOW_LOOKBACK = timedelta(minutes=5)
# Newest stored trade older than this: the feed or the pipeline has stopped, and a rate would
# describe the past. Not the 10 s rate window: on two loaded cores the processor's batches leave
# the newest stored trade 10-20 s old while trades flow (measured at load 20), and a flowing
# feed must not read as stale; a stopped one still shows within half a minute.
STALE_AFTER_MS = 30_000
PLAIN_EVERY_S = 10.0

LIVE = "live"
STALE = "STALE"
PREVIOUS_RUN = "PREVIOUS RUN"
NO_TRADES = "no trades"


@dataclass(frozen=True)
class SymbolSnapshot:
    symbol: str
    state: str = NO_TRADES
    """live, STALE (no trade for STALE_AFTER_MS), PREVIOUS RUN (last trade before this run
    started) or no trades."""
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


def trade_state(
    last_trade_at: datetime | None, age_ms: float | None, run_started_at: datetime | None
) -> str:
    """How current a symbol's row is; only a live row gets a rate."""
    if last_trade_at is None or age_ms is None:
        return NO_TRADES
    if run_started_at is not None and last_trade_at < run_started_at:
        return PREVIOUS_RUN
    if age_ms > STALE_AFTER_MS:
        return STALE
    return LIVE


def build_snapshots(
    symbols: Sequence[str],
    last_trades: Iterable[Mapping[str, Any]],
    per_second: Iterable[Mapping[str, Any]],
    windows: Iterable[Mapping[str, Any]],
    averages: Iterable[Mapping[str, Any]],
    rate_window: timedelta = RATE_WINDOW,
    run_started_at: datetime | None = None,
    now: datetime | None = None,
) -> list[SymbolSnapshot]:
    """One snapshot per configured symbol, in the given order, from the panels' rows.

    A symbol without a recent trade (or whose last trade predates `run_started_at`) gets no
    rate: the count would be of trades long gone, shown as if they were flowing now. Recent is
    measured from `now` when given, else by the age Cassandra computed for the row.
    """
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
        last_trade_at = trade.get("trade_timestamp")
        age_ms = trade.get("age_ms")
        if now is not None and last_trade_at is not None:
            age_ms = (now - last_trade_at).total_seconds() * 1000
        state = trade_state(last_trade_at, age_ms, run_started_at)
        rate = counts.get(symbol, 0) / rate_window.total_seconds()
        snapshots.append(
            SymbolSnapshot(
                symbol=symbol,
                state=state,
                last_price=trade.get("price"),
                last_trade_at=last_trade_at,
                age_ms=trade.get("age_ms"),
                lag_ms=trade.get("lag_ms"),
                trades_per_second=rate if state == LIVE else None,
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
    """The screen: a header and one table row per symbol; rows not live are marked and dimmed."""
    table = Table(title=f"Finnhub market  {now:%Y-%m-%d %H:%M:%S} UTC", expand=True)
    table.add_column("symbol", style="bold")
    table.add_column("state")
    for name in ("last price", "trades/s", "VWAP (window)", "avg p x v (15 s)", "lag", "age"):
        table.add_column(name, justify="right")
    table.add_column("window start", justify="right")
    for snapshot in snapshots:
        live = snapshot.state == LIVE
        table.add_row(
            snapshot.symbol,
            Text(snapshot.state, style="green" if live else "bold red"),
            format_price(snapshot.last_price),
            format_rate(snapshot.trades_per_second),
            format_price(snapshot.vwap),
            format_price(snapshot.average_price_volume),
            format_duration_ms(snapshot.lag_ms),
            Text(format_duration_ms(snapshot.age_ms), style="green" if live else "red"),
            "-" if snapshot.window_start is None else f"{snapshot.window_start:%H:%M:%S}",
            style=None if live else "dim",
        )
    return Group(Text(header), table) if header else Group(table)


def plain_lines(snapshots: Sequence[SymbolSnapshot], now: datetime, status: str = "") -> list[str]:
    """The view as log lines: an optional status line, then one line per symbol."""
    stamp = f"{now:%H:%M:%S}"
    lines = [f"{stamp} {status}"] if status else []
    for snapshot in snapshots:
        lines.append(
            f"{stamp} {snapshot.symbol} {snapshot.state}: "
            f"price {format_price(snapshot.last_price)}, "
            f"{format_rate(snapshot.trades_per_second)} trades/s, "
            f"lag {format_duration_ms(snapshot.lag_ms)}, age {format_duration_ms(snapshot.age_ms)}"
        )
    return lines


def read_snapshots(
    session: Session,
    keyspace: str,
    symbols: Sequence[str],
    now: datetime,
    run_started_at: datetime | None = None,
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
        run_started_at=run_started_at,
        now=now,
    )


def run_live_view(
    session: Session,
    keyspace: str,
    symbols: Sequence[str],
    refresh_s: float = 1.0,
    should_stop: Callable[[], bool] = lambda: False,
    header: str = "",
    status: Callable[[], str] = lambda: "",
    console: Console | None = None,
    run_started_at: datetime | None = None,
    plain_every_s: float = PLAIN_EVERY_S,
) -> None:
    """Show the view until `should_stop()` is true or Ctrl-C; a failed read is shown, not fatal.

    A terminal gets the table redrawn every `refresh_s`. Anything else (a pipe, a file) would
    get nothing at all from rich's Live until the end, so it gets `plain_lines` every
    `plain_every_s` instead, `header` once at the start.
    """
    console = console or Console()

    def read(now: datetime) -> list[SymbolSnapshot]:
        return read_snapshots(session, keyspace, symbols, now, run_started_at)

    if not console.is_terminal:
        if header:
            console.print(header, markup=False, highlight=False, soft_wrap=True)
        while not should_stop():
            now = datetime.now(UTC)
            try:
                lines = plain_lines(read(now), now, status())
            except Exception as error:  # a Cassandra hiccup must not end the view
                lines = [f"{now:%H:%M:%S} {status()}", f"reading Cassandra failed: {error}"]
            for line in lines:
                console.print(line, markup=False, highlight=False, soft_wrap=True)
            _sleep_unless_stopped(plain_every_s, should_stop)
        return
    with Live(console=console, auto_refresh=False, screen=False) as live:
        while not should_stop():
            now = datetime.now(UTC)
            heading = "\n".join(part for part in (header, status()) if part)
            try:
                view = render_view(read(now), now, heading)
            except Exception as error:  # a Cassandra hiccup must not end the view
                view = Group(Text(heading), Text(f"reading Cassandra failed: {error}", "red"))
            live.update(view, refresh=True)
            _sleep_unless_stopped(refresh_s, should_stop)


def _sleep_unless_stopped(seconds: float, should_stop: Callable[[], bool]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not should_stop():
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--refresh", type=float, default=1.0, help="seconds between redraws")
    parser.add_argument(
        "--plain-every",
        type=float,
        default=PLAIN_EVERY_S,
        help="output not a terminal: seconds between plain status lines",
    )
    parser.add_argument("--once", action="store_true", help="print one view and exit")
    parser.add_argument("--svg", type=Path, help="with --once: also save the view as SVG")
    args = parser.parse_args(argv)
    settings = DashboardSettings()
    warn_about_unknown_environment("finnhub-live", os.environ)
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
        run_live_view(
            session,
            settings.cassandra_keyspace,
            settings.finnhub_symbols,
            args.refresh,
            plain_every_s=args.plain_every,
        )
    except KeyboardInterrupt:
        pass
    finally:
        cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
