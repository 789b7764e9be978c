import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from finnhub_dashboards.queries import Panel
from finnhub_dashboards.report import file_name_for, write_report
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
