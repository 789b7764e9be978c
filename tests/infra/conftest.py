"""Fixtures of the infra tests: the program rendered once per stack under Pulumi's mocks."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# Test modules import the harness by name (pytest runs with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).parent))

from finnhub_images.catalog import IMAGES
from finnhub_images.references import write_references
from infra_harness import FAKE_DIGEST, Rendered, run_mocked, run_program


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


@pytest.fixture(scope="session")
def local(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The local stack (images by digest from a references file, as `finnhub-images build`
    writes it), with digests standing in for built images."""
    refs = tmp_path_factory.mktemp("refs") / "references.json"
    write_references(
        refs, {image.name: f"127.0.0.1:5000/finnhub-{image.name}@{FAKE_DIGEST}" for image in IMAGES}
    )
    return run_program("local", overrides={"images": {"referencesFile": str(refs)}})


@pytest.fixture(params=["minikube", "eks"], scope="session")
def any_stack(request: pytest.FixtureRequest, minikube: Rendered, eks: Rendered) -> Rendered:
    return minikube if request.param == "minikube" else eks


@pytest.fixture
def mocked() -> Callable[..., Rendered]:
    return run_mocked


@pytest.fixture(params=["minikube", "eks", "minikube-submit", "local"], scope="session")
def every_stack(request: pytest.FixtureRequest) -> Rendered:
    """Every stack and the submit runner: for the rules every rendering must keep."""
    return request.getfixturevalue(request.param.replace("-", "_"))
