"""split_cql_statements: a CQL script becomes its statements, comments and quoting respected."""

from __future__ import annotations

from finnhub_contracts.cassandra import setup_cql
from local_stack.schema import split_cql_statements


def test_statements_are_split_on_semicolons_and_trimmed() -> None:
    assert split_cql_statements("SELECT 1 ;\n  SELECT 2;") == ["SELECT 1", "SELECT 2"]


def test_last_statement_without_semicolon_is_kept() -> None:
    assert split_cql_statements("SELECT 1; SELECT 2") == ["SELECT 1", "SELECT 2"]


def test_double_dash_comments_are_dropped_even_with_semicolons_inside() -> None:
    script = "-- a; b\nSELECT 1; -- trailing; note\n-- only a comment\n"
    assert split_cql_statements(script) == ["SELECT 1"]


def test_double_slash_and_block_comments_are_dropped() -> None:
    script = "// x; y\nSELECT /* a; b */ 1;\n/* whole;\nblock */"
    assert split_cql_statements(script) == ["SELECT   1"]


def test_semicolon_and_dashes_inside_a_string_are_text() -> None:
    script = "INSERT INTO t (a) VALUES ('x; -- y');"
    assert split_cql_statements(script) == ["INSERT INTO t (a) VALUES ('x; -- y')"]


def test_doubled_quote_inside_a_string_does_not_end_it() -> None:
    script = "INSERT INTO t (a) VALUES ('it''s; fine'); SELECT 2;"
    assert split_cql_statements(script) == [
        "INSERT INTO t (a) VALUES ('it''s; fine')",
        "SELECT 2",
    ]


def test_quoted_identifier_and_dollar_string_keep_their_semicolons() -> None:
    script = 'SELECT "odd;name" FROM t; CREATE FUNCTION f() AS $$ return 1; $$;'
    assert split_cql_statements(script) == [
        'SELECT "odd;name" FROM t',
        "CREATE FUNCTION f() AS $$ return 1; $$",
    ]


def test_script_of_only_comments_and_blanks_has_no_statements() -> None:
    assert split_cql_statements("\n-- nothing\n  ;\n// here\n") == []


def test_project_cql_splits_into_keyspace_then_tables() -> None:
    statements = split_cql_statements(setup_cql())
    assert statements[0].startswith("CREATE KEYSPACE IF NOT EXISTS market")
    assert all(s.startswith("CREATE ") and "IF NOT EXISTS" in s for s in statements)
    assert any(s.startswith("CREATE TABLE IF NOT EXISTS market.trades") for s in statements)
    assert not any("--" in s for s in statements)
