"""The producer's configuration: environment variables -> one typed object."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

FINNHUB_WS_URL = "wss://ws.finnhub.io"
DEFAULT_SYMBOLS = ("BINANCE:BTCUSDT", "BINANCE:ETHUSDT", "BINANCE:XRPUSDT", "BINANCE:DOGEUSDT")
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class MissingTokenError(ValueError):
    """The real Finnhub endpoint was configured without FINNHUB_TOKEN."""


class ProducerSettings(BaseSettings):
    """Every knob of the producer; each field is read from the env var of the same name."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    finnhub_token: SecretStr | None = Field(
        default=None, description="Finnhub API token; required unless the URL is a local fake feed"
    )
    finnhub_ws_url: str = Field(default=FINNHUB_WS_URL, description="Finnhub websocket endpoint")
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
    kafka_topic: str = Field(default="market", description="topic for Avro trade messages")
    kafka_dlq_topic: str = Field(default="market.dlq", description="topic for dead-letter frames")
    kafka_compression: str = Field(default="lz4", description="lz4 or zstd")
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
    metrics_host: str = Field(default="0.0.0.0", description="address for /metrics and /healthz")
    reconnect_initial_s: float = Field(default=0.5, gt=0, description="first reconnect delay")
    reconnect_max_s: float = Field(default=30.0, gt=0, description="cap of the reconnect delay")
    stall_timeout_s: float = Field(
        default=30.0, gt=0, description="reconnect when no frame (not even a ping) for this long"
    )
    liveness_timeout_s: float = Field(
        default=60.0, gt=0, description="/healthz fails when the main loop is stuck this long"
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING, ERROR")

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

    @field_validator("kafka_compression")
    @classmethod
    def _known_compression(cls, value: str) -> str:
        if value not in {"lz4", "zstd", "snappy", "gzip", "none"}:
            raise ValueError("must be one of lz4, zstd, snappy, gzip, none")
        return value

    @model_validator(mode="after")
    def _token_for_real_endpoint(self) -> ProducerSettings:
        if self.finnhub_token is None and not self.is_local_feed:
            raise MissingTokenError(
                f"FINNHUB_TOKEN is not set; it is required for {self.finnhub_ws_url} "
                "(point FINNHUB_WS_URL at a local fake feed to run without one)"
            )
        return self

    @property
    def is_local_feed(self) -> bool:
        """A feed on this machine (the fake server) needs no real token."""
        return urlsplit(self.finnhub_ws_url).hostname in LOCAL_HOSTS


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
