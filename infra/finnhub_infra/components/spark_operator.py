"""SparkOperatorStack: the Kubeflow spark-operator and the SparkApplication running the processor.

The operator lives in its own namespace (its webhook must be reachable by the API server, which
the pipeline namespace's default-deny policy would block) and watches only the pipeline
namespace. The driver's service account and its RBAC are created explicitly (in
`processor_workload`, shared with the spark-submit runner) instead of by the chart, so a reader
sees exactly what the driver may do: manage its executor pods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from finnhub_contracts.versions import SPARK_VERSION

from finnhub_infra.components.conventions import (
    container_security_context,
    object_meta,
    pod_security_context,
    recommended_labels,
)
from finnhub_infra.components.processor_workload import (
    CHECKPOINT_CLAIM,
    CHECKPOINT_DIR,
    CHECKPOINT_VOLUME,
    DRIVER_SERVICE_ACCOUNT,
    MAIN_APPLICATION_FILE,
    NAME,
    SCRATCH_DIR,
    SCRATCH_SIZE,
    SCRATCH_VOLUME,
    SPARK_UID,
    ProcessorWiring,
    ProcessorWorkloadArgs,
    driver_support,
    processor_env,
    processor_labels,
    wiring_of,
)
from finnhub_infra.config import SparkConfig

CHART_NAME = "spark-operator"
CHART_REPO = "https://kubeflow.github.io/spark-operator"


@dataclass(frozen=True)
class SparkOperatorStackArgs(ProcessorWorkloadArgs):
    """The processor's wiring; the operator's own settings are in `config` (SparkConfig)."""


def operator_chart_values(job_namespace: pulumi.Input[str], cfg: SparkConfig) -> dict[str, Any]:
    """Helm values: watch only the pipeline namespace, no chart-made driver account, limits set."""
    resources = {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }
    return {
        "spark": {
            "jobNamespaces": [job_namespace],
            "serviceAccount": {"create": False, "name": DRIVER_SERVICE_ACCOUNT},
            "rbac": {"create": False},
        },
        "controller": {"replicas": 1, "resources": resources},
        # The webhook applies driver/executor env, volumes and security contexts.
        "webhook": {"enable": True, "resources": resources},
        "prometheus": {"metrics": {"enable": True}},
    }


def spark_application_manifest(
    namespace: pulumi.Input[str], cfg: SparkConfig, wiring: ProcessorWiring
) -> dict[str, Any]:
    labels = processor_labels(cfg, wiring.image)
    env = processor_env(wiring)
    mounts = [
        {"name": CHECKPOINT_VOLUME, "mountPath": CHECKPOINT_DIR},
        {"name": SCRATCH_VOLUME, "mountPath": SCRATCH_DIR},
    ]
    pod = {
        "labels": labels,
        "env": env,
        "volumeMounts": mounts,
        "podSecurityContext": pod_security_context(SPARK_UID),
        # Spark writes shuffle and scratch files only to the /tmp volume.
        "securityContext": container_security_context(read_only_root=False),
    }
    return {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": object_meta(NAME, namespace, labels),
        "spec": {
            "type": "Python",
            "pythonVersion": "3",
            "mode": "cluster",
            "image": wiring.image,
            "imagePullPolicy": "IfNotPresent",
            "mainApplicationFile": MAIN_APPLICATION_FILE,
            "sparkVersion": SPARK_VERSION,
            # A stream never finishes on purpose: restart it whatever made it stop.
            "restartPolicy": {
                "type": "Always",
                "onFailureRetryInterval": 10,
                "onSubmissionFailureRetryInterval": 30,
            },
            "sparkConf": {
                "spark.kubernetes.executor.deleteOnTermination": "true",
                "spark.sql.streaming.stopGracefullyOnShutdown": "true",
                "spark.ui.enabled": "false",
            },
            "volumes": [
                {
                    "name": CHECKPOINT_VOLUME,
                    "persistentVolumeClaim": {"claimName": CHECKPOINT_CLAIM},
                },
                {"name": SCRATCH_VOLUME, "emptyDir": {"sizeLimit": SCRATCH_SIZE}},
            ],
            "driver": {
                **pod,
                "cores": cfg.driver_cores,
                **({"coreRequest": cfg.driver_core_request} if cfg.driver_core_request else {}),
                "coreLimit": cfg.driver_core_limit,
                "memory": cfg.driver_memory,
                "serviceAccount": DRIVER_SERVICE_ACCOUNT,
            },
            "executor": {
                **pod,
                "instances": cfg.executor_instances,
                # Task slots; the pod requests coreRequest CPUs (see SparkConfig).
                "cores": cfg.executor_task_slots,
                "coreRequest": cfg.executor_core_request or str(cfg.executor_cores),
                "coreLimit": cfg.executor_core_limit,
                "memory": cfg.executor_memory,
            },
        },
    }


class SparkOperatorStack(pulumi.ComponentResource):
    """The spark-operator Helm release and the processor's SparkApplication."""

    operator_namespace: pulumi.Output[str]
    application_name: str
    driver_service_account: str

    def __init__(
        self, name: str, args: SparkOperatorStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("finnhub:infra:SparkOperatorStack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = pulumi.Output.from_input(args.namespace)
        cfg = args.config

        operator_ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": cfg.operator_namespace,
                "labels": {
                    **recommended_labels(CHART_NAME, "operator", cfg.operator_chart_version),
                    # The chart's pods meet the restricted Pod Security Standard.
                    "pod-security.kubernetes.io/enforce": "restricted",
                },
            },
            opts=child,
        )
        release = k8s.helm.v3.Release(
            f"{name}-release",
            name=CHART_NAME,
            chart=CHART_NAME,
            version=cfg.operator_chart_version,
            repository_opts={"repo": CHART_REPO},
            namespace=operator_ns.metadata["name"],
            values=operator_chart_values(ns, cfg),
            atomic=True,
            wait_for_jobs=True,
            opts=child,
        )

        support = driver_support(name, args, self)
        app = spark_application_manifest(ns, cfg, wiring_of(args))
        k8s.apiextensions.CustomResource(
            f"{name}-application",
            api_version="sparkoperator.k8s.io/v1beta2",
            kind="SparkApplication",
            metadata=app["metadata"],
            spec=app["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[release, *support]),
        )

        self.operator_namespace = operator_ns.metadata["name"]
        self.application_name = NAME
        self.driver_service_account = DRIVER_SERVICE_ACCOUNT
        self.register_outputs(
            {
                "operator_namespace": self.operator_namespace,
                "application_name": NAME,
                "driver_service_account": DRIVER_SERVICE_ACCOUNT,
            }
        )
