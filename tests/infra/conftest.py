"""Fixtures of the infra tests: the program rendered once per stack under Pulumi's mocks."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# Test modules import the harness by name (pytest runs with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).parent))

from infra_harness import Rendered, run_mocked, run_program


@pytest.fixture(scope="session")
def minikube() -> Rendered:
    return run_program("minikube")


@pytest.fixture(scope="session")
def eks() -> Rendered:
    return run_program("eks")


@pytest.fixture(scope="session")
def minikube_submit() -> Rendered:
    """The minikube stack with the processor on Spark's own scheduler (`spark.runner: submit`)."""
    return run_program("minikube", overrides={"spark": {"runner": "submit"}})


@pytest.fixture(params=["minikube", "eks"], scope="session")
def any_stack(request: pytest.FixtureRequest, minikube: Rendered, eks: Rendered) -> Rendered:
    return minikube if request.param == "minikube" else eks


@pytest.fixture
def mocked() -> Callable[..., Rendered]:
    return run_mocked


@pytest.fixture(params=["minikube", "eks", "minikube-submit"], scope="session")
def every_stack(request: pytest.FixtureRequest) -> Rendered:
    """Both stacks and the submit runner: for the rules every rendering must keep."""
    return request.getfixturevalue(request.param.replace("-", "_"))
