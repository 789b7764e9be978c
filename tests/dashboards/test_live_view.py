from datetime import UTC, datetime, timedelta

from finnhub_dashboards.live import (
    build_snapshots,
    format_duration_ms,
    format_price,
    render_view,
)
from rich.console import Console

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _render(view: object) -> str:
    console = Console(width=160, record=True, color_system=None)
    console.print(view)
    return console.export_text()


def test_prices_keep_significant_digits_across_magnitudes() -> None:
    assert format_price(97_123.456) == "97,123.46"
    assert format_price(2.5) == "2.5000"
    assert format_price(0.000012345678) == "1.23457e-05"
    assert format_price(None) == "-"


def test_durations_switch_units_as_they_grow() -> None:
    assert format_duration_ms(250) == "250 ms"
    assert format_duration_ms(2_500) == "2.5 s"
    assert format_duration_ms(600_000) == "10 min"
    assert format_duration_ms(None) == "-"


def test_snapshot_takes_newest_window_and_rate_over_the_window() -> None:
    (snapshot,) = build_snapshots(
        ["X"],
        last_trades=[
            {"symbol": "X", "price": 2.0, "trade_timestamp": T0, "age_ms": 5, "lag_ms": 7}
        ],
        per_second=[{"symbol": "X", "trades": 4}, {"symbol": "X", "trades": 6}],
        windows=[
            {"symbol": "X", "window_start": T0 - timedelta(seconds=15), "vwap": 1.5},
            {"symbol": "X", "window_start": T0 - timedelta(seconds=30), "vwap": 1.0},
        ],
        averages=[{"symbol": "X", "window_start": T0, "price_volume_multiply": 9.0}],
        rate_window=timedelta(seconds=5),
    )
    assert snapshot.trades_per_second == 2.0
    assert snapshot.vwap == 1.5
    assert snapshot.average_price_volume == 9.0
    assert (snapshot.last_price, snapshot.lag_ms, snapshot.age_ms) == (2.0, 7, 5)


def test_symbol_without_data_still_gets_a_row() -> None:
    (snapshot,) = build_snapshots(["EMPTY"], [], [], [], [])
    assert snapshot.symbol == "EMPTY"
    assert snapshot.last_price is None
    assert snapshot.trades_per_second == 0.0


def test_view_shows_every_symbol_and_the_header() -> None:
    snapshots = build_snapshots(
        ["A:ONE", "B:TWO"],
        [{"symbol": "A:ONE", "price": 101.5, "trade_timestamp": T0, "age_ms": 10, "lag_ms": 320}],
        [],
        [],
        [],
    )
    text = _render(render_view(snapshots, T0, header="fake feed"))
    assert "fake feed" in text
    assert "A:ONE" in text and "B:TWO" in text
    assert "101.5000" in text and "320 ms" in text
