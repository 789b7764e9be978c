"""Settings from the environment, the reconnect backoff and URL redaction: pure, no services."""

from __future__ import annotations

import random

import pytest
from finnhub_producer.cli import main
from finnhub_producer.feed import reconnect_delay, url_for_logs, url_with_token
from finnhub_producer.settings import ProducerSettings
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ProducerSettings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def test_real_endpoint_without_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="FINNHUB_TOKEN"):
        ProducerSettings()


def test_local_fake_feed_needs_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINNHUB_WS_URL", "ws://127.0.0.1:8765")
    assert ProducerSettings().finnhub_token is None


def test_design_defaults_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINNHUB_TOKEN", "t")
    settings = ProducerSettings()
    assert settings.finnhub_ws_url == "wss://ws.finnhub.io"
    assert settings.kafka_bootstrap_servers == "localhost:9092"
    assert settings.kafka_topic == "market"
    assert settings.kafka_dlq_topic == "market.dlq"
    assert settings.finnhub_symbols == (
        "BINANCE:BTCUSDT",
        "BINANCE:ETHUSDT",
        "BINANCE:XRPUSDT",
        "BINANCE:DOGEUSDT",
    )


def test_symbols_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINNHUB_TOKEN", "t")
    monkeypatch.setenv("FINNHUB_SYMBOLS", " AAPL, IC MARKETS:1 ,,MSFT")
    assert ProducerSettings().finnhub_symbols == ("AAPL", "IC MARKETS:1", "MSFT")


def test_token_is_hidden_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINNHUB_TOKEN", "sekrit-token-123")
    assert "sekrit-token-123" not in repr(ProducerSettings())


def test_help_lists_every_env_var(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in ProducerSettings.model_fields:
        assert name.upper() in out


def test_invalid_settings_exit_2_without_echoing_values(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FINNHUB_TOKEN", "sekrit-token-123")
    monkeypatch.setenv("KAFKA_COMPRESSION", "sekrit-token-123")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "KAFKA_COMPRESSION" in err
    assert "sekrit-token-123" not in err


def test_token_goes_into_the_query_and_not_into_the_log_form() -> None:
    url = url_with_token("wss://ws.finnhub.io/path?x=1", SecretStr("abc"))
    assert url == "wss://ws.finnhub.io/path?x=1&token=abc"
    assert url_for_logs(url) == "wss://ws.finnhub.io/path"
    assert url_for_logs("ws://user:pw@127.0.0.1:99/?token=abc") == "ws://127.0.0.1:99/"


# A shared, busy machine: the default 200 ms deadline would fail on load, not on bugs.
@hypothesis_settings(deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=2**32))
def test_reconnect_delay_stays_between_half_and_all_of_the_capped_ceiling(
    attempt: int, seed: int
) -> None:
    delay = reconnect_delay(attempt, 0.5, 30.0, random.Random(seed))
    ceiling = min(30.0, 0.5 * 2 ** min(attempt, 64))
    assert ceiling / 2 <= delay <= ceiling


def test_reconnect_delay_grows_exponentially_until_the_cap() -> None:
    rng = random.Random(1)
    maxima = [max(reconnect_delay(n, 1.0, 16.0, rng) for _ in range(200)) for n in range(7)]
    assert maxima[0] <= 1.0 < maxima[1] <= 2.0 < maxima[2] <= 4.0 < maxima[3] <= 8.0
    assert maxima[5] <= 16.0 and maxima[6] <= 16.0
