"""The producer's configuration: environment variables -> one typed object."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated
from urllib.parse import urlsplit

from finnhub_contracts.environment import unknown_variables, variable_names
from finnhub_contracts.kafka import DLQ_TOPIC, TOPIC
from finnhub_contracts.symbols import DEFAULT_SYMBOLS
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

FINNHUB_WS_URL = "wss://ws.finnhub.io"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# The one list of codecs: the validator, `--help` and the README test all read it.
COMPRESSION_CODECS = ("lz4", "zstd", "snappy", "gzip", "none")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Kafka's own rule for topic names (kafka.common.internals.Topic).
_TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")


def _url_problem(url: str, schemes: tuple[str, ...]) -> str | None:
    """Why `url` is not an absolute URL with one of `schemes` and a host, or None."""
    wanted = " or ".join(f"{scheme}://" for scheme in schemes)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        return f"must be a {wanted} URL with a valid port"
    if parts.scheme not in schemes or not parts.hostname:
        return f"must be a {wanted} URL with a host, such as {schemes[-1]}://host:port"
    return None


def _bootstrap_problem(servers: str) -> str | None:
    entries = [entry.strip() for entry in servers.split(",")]
    if not any(entries):
        return "names no broker; give host:port[,host:port...]"
    for entry in entries:
        host, _, port = entry.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            return "each broker must be host:port with a port 1-65535, comma-separated"
    return None


class ProducerSettings(BaseSettings):
    """Every knob of the producer; each field is read from the env var of the same name."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    # Before the token: the token's check needs to know whether the URL is a local fake feed.
    finnhub_ws_url: str = Field(default=FINNHUB_WS_URL, description="Finnhub websocket endpoint")
    finnhub_token: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="Finnhub API token; required unless the URL is a local fake feed",
    )
    finnhub_symbols: Annotated[tuple[str, ...], NoDecode] = Field(
        default=DEFAULT_SYMBOLS, description="comma-separated symbols to subscribe"
    )
    finnhub_validate_symbols: bool = Field(
        default=False, description="check each symbol with Finnhub's symbol lookup before starting"
    )
    finnhub_rest_url: str = Field(
        default="https://finnhub.io/api/v1", description="Finnhub REST API, for symbol lookup"
    )
    kafka_bootstrap_servers: str = Field(default="localhost:9092", description="Kafka brokers")
    kafka_topic: str = Field(default=TOPIC, description="topic for Avro trade messages")
    kafka_dlq_topic: str = Field(default=DLQ_TOPIC, description="topic for dead-letter frames")
    kafka_compression: str = Field(
        default="lz4", description=f"compression codec: {', '.join(COMPRESSION_CODECS)}"
    )
    kafka_linger_ms: int = Field(default=20, ge=0, description="batching delay before a send")
    kafka_batch_size: int = Field(default=262144, gt=0, description="max bytes per batch")
    kafka_queue_max_messages: int = Field(
        default=100000, gt=0, description="bound of the local send queue (backpressure above it)"
    )
    kafka_delivery_timeout_ms: int = Field(
        default=300000, gt=0, description="how long a message may wait for the broker's ack"
    )
    metrics_port: int = Field(
        default=9108, ge=0, le=65535, description="port for /metrics and /healthz (0 = any free)"
    )
    # Loopback unless told otherwise: a laptop's producer serves nobody else; a pod sets 0.0.0.0
    # so the kubelet's probes and the metrics Service reach it.
    metrics_host: str = Field(default="127.0.0.1", description="address for /metrics and /healthz")
    reconnect_initial_s: float = Field(default=0.5, gt=0, description="first reconnect delay")
    reconnect_max_s: float = Field(default=30.0, gt=0, description="cap of the reconnect delay")
    stall_timeout_s: float = Field(
        default=30.0, gt=0, description="reconnect when no frame (not even a ping) for this long"
    )
    liveness_timeout_s: float = Field(
        default=60.0, gt=0, description="/healthz fails when the main loop is stuck this long"
    )
    log_summary_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="while Kafka fails: one summary line per this many seconds, not one per error",
    )
    log_level: str = Field(default="INFO", description=", ".join(LOG_LEVELS))

    @field_validator("finnhub_symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(s.strip() for s in value.split(",") if s.strip())
        return value

    @field_validator("finnhub_symbols")
    @classmethod
    def _at_least_one_symbol(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("FINNHUB_SYMBOLS names no symbol")
        return value

    @field_validator("finnhub_ws_url")
    @classmethod
    def _websocket_url(cls, value: str) -> str:
        if problem := _url_problem(value, ("ws", "wss")):
            raise ValueError(problem)
        return value

    @field_validator("finnhub_token")
    @classmethod
    def _token_for_real_endpoint(cls, value: SecretStr | None, info: ValidationInfo) -> object:
        if value is not None and not value.get_secret_value():
            value = None
        url = info.data.get("finnhub_ws_url")
        # A bad URL is reported as such; whether it needs a token cannot be told.
        if value is None and url is not None and not _is_local(url):
            raise ValueError(
                f"not set; it is required for {urlsplit(url).hostname} "
                "(point FINNHUB_WS_URL at a local fake feed to run without one)"
            )
        return value

    @field_validator("finnhub_rest_url")
    @classmethod
    def _rest_url(cls, value: str) -> str:
        if problem := _url_problem(value, ("http", "https")):
            raise ValueError(problem)
        return value

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_servers(cls, value: str) -> str:
        if problem := _bootstrap_problem(value):
            raise ValueError(problem)
        return value

    @field_validator("kafka_topic", "kafka_dlq_topic")
    @classmethod
    def _topic_name(cls, value: str, info: ValidationInfo) -> str:
        if not _TOPIC_NAME.fullmatch(value) or value in {".", ".."}:
            raise ValueError("a Kafka topic name is 1-249 of the characters a-z A-Z 0-9 . _ -")
        if info.field_name == "kafka_dlq_topic" and value == info.data.get("kafka_topic"):
            raise ValueError("must differ from KAFKA_TOPIC")
        return value

    @field_validator("kafka_compression")
    @classmethod
    def _known_compression(cls, value: str) -> str:
        if value not in COMPRESSION_CODECS:
            raise ValueError(f"must be one of {', '.join(COMPRESSION_CODECS)}")
        return value

    @field_validator("kafka_delivery_timeout_ms")
    @classmethod
    def _timeout_above_linger(cls, value: int, info: ValidationInfo) -> int:
        # librdkafka refuses a message timeout that a batch's linger alone could use up.
        linger = info.data.get("kafka_linger_ms")
        if linger is not None and value <= linger:
            raise ValueError(f"must be greater than KAFKA_LINGER_MS ({linger})")
        return value

    @field_validator("metrics_host")
    @classmethod
    def _ip_address(cls, value: str) -> str:
        # An address, not a name: the producer resolves no names of its own.
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("must be an IP address, such as 0.0.0.0 or 127.0.0.1") from None
        return value

    @field_validator("reconnect_max_s")
    @classmethod
    def _cap_above_initial(cls, value: float, info: ValidationInfo) -> float:
        initial = info.data.get("reconnect_initial_s")
        if initial is not None and value < initial:
            raise ValueError(f"must be at least RECONNECT_INITIAL_S ({initial})")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @property
    def is_local_feed(self) -> bool:
        """A feed on this machine (the fake server) needs no real token."""
        return _is_local(self.finnhub_ws_url)


def _is_local(url: str) -> bool:
    return urlsplit(url).hostname in LOCAL_HOSTS


def settings_problems(error: ValidationError | SettingsError) -> str:
    """Every rejected variable with its reason, on one line, never the rejected value (it
    could be a secret)."""
    if isinstance(error, SettingsError):
        return str(error)
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]).upper() if item["loc"] else "settings"
        reason = item["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {reason}")
    return "; ".join(problems)


def describe_settings() -> str:
    """Env vars, defaults and meaning, for `--help`."""
    lines = ["environment variables:"]
    for name, field in ProducerSettings.model_fields.items():
        default = field.default
        if isinstance(default, tuple):
            default = ",".join(default)
        shown = "unset" if default is None else default
        lines.append(f"  {name.upper():<28} {field.description} (default: {shown})")
    return "\n".join(lines)


# The prefixes of the producer's own variables: one of these that it does not know is reported
# at start. LOG_LEVEL, STALL_TIMEOUT_S and LIVENESS_TIMEOUT_S are too generic a prefix to claim.
ENV_PREFIXES = ("FINNHUB_", "KAFKA_", "METRICS_", "RECONNECT_")


def unknown_environment(environ: Mapping[str, str]) -> list[str]:
    """Variables with the producer's prefixes that it does not read (a typo, a renamed one)."""
    return unknown_variables(environ, ENV_PREFIXES, variable_names(ProducerSettings))
