"""Settings from the environment, the reconnect backoff and URL redaction: pure, no services."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import Producer
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
    with pytest.raises(ValidationError, match=r"(?i)finnhub_token"):
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


def test_metrics_listen_on_loopback_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINNHUB_TOKEN", "t")
    assert ProducerSettings().metrics_host == "127.0.0.1"


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


def _env_for_main(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """Safe surroundings in case validation lets a setting through: nothing leaves loopback."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    monkeypatch.setenv("METRICS_HOST", "127.0.0.1")
    monkeypatch.setenv("METRICS_PORT", "0")
    for name, value in env.items():
        monkeypatch.setenv(name, value)


BAD_SETTINGS = [
    ("FINNHUB_WS_URL", "notaurl"),
    ("FINNHUB_WS_URL", "https://ws.finnhub.io"),
    ("FINNHUB_WS_URL", "wss://:443"),
    ("FINNHUB_WS_URL", "wss://ws.finnhub.io:notaport"),
    ("FINNHUB_REST_URL", "ftp://finnhub.io/api/v1"),
    ("FINNHUB_VALIDATE_SYMBOLS", "perhaps"),
    ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1"),
    ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:99999"),
    ("KAFKA_BOOTSTRAP_SERVERS", " , "),
    ("KAFKA_TOPIC", "market trades"),
    ("KAFKA_DLQ_TOPIC", "market"),
    ("KAFKA_COMPRESSION", "brotli"),
    ("KAFKA_LINGER_MS", "soon"),
    ("KAFKA_DELIVERY_TIMEOUT_MS", "10"),
    ("METRICS_HOST", "metrics.example"),
    ("METRICS_PORT", "65536"),
    ("RECONNECT_MAX_S", "0.1"),
    ("LOG_LEVEL", "chatty"),
]


@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS)
def test_each_bad_setting_is_one_line_naming_the_variable_and_exit_2(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env_for_main(monkeypatch, FINNHUB_TOKEN="t", **{name: value})
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"{name}: " in err
    assert "Traceback" not in err


def test_a_bad_url_without_a_token_is_reported_as_the_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env_for_main(monkeypatch, FINNHUB_WS_URL="notaurl")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "FINNHUB_WS_URL: " in err
    assert "FINNHUB_TOKEN" not in err


def test_every_bad_variable_is_named_in_one_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {"KAFKA_COMPRESSION": "brotli", "METRICS_PORT": "-1", "LOG_LEVEL": "chatty"}
    _env_for_main(monkeypatch, FINNHUB_TOKEN="t", **bad)
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for name in bad:
        assert f"{name}: " in err


def test_a_missing_token_is_named_alongside_other_bad_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env_for_main(monkeypatch, KAFKA_COMPRESSION="brotli")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "FINNHUB_TOKEN: " in err and "KAFKA_COMPRESSION: " in err


def test_console_script_refuses_a_bad_url_with_a_message_not_a_traceback() -> None:
    environment = {
        **{k: v for k, v in os.environ.items() if k.upper() not in _SETTING_NAMES},
        "FINNHUB_TOKEN": "sekrit-token-123",
        "FINNHUB_WS_URL": "notaurl",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "METRICS_HOST": "127.0.0.1",
        "METRICS_PORT": "0",
    }
    script = Path(sys.executable).parent / "finnhub-producer"
    done = subprocess.run(
        [str(script)], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "FINNHUB_WS_URL: " in done.stderr
    assert "Traceback" not in done.stderr and "sekrit-token-123" not in done.stderr


_SETTING_NAMES = {name.upper() for name in ProducerSettings.model_fields}

# A superset of what anyone might try: the settings decide which of them are accepted.
CANDIDATE_CODECS = ("lz4", "zstd", "snappy", "gzip", "none", "brotli", "lzo", "deflate", "LZ4")


def _accepted_codecs() -> set[str]:
    accepted = set()
    for codec in CANDIDATE_CODECS:
        try:
            ProducerSettings(finnhub_token="t", kafka_compression=codec)
        except ValidationError:
            continue
        accepted.add(codec)
    return accepted


def _codecs_named(text: str) -> set[str]:
    return {c for c in CANDIDATE_CODECS if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", text)}


def test_help_lists_exactly_the_accepted_compression_codecs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    (line,) = [li for li in capsys.readouterr().out.splitlines() if "KAFKA_COMPRESSION" in li]
    described = line.split("KAFKA_COMPRESSION", 1)[1].split("(default:", 1)[0]
    assert _codecs_named(described) == _accepted_codecs()


def test_readme_lists_exactly_the_accepted_compression_codecs() -> None:
    readme = (Path(__file__).parents[2] / "apps/producer/README.md").read_text()
    (row,) = [li for li in readme.splitlines() if li.startswith("| `KAFKA_COMPRESSION`")]
    meaning = row.split("|")[3]
    assert _codecs_named(meaning) == _accepted_codecs()


@pytest.mark.parametrize("codec", sorted(_accepted_codecs()))
def test_librdkafka_accepts_every_accepted_codec(codec: str) -> None:
    # Construction validates compression.type against what this librdkafka build supports.
    Producer({"compression.type": codec, "client.id": "codec-check"}).flush(0)
