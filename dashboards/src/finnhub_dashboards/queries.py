"""The CQL behind every panel, written once for Grafana, the live view and the PNG report.

Statements use the Cassandra datasource plugin's conventions: `$__timeFrom` / `$__timeTo` are
the dashboard range in milliseconds since the epoch, and `${symbol:singlequote}` is the symbol
variable quoted for a CQL `IN (...)` list. In raw-query mode the plugin keys series by the
first selected column, so every statement selects `symbol` first.

Every statement names its partition (`symbol IN (...)`) and bounds only the clustering column,
so none needs ALLOW FILTERING; the panel-query tests hold that true against a real Cassandra.
"""

from dataclasses import dataclass
from enum import StrEnum

from finnhub_contracts.cassandra import RUNNING_AVERAGES_TABLE, TRADE_WINDOWS_TABLE, TRADES_TABLE

SYMBOLS_IN = "symbol IN (${symbol:singlequote})"


class Panel(StrEnum):
    """Names of the panel queries; the dashboard, live view and report look them up by these."""

    PRICE = "price"
    VOLUME = "volume"
    TRADES_PER_SECOND = "trades_per_second"
    AVERAGE_15S = "average_15s"
    CANDLES = "candles"
    LAST_TRADE = "last_trade"


@dataclass(frozen=True)
class PanelQuery:
    panel: Panel
    title: str
    cql: str


def symbol_variable_query(keyspace: str) -> str:
    """Symbols that have trades: DISTINCT over the partition key reads no rows, only keys."""
    return f"SELECT DISTINCT symbol FROM {keyspace}.{TRADES_TABLE}"


def panel_queries(keyspace: str) -> dict[Panel, PanelQuery]:
    """Every panel's CQL for tables in `keyspace` (finnhub_contracts.cassandra)."""
    trades = f"{keyspace}.{TRADES_TABLE}"
    windows = f"{keyspace}.{TRADE_WINDOWS_TABLE}"
    averages = f"{keyspace}.{RUNNING_AVERAGES_TABLE}"
    trade_range = "trade_timestamp > $__timeFrom AND trade_timestamp < $__timeTo"
    window_range = "window_start > $__timeFrom AND window_start < $__timeTo"
    queries = [
        PanelQuery(
            Panel.PRICE,
            "Price",
            f"SELECT symbol, price, trade_timestamp FROM {trades} "
            f"WHERE {SYMBOLS_IN} AND {trade_range}",
        ),
        PanelQuery(
            Panel.VOLUME,
            "Volume",
            f"SELECT symbol, volume, trade_timestamp FROM {trades} "
            f"WHERE {SYMBOLS_IN} AND {trade_range}",
        ),
        # Counting per second from the trades themselves, not from the processor's windows,
        # so this panel also shows trades the processor has not aggregated yet.
        PanelQuery(
            Panel.TRADES_PER_SECOND,
            "Trades per second",
            "SELECT symbol, count(*) AS trades, floor(trade_timestamp, 1s) AS second "
            f"FROM {trades} WHERE {SYMBOLS_IN} AND {trade_range} "
            "GROUP BY symbol, floor(trade_timestamp, 1s)",
        ),
        PanelQuery(
            Panel.AVERAGE_15S,
            "Average price x volume, 15-second windows",
            f"SELECT symbol, price_volume_multiply, window_start FROM {averages} "
            f"WHERE {SYMBOLS_IN} AND {window_range}",
        ),
        PanelQuery(
            Panel.CANDLES,
            "OHLC and VWAP",
            "SELECT symbol, open, high, low, close, volume, vwap, trade_count, window_start, "
            "window_end "
            f"FROM {windows} WHERE {SYMBOLS_IN} AND {window_range}",
        ),
        # Clustering is trade_timestamp DESC, so the first row of each partition is the
        # newest trade: PER PARTITION LIMIT 1 reads one row per symbol.
        PanelQuery(
            Panel.LAST_TRADE,
            "Pipeline health: last trade",
            "SELECT symbol, trade_timestamp, ingest_timestamp, price, "
            "toUnixTimestamp(currentTimestamp()) - toUnixTimestamp(trade_timestamp) AS age_ms, "
            "toUnixTimestamp(ingest_timestamp) - toUnixTimestamp(trade_timestamp) AS lag_ms "
            f"FROM {trades} WHERE {SYMBOLS_IN} PER PARTITION LIMIT 1",
        ),
    ]
    return {query.panel: query for query in queries}
