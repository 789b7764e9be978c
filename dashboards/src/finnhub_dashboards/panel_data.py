"""Run a dashboard panel's CQL outside Grafana, as the Cassandra plugin would run it."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cassandra.cluster import Session

from finnhub_dashboards.macros import render_cql
from finnhub_dashboards.queries import Panel, panel_queries


def as_utc(moment: datetime | None) -> datetime | None:
    """The driver returns naive datetimes that are UTC; make them explicit."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def fetch_panel(
    session: Session,
    keyspace: str,
    panel: Panel,
    symbols: Sequence[str],
    time_from: datetime,
    time_to: datetime,
) -> list[dict[str, Any]]:
    """Rows of `panel` for `symbols` in [time_from, time_to], timestamps as aware UTC."""
    cql = render_cql(
        panel_queries(keyspace)[panel].cql, time_from, time_to, {"symbol": list(symbols)}
    )
    rows = []
    for row in session.execute(cql):
        values = row._asdict()
        rows.append(
            {
                name: as_utc(value) if isinstance(value, datetime) else value
                for name, value in values.items()
            }
        )
    return rows
