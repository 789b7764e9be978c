"""The contracts package: its CQL creates exactly the tables and columns the constants name,
for `market` or any other keyspace, and the schema files are package data."""

from __future__ import annotations

import json
import re

import pytest
from finnhub_contracts import avro, cassandra
from local_stack.schema import split_cql_statements

CREATE_TABLE = re.compile(
    r"CREATE TABLE IF NOT EXISTS (?P<keyspace>\w+)\.(?P<table>\w+)\s*\((?P<body>.*)\)\s*WITH",
    re.DOTALL,
)


def tables_in(cql: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Table -> (keyspace, column names in order) of every CREATE TABLE in `cql`."""
    found = {}
    for statement in split_cql_statements(cql):
        match = CREATE_TABLE.search(statement)
        if match is None:
            continue
        columns = tuple(
            line.strip().split()[0]
            for line in match.group("body").split(",\n")
            if line.strip() and not line.strip().startswith("PRIMARY KEY")
        )
        found[match.group("table")] = (match.group("keyspace"), columns)
    return found


def test_the_cql_creates_exactly_the_contracts_tables_and_columns() -> None:
    tables = tables_in(cassandra.setup_cql())
    assert {name: columns for name, (_, columns) in tables.items()} == cassandra.COLUMNS
    assert {keyspace for keyspace, _ in tables.values()} == {cassandra.KEYSPACE}


def test_the_table_check_sees_a_column_the_constants_lack() -> None:
    cql = cassandra.setup_cql().replace("    vwap double,\n", "    vwap double,\n    extra int,\n")
    tables = tables_in(cql)
    assert tables[cassandra.TRADE_WINDOWS_TABLE][1] != cassandra.TRADE_WINDOW_COLUMNS


def test_the_running_averages_table_is_named_for_the_window_length() -> None:
    assert f"{cassandra.WINDOW_SECONDS} seconds" == cassandra.WINDOW_DURATION
    assert cassandra.RUNNING_AVERAGES_TABLE == "running_averages_15_sec"


def test_setup_cql_for_another_keyspace_names_only_that_keyspace() -> None:
    cql = cassandra.setup_cql("bench_1")
    tables = tables_in(cql)
    assert {keyspace for keyspace, _ in tables.values()} == {"bench_1"}
    assert "CREATE KEYSPACE IF NOT EXISTS bench_1" in cql
    code = "\n".join(line for line in cql.splitlines() if not line.lstrip().startswith("--"))
    assert not re.search(r"\bmarket\b", code)


@pytest.mark.parametrize("keyspace", ["", "1abc", "market; DROP", 'a"b', "x" * 49])
def test_a_keyspace_that_is_no_plain_identifier_is_refused(keyspace: str) -> None:
    with pytest.raises(ValueError, match="plain CQL identifier"):
        cassandra.setup_cql(keyspace)


def test_the_schema_and_the_older_writer_schemas_are_package_data() -> None:
    current = json.loads(avro.trades_schema())
    assert current["name"] == "message" and current["namespace"] == "FinnhubProducer"
    older = [json.loads(text) for text in avro.older_writer_schemas()]
    assert older and all(schema["name"] == "message" for schema in older)
