"""`finnhub-report`: the dashboard's panels as PNG files, for a user without Grafana."""

import argparse
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cassandra.cluster import Session

# Figure without pyplot: no GUI backend and no global state, so this runs headless and in CI.
from matplotlib.figure import Figure

from finnhub_dashboards.connection import CassandraUnreachable, connect
from finnhub_dashboards.panel_data import fetch_panel
from finnhub_dashboards.queries import Panel
from finnhub_dashboards.settings import DashboardSettings, warn_about_unknown_environment

PanelRows = Mapping[Panel, Sequence[Mapping[str, Any]]]


def file_name_for(symbol: str) -> str:
    """`BINANCE:BTCUSDT` -> `BINANCE_BTCUSDT.png`: symbols carry characters paths dislike."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", symbol) + ".png"


def _of_symbol(rows: Iterable[Mapping[str, Any]], symbol: str, key: str) -> list[Mapping[str, Any]]:
    return sorted((row for row in rows if row["symbol"] == symbol), key=lambda row: row[key])


def trades_per_second_series(
    seconds: Iterable[Mapping[str, Any]], windows: Iterable[Mapping[str, Any]]
) -> tuple[list[datetime], list[float]]:
    """One symbol's trades per second, second by second, with NaN where nothing ran.

    A second without trades inside one of the processor's windows (a window row exists only
    where the feed delivered) is a real 0; a second outside every window and without trades is
    a gap, and NaN makes matplotlib break the line there instead of holding the last value.
    """
    counts = {row["second"]: row["trades"] for row in seconds}
    if not counts:
        return [], []
    covered = [(row["window_start"], row["window_end"]) for row in windows]
    step = timedelta(seconds=1)
    moment, last = min(counts), max(counts)
    times: list[datetime] = []
    values: list[float] = []
    while moment <= last:
        if moment in counts:
            values.append(float(counts[moment]))
        elif any(start <= moment < end for start, end in covered):
            values.append(0.0)
        else:
            values.append(math.nan)
        times.append(moment)
        moment += step
    # steps-post draws each count through its second; this closes the final one.
    times.append(last + step)
    values.append(values[-1])
    return times, values


# A line across a stretch longer than a window without data would draw prices no one paid and
# windows that never were; lines break there (the processor's default window, WINDOW_DURATION).
GAP_AFTER = timedelta(seconds=15)


def break_at_gaps(
    times: Sequence[datetime], values: Sequence[float], max_gap: timedelta
) -> tuple[list[datetime], list[float]]:
    """`times`/`values` with a NaN point inserted wherever two neighbours are > `max_gap` apart."""
    out_times: list[datetime] = []
    out_values: list[float] = []
    for index, (moment, value) in enumerate(zip(times, values, strict=True)):
        if index and moment - times[index - 1] > max_gap:
            out_times.append(times[index - 1] + max_gap)
            out_values.append(math.nan)
        out_times.append(moment)
        out_values.append(value)
    return out_times, out_values


def symbol_figure(symbol: str, data: PanelRows) -> Figure:
    """Price with window VWAP, OHLC candles, and volume of one symbol."""
    trades = _of_symbol(data[Panel.PRICE], symbol, "trade_timestamp")
    volumes = _of_symbol(data[Panel.VOLUME], symbol, "trade_timestamp")
    candles = _of_symbol(data[Panel.CANDLES], symbol, "window_start")
    figure = Figure(figsize=(11, 8), layout="constrained")
    price_axes, candle_axes, volume_axes = figure.subplots(
        3, 1, sharex=True, height_ratios=[3, 3, 1.5]
    )
    figure.suptitle(symbol)

    price_axes.plot(
        *break_at_gaps(
            [row["trade_timestamp"] for row in trades],
            [row["price"] for row in trades],
            GAP_AFTER,
        ),
        linewidth=0.8,
        label="price",
    )
    price_axes.hlines(
        [row["vwap"] for row in candles],
        [row["window_start"] for row in candles],
        [row["window_end"] for row in candles],
        colors="tab:orange",
        linewidth=2,
        label="VWAP (window)",
    )
    price_axes.set_ylabel("price")
    price_axes.legend(loc="upper left")

    for row in candles:
        colour = "tab:green" if row["close"] >= row["open"] else "red"
        length = row["window_end"] - row["window_start"]
        middle, width = row["window_start"] + length / 2, length * 0.7
        candle_axes.vlines(middle, row["low"], row["high"], color=colour, linewidth=0.8)
        low, high = sorted((row["open"], row["close"]))
        candle_axes.bar(middle, max(high - low, 1e-12), width, low, color=colour)
    candle_axes.set_ylabel("OHLC (window)")

    volume_axes.bar(
        [row["trade_timestamp"] for row in volumes],
        [row["volume"] for row in volumes],
        width=timedelta(milliseconds=500),
    )
    volume_axes.set_ylabel("volume")
    volume_axes.set_xlabel("UTC")
    return figure


def overview_figure(symbols: Sequence[str], data: PanelRows) -> Figure:
    """Trades per second, one small panel per symbol, and the 15-second average of p x v.

    Small multiples rather than one shared axes: symbols at the same rate draw exactly the same
    line and hide each other, whatever the colours; stacked panels with a shared y scale keep
    every symbol visible and their rates comparable at a glance.
    """
    figure = Figure(figsize=(11, 2 + 1.6 * len(symbols) + 3), layout="constrained")
    axes = figure.subplots(
        len(symbols) + 1, 1, sharex=True, height_ratios=[1.6] * len(symbols) + [3], squeeze=False
    )[:, 0]
    rate_axes, average_axes = axes[:-1], axes[-1]
    for rate_axis in rate_axes[1:]:
        rate_axis.sharey(rate_axes[0])
    for symbol, rate_axis in zip(symbols, rate_axes, strict=True):
        times, values = trades_per_second_series(
            _of_symbol(data[Panel.TRADES_PER_SECOND], symbol, "second"),
            _of_symbol(data[Panel.CANDLES], symbol, "window_start"),
        )
        rate_axis.plot(times, values, drawstyle="steps-post", linewidth=0.8, label=symbol)
        rate_axis.set_ylabel("trades/s")
        rate_axis.set_title(symbol, loc="left", fontsize="medium")
        averages = _of_symbol(data[Panel.AVERAGE_15S], symbol, "window_start")
        average_axes.plot(
            *break_at_gaps(
                [row["window_start"] for row in averages],
                [row["price_volume_multiply"] for row in averages],
                GAP_AFTER,
            ),
            marker="o",
            label=symbol,
        )
    if len(rate_axes):
        rate_axes[0].set_ylim(bottom=0)
    figure.suptitle("Trades per second (gaps: no trades and no window)")
    average_axes.set_title("Average price x volume per 15-second window")
    average_axes.legend(loc="upper left")
    # BTC and DOGE differ by six orders of magnitude.
    average_axes.set_yscale("log")
    average_axes.set_xlabel("UTC")
    return figure


def fetch_report_data(
    session: Session, keyspace: str, symbols: Sequence[str], time_from: datetime, time_to: datetime
) -> dict[Panel, list[dict[str, Any]]]:
    panels = (Panel.PRICE, Panel.VOLUME, Panel.CANDLES, Panel.TRADES_PER_SECOND, Panel.AVERAGE_15S)
    return {
        panel: fetch_panel(session, keyspace, panel, symbols, time_from, time_to)
        for panel in panels
    }


def write_report(out: Path, symbols: Sequence[str], data: PanelRows) -> list[Path]:
    """Write overview.png and one PNG per symbol into `out`; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "overview.png"]
    overview_figure(symbols, data).savefig(written[0], dpi=100)
    for symbol in symbols:
        path = out / file_name_for(symbol)
        symbol_figure(symbol, data).savefig(path, dpi=100)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("report"), help="folder for PNG files")
    parser.add_argument("--minutes", type=float, default=15.0, help="time range, back from now")
    args = parser.parse_args(argv)
    settings = DashboardSettings()
    warn_about_unknown_environment("finnhub-report", os.environ)
    time_to = datetime.now(UTC)
    time_from = time_to - timedelta(minutes=args.minutes)
    try:
        cluster, session = connect(settings)
    except CassandraUnreachable as error:
        print(f"finnhub-report: {error}", file=sys.stderr)
        return 1
    try:
        data = fetch_report_data(
            session, settings.cassandra_keyspace, settings.finnhub_symbols, time_from, time_to
        )
    finally:
        cluster.shutdown()
    for path in write_report(args.out, settings.finnhub_symbols, data):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
