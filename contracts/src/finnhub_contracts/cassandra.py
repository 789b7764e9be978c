"""Keyspace `market`: its tables and their columns, and the CQL that creates them.

The processor writes these tables (its sinks name the columns from here), the dashboards read
them, local-stack and the Kubernetes schema Job apply `cassandra-setup.cql`. The file names the
keyspace `market`; `setup_cql` renders it for another keyspace (the tests' and benchmarks' own),
so a CASSANDRA_KEYSPACE other than `market` gets the same tables.
"""

from __future__ import annotations

import re
from importlib import resources

KEYSPACE = "market"
CQL_FILE = "cassandra-setup.cql"

# The windows are tumbling event-time windows of this length; the running-averages table says
# so in its name, so the length is a contract, not a setting.
WINDOW_SECONDS = 15
WINDOW_DURATION = f"{WINDOW_SECONDS} seconds"

TRADES_TABLE = "trades"
RUNNING_AVERAGES_TABLE = f"running_averages_{WINDOW_SECONDS}_sec"
TRADE_WINDOWS_TABLE = "trade_windows"
TABLES = (TRADES_TABLE, RUNNING_AVERAGES_TABLE, TRADE_WINDOWS_TABLE)

TRADE_COLUMNS = (
    "symbol",
    "trade_timestamp",
    "uuid",
    "trade_conditions",
    "price",
    "volume",
    "ingest_timestamp",
)
RUNNING_AVERAGE_COLUMNS = (
    "symbol",
    "window_start",
    "window_end",
    "uuid",
    "price_volume_multiply",
    "trade_count",
    "ingest_timestamp",
)
TRADE_WINDOW_COLUMNS = (
    "symbol",
    "window_start",
    "window_end",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "price_volume_sum",
    "vwap",
    "trade_count",
    "ingest_timestamp",
)
COLUMNS = {
    TRADES_TABLE: TRADE_COLUMNS,
    RUNNING_AVERAGES_TABLE: RUNNING_AVERAGE_COLUMNS,
    TRADE_WINDOWS_TABLE: TRADE_WINDOW_COLUMNS,
}

_PLAIN_IDENTIFIER = re.compile(r"[a-zA-Z][a-zA-Z0-9_]{0,47}")
# `market` where the file names the keyspace: `KEYSPACE IF NOT EXISTS market` and `market.<table>`.
_KEYSPACE_IN_CQL = re.compile(rf"(?<=KEYSPACE IF NOT EXISTS ){KEYSPACE}\b|\b{KEYSPACE}(?=\.)")


def check_keyspace(keyspace: str) -> str:
    """`keyspace` if it is a plain (unquoted) CQL identifier, else ValueError: it is spliced
    into CQL text, so nothing else is accepted."""
    if not _PLAIN_IDENTIFIER.fullmatch(keyspace):
        raise ValueError(
            f"{keyspace!r} is not a plain CQL identifier (a letter, then letters, digits or _)"
        )
    return keyspace


def setup_cql(keyspace: str = KEYSPACE) -> str:
    """The schema script, creating the tables in `keyspace` (default: `market`, as the file)."""
    text = resources.files(__package__).joinpath(CQL_FILE).read_text("utf-8")
    if keyspace == KEYSPACE:
        return text
    return _KEYSPACE_IN_CQL.sub(check_keyspace(keyspace), text)
