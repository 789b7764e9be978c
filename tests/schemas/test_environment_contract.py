"""finnhub_contracts.environment: the names a settings model reads, and the two checks on them."""

from __future__ import annotations

from finnhub_contracts.environment import (
    container_env_names,
    unknown_variables,
    unknown_variables_message,
    unread_variables,
    variable_names,
)
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Plain(BaseSettings):
    kafka_topic: str = "market"
    renamed: str = Field("x", validation_alias="OLD_NAME")


class Prefixed(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOCAL_STACK_")

    kafka_port: int = 9092


def test_variable_names_are_prefix_plus_field_or_the_alias_in_upper_case() -> None:
    assert variable_names(Plain) == {"KAFKA_TOPIC", "OLD_NAME"}
    assert variable_names(Prefixed) == {"LOCAL_STACK_KAFKA_PORT"}
    assert variable_names(Plain, Prefixed) == {"KAFKA_TOPIC", "OLD_NAME", "LOCAL_STACK_KAFKA_PORT"}


def test_a_name_a_starter_sets_that_the_app_does_not_read_is_named() -> None:
    env = {"KAFKA_TOPIC": "market", "KAFKA_TOPICS": "market"}
    assert unread_variables(env, variable_names(Plain)) == ["KAFKA_TOPICS"]
    assert unread_variables({"kafka_topic": "m"}, variable_names(Plain)) == []


def test_container_env_names_reads_kubernetes_env_entries() -> None:
    env = [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"secretKeyRef": {}}}]
    assert container_env_names(env) == ["A", "B"]


def test_unknown_variables_are_those_with_the_apps_prefix_it_does_not_know() -> None:
    environ = {
        "KAFKA_TOPIC": "market",
        "KAFKA_TOPC": "typo",
        "kafka_linger": "lower case counts too",
        "SPARK_HOME": "/opt/spark",
        "HOME": "/root",
    }
    found = unknown_variables(environ, ("KAFKA_", "SPARK_"), {"KAFKA_TOPIC"}, {"SPARK_HOME"})
    assert found == ["KAFKA_TOPC", "kafka_linger"]


def test_the_warning_is_one_line_naming_the_variables_and_no_values() -> None:
    assert unknown_variables_message("app", []) is None
    message = unknown_variables_message("finnhub-producer", ["KAFKA_TOPC", "FINNHUB_TOKN"])
    assert message is not None and "\n" not in message
    assert "FINNHUB_TOKN, KAFKA_TOPC" in message and message.startswith("finnhub-producer")
