import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from finnhub_dashboards.queries import Panel
from finnhub_dashboards.report import (
    file_name_for,
    overview_figure,
    symbol_figure,
    write_report,
)
from local_stack.network import free_ports

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _data() -> dict[Panel, list[dict]]:
    trades = [
        {
            "symbol": "X:Y",
            "price": 10.0 + i,
            "volume": 1.0,
            "trade_timestamp": T0 + timedelta(seconds=i),
        }
        for i in range(20)
    ]
    window = {
        "symbol": "X:Y",
        "window_start": T0,
        "window_end": T0 + timedelta(seconds=15),
        "open": 10.0,
        "high": 29.0,
        "low": 10.0,
        "close": 24.0,
        "volume": 15.0,
        "vwap": 17.0,
        "trade_count": 15,
    }
    return {
        Panel.PRICE: trades,
        Panel.VOLUME: trades,
        Panel.CANDLES: [window],
        Panel.TRADES_PER_SECOND: [{"symbol": "X:Y", "second": T0, "trades": 3}],
        Panel.AVERAGE_15S: [{"symbol": "X:Y", "window_start": T0, "price_volume_multiply": 17.0}],
    }


def test_symbol_file_names_have_no_path_separators_or_colons() -> None:
    assert file_name_for("BINANCE:BTCUSDT") == "BINANCE_BTCUSDT.png"
    assert file_name_for("a/b c") == "a_b_c.png"


def test_report_writes_an_overview_and_one_png_per_symbol(tmp_path: Path) -> None:
    written = write_report(tmp_path, ["X:Y", "NO:DATA"], _data())
    assert [path.name for path in written] == ["overview.png", "X_Y.png", "NO_DATA.png"]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_without_cassandra_is_one_line_naming_the_address_and_the_fix(
    tmp_path: Path,
) -> None:
    (nobody_listens,) = free_ports(1)
    result = subprocess.run(
        [sys.executable, "-m", "finnhub_dashboards.report", "--out", str(tmp_path / "out")],
        env={**os.environ, "CASSANDRA_HOSTS": "127.0.0.1", "CASSANDRA_PORT": str(nobody_listens)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert f"127.0.0.1:{nobody_listens}" in line
    assert "uv run local-stack up" in line and "make run" in line
    assert not (tmp_path / "out").exists()


def _seconds(symbol: str, first: int, count: int, trades: int) -> list[dict]:
    return [
        {"symbol": symbol, "second": T0 + timedelta(seconds=first + i), "trades": trades}
        for i in range(count)
    ]


def _rate_panels(symbols: list[str], data: dict[Panel, list[dict]]) -> dict[str, list[float]]:
    """Each symbol's trades/s values, read from the one axes that draws that symbol alone."""
    panels: dict[str, list[float]] = {}
    for axes in overview_figure(symbols, data).axes:
        lines = [line for line in axes.get_lines() if line.get_drawstyle() == "steps-post"]
        if len(lines) == 1:
            panels[str(lines[0].get_label())] = [float(v) for v in lines[0].get_ydata()]
    return panels


def test_trades_per_second_breaks_the_line_where_nothing_ran() -> None:
    data = {
        **_data(),
        Panel.TRADES_PER_SECOND: _seconds("X:Y", 0, 5, 3) + _seconds("X:Y", 100, 5, 3),
    }
    # One window covers the first stretch: its quiet seconds are zeros, not gaps.
    (values,) = _rate_panels(["X:Y"], data).values()
    assert values[:5] == [3.0] * 5
    assert values[5:15] == [0.0] * 10
    assert all(math.isnan(v) for v in values[15:100])
    assert values[100:105] == [3.0] * 5


def test_symbols_at_the_same_rate_each_get_a_panel_of_their_own() -> None:
    symbols = ["A:1", "B:2", "C:3", "D:4"]
    data = {
        **_data(),
        Panel.TRADES_PER_SECOND: [row for s in symbols for row in _seconds(s, 0, 10, 5)],
    }
    panels = _rate_panels(symbols, data)
    assert sorted(panels) == symbols
    assert all(values[:10] == [5.0] * 10 for values in panels.values())


def test_price_line_breaks_where_no_trade_came_for_longer_than_a_window() -> None:
    trades = [
        {
            "symbol": "X:Y",
            "price": 10.0 + i,
            "volume": 1.0,
            "trade_timestamp": T0 + timedelta(seconds=s),
        }
        for i, s in enumerate([0, 1, 2, 300, 301])
    ]
    data = {**_data(), Panel.PRICE: trades, Panel.VOLUME: trades}
    price_axes = symbol_figure("X:Y", data).axes[0]
    (line,) = [line for line in price_axes.get_lines() if line.get_label() == "price"]
    values = [float(v) for v in line.get_ydata()]
    assert values[:3] == [10.0, 11.0, 12.0]
    assert math.isnan(values[3])
    assert values[4:] == [13.0, 14.0]


def test_average_line_breaks_where_a_window_is_missing() -> None:
    averages = [
        {"symbol": "X:Y", "window_start": T0 + timedelta(seconds=s), "price_volume_multiply": 5.0}
        for s in (0, 15, 30, 120, 135)
    ]
    figure = overview_figure(["X:Y"], {**_data(), Panel.AVERAGE_15S: averages})
    (line,) = figure.axes[-1].get_lines()
    values = [float(v) for v in line.get_ydata()]
    assert values[:3] == [5.0] * 3 and math.isnan(values[3]) and values[4:] == [5.0] * 2
