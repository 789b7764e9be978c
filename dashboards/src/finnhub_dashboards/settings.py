"""The dashboards' configuration: environment variables -> one typed object."""

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SYMBOLS = ("BINANCE:BTCUSDT", "BINANCE:ETHUSDT", "BINANCE:XRPUSDT", "BINANCE:DOGEUSDT")


class DashboardSettings(BaseSettings):
    """Where the live view and report read from; each field is the env var of the same name."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    cassandra_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("localhost",), description="comma-separated contact points"
    )
    cassandra_port: int = Field(default=9042, ge=1, le=65535, description="CQL native port")
    cassandra_username: str | None = Field(default=None, description="unset = no auth (local)")
    cassandra_password: SecretStr | None = Field(default=None, description="with the username")
    cassandra_keyspace: str = Field(default="market", description="keyspace of the tables")
    finnhub_symbols: Annotated[tuple[str, ...], NoDecode] = Field(
        default=DEFAULT_SYMBOLS, description="comma-separated symbols to show"
    )

    @field_validator("cassandra_hosts", "finnhub_symbols", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("cassandra_keyspace")
    @classmethod
    def _plain_identifier(cls, value: str) -> str:
        # The keyspace is spliced into CQL text, so only a plain identifier is accepted.
        if not value.replace("_", "").isalnum():
            raise ValueError(f"CASSANDRA_KEYSPACE {value!r} is not a plain CQL identifier")
        return value
