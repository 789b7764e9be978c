"""`spark.runner` picks the processor's component; the stack exports where its pods come from."""

from __future__ import annotations

import pulumi
import pytest
from finnhub_infra.components.processor_workload import ProcessorWorkloadArgs
from finnhub_infra.components.spark_operator import SparkOperatorStack
from finnhub_infra.components.spark_submit import SparkSubmitStack
from finnhub_infra.config import SparkConfig
from finnhub_infra.processor_runner import checkpoint_storage_class, run_processor, runner_export
from infra_harness import Rendered, processor_wiring, run_mocked


def _run(runner: str) -> tuple[object, Rendered]:
    built: list[object] = []

    def body() -> None:
        wiring = ProcessorWorkloadArgs(**processor_wiring(SparkConfig(runner=runner)))
        built.append(run_processor("spark", wiring, pulumi.ResourceOptions()))

    rendered = run_mocked(body)
    return built[0], rendered


@pytest.mark.parametrize(
    ("runner", "component", "component_type"),
    [
        ("operator", SparkOperatorStack, "finnhub:infra:SparkOperatorStack"),
        ("submit", SparkSubmitStack, "finnhub:infra:SparkSubmitStack"),
    ],
)
def test_each_runner_builds_its_own_component_from_the_shared_wiring(
    runner: str, component: type, component_type: str
) -> None:
    built, rendered = _run(runner)
    assert isinstance(built, component)
    kinds = {r.typ for r in rendered.resources if r.typ.startswith("finnhub:infra:")}
    assert kinds == {component_type}


def test_the_submit_runner_exports_its_submitter_deployment() -> None:
    built, _ = _run("submit")
    assert runner_export(built) == ("sparkSubmitter", "finnhub-processor-submitter")


def test_the_operator_runner_exports_the_operators_namespace() -> None:
    built, _ = _run("operator")
    name, _value = runner_export(built)
    assert name == "sparkOperatorNamespace"


def test_an_unknown_runner_is_refused_naming_the_setting() -> None:
    # Stack config cannot hold one (SparkConfig validates it); a config built by hand can.
    unknown = SparkConfig.model_construct(runner="yarn")
    wiring = ProcessorWorkloadArgs(**processor_wiring(unknown))
    with pytest.raises(ValueError, match=r"spark\.runner: 'yarn'"):
        run_processor("spark", wiring, pulumi.ResourceOptions())


def test_checkpoints_use_their_own_storage_class_else_the_clusters() -> None:
    assert checkpoint_storage_class(SparkConfig(), "standard") == "standard"
    own = SparkConfig(checkpoint_storage_class="efs", checkpoint_access_mode="ReadWriteMany")
    assert checkpoint_storage_class(own, "standard") == "efs"
