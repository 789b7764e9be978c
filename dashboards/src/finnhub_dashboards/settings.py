"""The dashboards' configuration: environment variables -> one typed object."""

import sys
from collections.abc import Mapping
from typing import Annotated

from finnhub_contracts.cassandra import KEYSPACE, check_keyspace
from finnhub_contracts.environment import (
    unknown_variables,
    unknown_variables_message,
    variable_names,
)
from finnhub_contracts.symbols import DEFAULT_SYMBOLS
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class DashboardSettings(BaseSettings):
    """Where the live view and report read from; each field is the env var of the same name."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    cassandra_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("localhost",), description="comma-separated contact points"
    )
    cassandra_port: int = Field(default=9042, ge=1, le=65535, description="CQL native port")
    cassandra_username: str | None = Field(default=None, description="unset = no auth (local)")
    cassandra_password: SecretStr | None = Field(default=None, description="with the username")
    cassandra_keyspace: str = Field(default=KEYSPACE, description="keyspace of the tables")
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
        return check_keyspace(value)


# The prefix of the dashboards' own variables. Not FINNHUB_: `make run` runs the live view beside
# the producer, whose FINNHUB_TOKEN, FINNHUB_WS_URL... share that environment.
ENV_PREFIXES = ("CASSANDRA_",)


def unknown_environment(environ: Mapping[str, str]) -> list[str]:
    """Variables with the dashboards' prefix that they do not read (a typo, a renamed one)."""
    return unknown_variables(environ, ENV_PREFIXES, variable_names(DashboardSettings))


def warn_about_unknown_environment(program: str, environ: Mapping[str, str]) -> None:
    """One warning line on stderr naming the dashboard-prefixed variables nothing reads."""
    if message := unknown_variables_message(program, unknown_environment(environ)):
        print(f"warning: {message}", file=sys.stderr)
