"""The market dashboard, built with grafana-foundation-sdk and serialised to provisionable JSON."""

import json
import typing

from finnhub_contracts.cassandra import KEYSPACE, RUNNING_AVERAGES_TABLE, TRADE_WINDOWS_TABLE
from finnhub_contracts.versions import CASSANDRA_DATASOURCE_PLUGIN
from grafana_foundation_sdk.builders import candlestick, common, dashboard, stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import candlestick as candlestick_models
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as dashboard_models

from finnhub_dashboards.queries import Panel, panel_queries, symbol_variable_query

DATASOURCE_UID = "cassandra"
DASHBOARD_UID = "finnhub-market"
DATASOURCE = dashboard_models.DataSourceRef(
    type_val=CASSANDRA_DATASOURCE_PLUGIN, uid=DATASOURCE_UID
)
# Grafana refuses refresh rates below its server's min_refresh_interval (5s by default), so
# the 500ms entry only works where GrafanaStack lowers that setting.
REFRESH_INTERVALS = ["500ms", "1s", "5s", "10s", "30s", "1m", "5m"]


class CassandraQuery(cogvariants.Dataquery):
    """A panel target of the Cassandra plugin in raw-CQL ("query editor") mode.

    The SDK ships no model for this third-party plugin; the fields are the ones its frontend
    sends to its backend: `rawQuery` selects the CQL editor, `target` holds the statement.
    """

    def __init__(self, ref_id: str, cql: str) -> None:
        self.ref_id = ref_id
        self.cql = cql

    def to_json(self) -> dict[str, object]:
        return {
            "datasource": DATASOURCE.to_json(),
            "queryType": "query",
            "rawQuery": True,
            "refId": self.ref_id,
            "target": self.cql,
        }


class CassandraQueryBuilder(cogbuilder.Builder[CassandraQuery]):
    def __init__(self, cql: str, ref_id: str = "A") -> None:
        self._query = CassandraQuery(ref_id, cql)

    def build(self) -> CassandraQuery:
        return self._query


def _symbol_variable(keyspace: str) -> dashboard.QueryVariable:
    # Multi-value with "All" selected by default, so the dashboard opens on every symbol the
    # producer is configured with (they are the ones that have trades), not only BTC.
    return (
        dashboard.QueryVariable("symbol")
        .label("Symbol")
        .datasource(DATASOURCE)
        .query({"query": symbol_variable_query(keyspace)})
        .refresh(dashboard_models.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dashboard_models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .current(dashboard_models.VariableOption(selected=True, text="All", value="$__all"))
    )


def _legend() -> common.VizLegendOptions:
    return (
        common.VizLegendOptions()
        .show_legend(True)
        .display_mode(common_models.LegendDisplayMode.LIST)
        .placement(common_models.LegendPlacement.BOTTOM)
    )


def _per_symbol(panel: typing.Any) -> typing.Any:
    """One copy of the panel per selected symbol: BTC and DOGE prices share no useful axis."""
    return panel.repeat("symbol").repeat_direction("h").max_per_row(4).span(24)


def build_dashboard(keyspace: str = KEYSPACE) -> dashboard_models.Dashboard:
    queries = panel_queries(keyspace)

    def target(panel: Panel) -> CassandraQueryBuilder:
        return CassandraQueryBuilder(queries[panel].cql)

    price = (
        timeseries.Panel()
        .title("Price: $symbol")
        .datasource(DATASOURCE)
        .with_target(target(Panel.PRICE))
        .unit("currencyUSD")
        .decimals(4)
        .line_width(1)
        .show_points(common_models.VisibilityMode.NEVER)
        .legend(_legend())
        .height(8)
        .span(12)
    )
    volume = (
        timeseries.Panel()
        .title("Volume: $symbol")
        .datasource(DATASOURCE)
        .with_target(target(Panel.VOLUME))
        .draw_style(common_models.GraphDrawStyle.BARS)
        .fill_opacity(80)
        .unit("short")
        .legend(_legend())
        .height(8)
        .span(12)
    )
    trades_per_second = (
        timeseries.Panel()
        .title("Trades per second")
        .description("Trades stored per second of trade time, per symbol.")
        .datasource(DATASOURCE)
        .with_target(target(Panel.TRADES_PER_SECOND))
        .draw_style(common_models.GraphDrawStyle.BARS)
        .unit("short")
        .legend(_legend())
        .height(8)
        .span(12)
    )
    averages = (
        timeseries.Panel()
        .title("Average price x volume per 15-second window")
        .description(
            f"{keyspace}.{RUNNING_AVERAGES_TABLE}: mean of price x volume per event-time window."
        )
        .datasource(DATASOURCE)
        .with_target(target(Panel.AVERAGE_15S))
        .unit("currencyUSD")
        .show_points(common_models.VisibilityMode.ALWAYS)
        .legend(_legend())
        .height(8)
        .span(12)
    )
    candles = (
        candlestick.Panel()
        .title("OHLC and VWAP: $symbol")
        .description(
            f"{keyspace}.{TRADE_WINDOWS_TABLE}: candle per window, VWAP drawn as a line over it."
        )
        .datasource(DATASOURCE)
        .with_target(target(Panel.CANDLES))
        .mode(candlestick_models.VizDisplayMode.CANDLES_VOLUME)
        .fields(
            candlestick.CandlestickFieldMap()
            .open("open")
            .high("high")
            .low("low")
            .close("close")
            .volume("volume")
        )
        .include_all_fields(True)
        .unit("currencyUSD")
        .legend(_legend())
        .height(10)
        .span(12)
    )
    age_thresholds = (
        dashboard.ThresholdsConfig()
        .mode(dashboard_models.ThresholdsMode.ABSOLUTE)
        .steps(
            [
                dashboard_models.Threshold(value=None, color="green"),
                dashboard_models.Threshold(value=5_000, color="orange"),
                dashboard_models.Threshold(value=60_000, color="red"),
            ]
        )
    )
    last_trade_age = (
        stat.Panel()
        .title("Last-trade age")
        .description("Time since the newest stored trade of each symbol; red means no data.")
        .datasource(DATASOURCE)
        .with_target(target(Panel.LAST_TRADE))
        .reduce_options(
            common.ReduceDataOptions().calcs(["lastNotNull"]).values(False).fields("/^age_ms$/")
        )
        .unit("ms")
        .thresholds(age_thresholds)
        .color_mode(common_models.BigValueColorMode.BACKGROUND)
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .height(6)
        .span(12)
    )
    health = (
        table.Panel()
        .title("Pipeline health")
        .description(
            "Newest trade per symbol: its age, and lag = ingest_timestamp - trade_timestamp "
            "(end-to-end, Finnhub to Cassandra)."
        )
        .datasource(DATASOURCE)
        .with_target(target(Panel.LAST_TRADE))
        .override_by_name(
            "age_ms", [dashboard_models.DynamicConfigValue(id_val="unit", value="ms")]
        )
        .override_by_name(
            "lag_ms", [dashboard_models.DynamicConfigValue(id_val="unit", value="ms")]
        )
        .height(6)
        .span(12)
    )
    layout: list[tuple[str, list[typing.Any]]] = [
        ("Pipeline health", [last_trade_age, health]),
        ("Activity", [trades_per_second, averages]),
        ("Per symbol", [_per_symbol(price), _per_symbol(volume), _per_symbol(candles)]),
    ]
    built = (
        dashboard.Dashboard("Finnhub market")
        .uid(DASHBOARD_UID)
        .description("Live trades from Finnhub via Kafka and Spark, read from Cassandra.")
        .tags(["finnhub", "market", "cassandra"])
        .timezone("browser")
        .time("now-15m", "now")
        .refresh("1s")
        .timepicker(dashboard.TimePicker().refresh_intervals(REFRESH_INTERVALS))
        .tooltip(dashboard_models.DashboardCursorSync.CROSSHAIR)
        .with_variable(_symbol_variable(keyspace))
    )
    # Grafana keys panel state (links, repeats, edits) by id, and the SDK leaves ids unset:
    # number every row and panel in layout order so ids stay stable across regenerations.
    panel_id = 0
    for row_title, panels in layout:
        panel_id += 1
        built = built.with_row(dashboard.Row(row_title).id(panel_id))
        for panel in panels:
            panel_id += 1
            built = built.with_panel(panel.id(panel_id))
    return built.build()


def dashboard_json(keyspace: str = KEYSPACE) -> str:
    """The dashboard as Grafana provisioning reads it; stable text so diffs stay readable."""
    encoded = JSONEncoder(sort_keys=True, indent=2).encode(build_dashboard(keyspace))
    # Round-trip through json so the committed file is plain, key-sorted JSON text.
    return json.dumps(json.loads(encoded), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
