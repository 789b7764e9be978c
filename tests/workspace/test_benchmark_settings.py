"""The benchmarks start the apps too: every settings field they pass by keyword and every env
name they set in an `env` mapping is one an app reads. Read from the scripts' source (they are
scripts that start real services, not importable test code)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from finnhub_contracts.environment import unread_variables, variable_names
from finnhub_dashboards.settings import DashboardSettings
from finnhub_processor.settings import SPARK_RUNTIME_VARIABLES, ProcessorSettings
from finnhub_producer.settings import ProducerSettings
from local_stack.settings import LocalStackSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = sorted((REPO_ROOT / "benchmarks").glob("*.py"))
MODELS = {
    model.__name__: model
    for model in (ProducerSettings, ProcessorSettings, DashboardSettings, LocalStackSettings)
}
EVERY_APPS_VARIABLES = variable_names(*MODELS.values()) | SPARK_RUNTIME_VARIABLES


def settings_keywords(source: str) -> list[tuple[str, str]]:
    """(model name, keyword) of every `<Model>(keyword=...)` call of a known settings model."""
    found = []
    for node in ast.walk(ast.parse(source)):
        call = isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        if call and node.func.id in MODELS:
            found += [(node.func.id, kw.arg) for kw in node.keywords if kw.arg]
    return found


def env_names(source: str) -> list[str]:
    """The string keys of every dict passed as an `env=` keyword."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.keyword) and node.arg == "env" and isinstance(node.value, ast.Dict):
            names += [
                key.value
                for key in node.value.keys
                if isinstance(key, ast.Constant) and isinstance(key.value, str)
            ]
    return names


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.name)
def test_benchmarks_pass_only_fields_the_settings_have(script: Path) -> None:
    # extra="ignore" would drop a misspelt keyword silently and run on the default.
    source = script.read_text()
    unknown = [(m, kw) for m, kw in settings_keywords(source) if kw not in MODELS[m].model_fields]
    assert unknown == []


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.name)
def test_benchmarks_set_only_variables_an_app_reads(script: Path) -> None:
    assert unread_variables(env_names(script.read_text()), EVERY_APPS_VARIABLES) == []


def test_the_source_checks_see_a_misspelt_field_and_variable() -> None:
    source = 'ProcessorSettings(kafka_topik="t")\nrun(env={"KAFKA_TOPIK": "t"})\n'
    assert settings_keywords(source) == [("ProcessorSettings", "kafka_topik")]
    assert unread_variables(env_names(source), EVERY_APPS_VARIABLES) == ["KAFKA_TOPIK"]


def test_the_benchmarks_are_read_at_all() -> None:
    sources = "".join(script.read_text() for script in BENCHMARKS)
    assert settings_keywords(sources) and env_names(sources)
