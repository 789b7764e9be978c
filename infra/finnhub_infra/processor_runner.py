"""Which component runs the processor on Kubernetes (`spark.runner`), and what is exported of it.

Both runners take the same wiring (`ProcessorWorkloadArgs`); they differ in who creates the
driver and executor pods, and so in what a user needs to find them: the operator's namespace, or
the submitter Deployment's name.
"""

from __future__ import annotations

from dataclasses import fields

import pulumi

from finnhub_infra.components.processor_workload import ProcessorWorkloadArgs
from finnhub_infra.components.spark_operator import SparkOperatorStack, SparkOperatorStackArgs
from finnhub_infra.components.spark_submit import SparkSubmitStack, SparkSubmitStackArgs
from finnhub_infra.config import SparkConfig

ProcessorRunner = SparkOperatorStack | SparkSubmitStack


def run_processor(
    name: str, wiring: ProcessorWorkloadArgs, opts: pulumi.ResourceOptions
) -> ProcessorRunner:
    """The component `wiring.config.runner` names, built from the wiring both runners share."""
    given = {field.name: getattr(wiring, field.name) for field in fields(wiring)}
    runner = wiring.config.runner
    if runner == "operator":
        return SparkOperatorStack(name, SparkOperatorStackArgs(**given), opts)
    if runner == "submit":
        return SparkSubmitStack(name, SparkSubmitStackArgs(**given), opts)
    raise ValueError(f"spark.runner: {runner!r} is neither 'operator' nor 'submit'")


def runner_export(runner: ProcessorRunner) -> tuple[str, pulumi.Input[str]]:
    """The stack output that says where the processor's pods come from."""
    if isinstance(runner, SparkOperatorStack):
        return "sparkOperatorNamespace", runner.operator_namespace
    return "sparkSubmitter", runner.submitter_name


def checkpoint_storage_class(spark: SparkConfig, cluster_storage_class: str) -> str:
    """The checkpoints' own storage class (ReadWriteMany where pods may land on several nodes),
    else the cluster's."""
    return spark.checkpoint_storage_class or cluster_storage_class
