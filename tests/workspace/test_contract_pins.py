"""Pins a pyproject must write out by hand (it cannot import Python) equal the contracts' own,
and every part that needs a contract depends on the package that holds it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from finnhub_contracts.versions import CQLSH_VERSION, SPARK_VERSION

REPO_ROOT = Path(__file__).resolve().parents[2]
# Each part that reads a contract: its pyproject must name the contracts package.
READERS = (
    "apps/producer",
    "apps/fake-feed",
    "apps/processor",
    "apps/local-stack",
    "infra",
    "dashboards",
    "images",
    ".",
)


def pyproject(folder: str) -> dict:
    return tomllib.loads((REPO_ROOT / folder / "pyproject.toml").read_text())


def pinned(requirements: list[str], name: str) -> str | None:
    for requirement in requirements:
        match = re.fullmatch(rf"{re.escape(name)}==(\S+)", requirement.strip())
        if match:
            return match.group(1)
    return None


def test_the_processors_pyspark_is_the_contracts_spark() -> None:
    dependencies = pyproject("apps/processor")["project"]["dependencies"]
    assert pinned(dependencies, "pyspark") == SPARK_VERSION


def test_the_dev_groups_cqlsh_is_the_one_the_cassandra_image_carries() -> None:
    dev = pyproject(".")["dependency-groups"]["dev"]
    assert pinned(dev, "cqlsh") == CQLSH_VERSION


def test_the_pin_reader_fails_on_another_version() -> None:
    assert pinned(["pyspark==4.1.0"], "pyspark") == "4.1.0" != SPARK_VERSION


@pytest.mark.parametrize("folder", READERS)
def test_every_reader_depends_on_the_contracts_package(folder: str) -> None:
    data = pyproject(folder)
    assert "finnhub-contracts" in data["project"]["dependencies"], folder


def test_the_contracts_package_is_a_workspace_member() -> None:
    members = pyproject(".")["tool"]["uv"]["workspace"]["members"]
    assert "contracts" in members
