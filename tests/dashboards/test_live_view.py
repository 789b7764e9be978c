from datetime import UTC, datetime, timedelta

from finnhub_dashboards.live import (
    LIVE,
    NO_TRADES,
    PREVIOUS_RUN,
    STALE,
    SymbolSnapshot,
    build_snapshots,
    format_duration_ms,
    format_price,
    plain_lines,
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
    assert snapshot.state == NO_TRADES
    assert snapshot.trades_per_second is None


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


def _one_symbol(
    last_trade_at: datetime, now: datetime, run_started_at: datetime | None = None
) -> SymbolSnapshot:
    """Snapshot of a symbol whose newest stored trades counted 30 in the rate window."""
    (snapshot,) = build_snapshots(
        ["X"],
        last_trades=[
            {
                "symbol": "X",
                "price": 2.0,
                "trade_timestamp": last_trade_at,
                "lag_ms": 7,
                "age_ms": int((now - last_trade_at).total_seconds() * 1000),
            }
        ],
        per_second=[{"symbol": "X", "trades": 30}],
        windows=[],
        averages=[],
        run_started_at=run_started_at,
        now=now,
    )
    return snapshot


def test_a_symbol_without_a_recent_trade_is_stale_and_shows_no_rate() -> None:
    fresh = _one_symbol(T0 - timedelta(seconds=2), T0)
    # A pipeline a batch or two behind on a loaded machine: trades still flow.
    lagging = _one_symbol(T0 - timedelta(seconds=20), T0)
    old = _one_symbol(T0 - timedelta(seconds=70), T0)
    assert (fresh.state, fresh.trades_per_second) == (LIVE, 3.0)
    assert (lagging.state, lagging.trades_per_second) == (LIVE, 3.0)
    assert (old.state, old.trades_per_second) == (STALE, None)
    text = _render(render_view([old], T0))
    row = next(line for line in text.splitlines() if " X " in line)
    assert STALE in row and "3.0" not in row


def test_rows_older_than_this_run_are_marked_as_the_previous_runs() -> None:
    snapshot = _one_symbol(T0 - timedelta(seconds=5), T0, run_started_at=T0 - timedelta(seconds=3))
    assert (snapshot.state, snapshot.trades_per_second) == (PREVIOUS_RUN, None)
    assert PREVIOUS_RUN in _render(render_view([snapshot], T0))


def test_plain_lines_carry_the_status_and_one_line_per_symbol() -> None:
    snapshots = [
        _one_symbol(T0 - timedelta(seconds=1), T0),
        *build_snapshots(["Y"], [], [], [], []),
    ]
    lines = plain_lines(snapshots, T0, "producer: running, feed connected")
    assert lines == [
        "12:00:00 producer: running, feed connected",
        "12:00:00 X live: price 2.0000, 3.0 trades/s, lag 7 ms, age 1.0 s",
        "12:00:00 Y no trades: price -, - trades/s, lag -, age -",
    ]
