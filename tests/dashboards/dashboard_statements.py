"""Every CQL statement a dashboard JSON makes Grafana run: panel targets and variable queries."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from finnhub_contracts.versions import CASSANDRA_DATASOURCE_PLUGIN


@dataclass(frozen=True)
class DashboardStatement:
    source: str  # "panel <id> <title>" or "variable <name>", for messages
    cql: str


def _panels(panels: list[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for panel in panels:
        yield panel
        # Collapsed rows carry their panels inside them.
        yield from _panels(panel.get("panels", []))


def _is_cassandra(datasource: Mapping[str, Any] | None) -> bool:
    return datasource is not None and datasource.get("type") == CASSANDRA_DATASOURCE_PLUGIN


def dashboard_statements(dashboard: Mapping[str, Any]) -> list[DashboardStatement]:
    """Statements of every Cassandra target and query variable, in dashboard order."""
    statements = []
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query" and _is_cassandra(variable.get("datasource")):
            query = variable["query"]
            cql = query["query"] if isinstance(query, Mapping) else query
            statements.append(DashboardStatement(f"variable {variable['name']}", cql))
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            datasource = target.get("datasource") or panel.get("datasource")
            if _is_cassandra(datasource) and target.get("rawQuery"):
                source = f"panel {panel.get('id')} {panel.get('title')!r} {target['refId']}"
                statements.append(DashboardStatement(source, target["target"]))
    return statements
