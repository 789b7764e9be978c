from datetime import UTC, datetime

import pytest
from finnhub_dashboards.macros import UnresolvedVariableError, render_cql

FROM = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
TO = datetime(2026, 1, 2, 4, 4, 5, tzinfo=UTC)


def test_time_macros_become_epoch_milliseconds() -> None:
    cql = render_cql("t > $__timeFrom AND t < $__timeTo", FROM, TO, {})
    assert cql == "t > 1767323045678 AND t < 1767326645000"


def test_unix_epoch_macros_become_seconds() -> None:
    cql = render_cql("t > $__unixEpochFrom() AND t < $__unixEpochTo", FROM, TO, {})
    assert cql == "t > 1767323045 AND t < 1767326645"


def test_singlequote_variable_lists_quoted_values_with_quotes_doubled() -> None:
    cql = render_cql("s IN (${symbol:singlequote})", FROM, TO, {"symbol": ["A:B", "it's"]})
    assert cql == "s IN ('A:B','it''s')"


def test_plain_variable_joins_values() -> None:
    assert render_cql("$n and ${n}", FROM, TO, {"n": ["1", "2"]}) == "1,2 and 1,2"


def test_unknown_variable_is_an_error() -> None:
    with pytest.raises(UnresolvedVariableError):
        render_cql("s = $other", FROM, TO, {"symbol": ["X"]})


def test_unknown_format_is_an_error() -> None:
    with pytest.raises(UnresolvedVariableError):
        render_cql("s IN (${symbol:csv})", FROM, TO, {"symbol": ["X"]})


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValueError, match="time zone"):
        render_cql("$__timeFrom", datetime(2026, 1, 1), TO, {})
