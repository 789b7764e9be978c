"""`make run`'s orchestrator gives each child only variables that child reads.

`starter_envs` is the one place that names what the orchestrator builds: when the orchestrator
moves, only it changes; the check itself (`finnhub_contracts.environment.unread_variables`)
takes any env mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from finnhub_contracts.environment import unread_variables, variable_names
from finnhub_processor.settings import SPARK_RUNTIME_VARIABLES, ProcessorSettings
from finnhub_producer.settings import ProducerSettings
from local_pipeline.pipeline import processor_spec, producer_spec

READS = {
    "producer": variable_names(ProducerSettings),
    "processor": variable_names(ProcessorSettings) | SPARK_RUNTIME_VARIABLES,
}


def starter_envs() -> dict[str, Mapping[str, str]]:
    """The environment `make run` adds for each child, by the child's name."""
    producer = producer_spec("127.0.0.1:9092", ("AAPL",), "ws://127.0.0.1:1", 40.0, 0)
    processor = processor_spec(
        "127.0.0.1:9092", "127.0.0.1", 9042, [Path("/j/a.jar")], Path("/c"), 90.0
    )
    return {"producer": producer.env, "processor": processor.env}


@pytest.mark.parametrize("child", sorted(READS))
def test_make_run_sets_only_variables_its_child_reads(child: str) -> None:
    env = starter_envs()[child]
    assert env and unread_variables(env, READS[child]) == []


def test_a_renamed_variable_in_a_starters_env_is_named() -> None:
    env = {**starter_envs()["producer"], "KAFKA_BOOTSTRAP": "127.0.0.1:9092"}
    assert unread_variables(env, READS["producer"]) == ["KAFKA_BOOTSTRAP"]
