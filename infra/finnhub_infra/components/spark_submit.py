"""SparkSubmitStack: the processor on Spark's own Kubernetes scheduler, without an operator.

For clusters where an operator and its CRDs may not be installed. A one-pod submitter
Deployment (replicas 1, Recreate) runs `python -m finnhub_processor.k8s_submit`, which execs
spark-submit in cluster mode: Spark creates the driver pod, the driver its executors. The
submitter makes its own pod the driver's owner and, before each submission, waits until no
driver of the application may still run, so there is at most one driver on the checkpoint,
ever; a driver that dies or is deleted ends spark-submit, Kubernetes restarts the container,
and the same wait precedes a fresh driver. Deleting or rolling the submitter garbage-collects
its driver, and with it the executors.

Everything Spark needs is in the submitter's argv (`spark_confs`): image, sizes, the
processor's environment (credentials only as Secret references), the checkpoint claim and a
scratch volume; the driver and executor pods get the restricted security context and the
recommended labels from pod templates in a ConfigMap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from finnhub_infra.components import manifests
from finnhub_infra.components.conventions import (
    container_security_context,
    pod_security_context,
    recommended_labels,
)
from finnhub_infra.components.inputs import derive
from finnhub_infra.components.processor_workload import (
    CHECKPOINT_CLAIM,
    CHECKPOINT_DIR,
    CHECKPOINT_VOLUME,
    DRIVER_SERVICE_ACCOUNT,
    K8S_MASTER,
    MAIN_APPLICATION_FILE,
    NAME,
    SCRATCH_DIR,
    SCRATCH_SIZE,
    SCRATCH_VOLUME,
    SPARK_UID,
    ProcessorWiring,
    ProcessorWorkloadArgs,
    account_with_role,
    derive_from_wiring,
    driver_support,
    processor_env,
    processor_labels,
    role_binding_manifest,
    service_account_manifest,
    support_object_meta,
    wiring_of,
)
from finnhub_infra.config import SparkConfig

SUBMITTER = "finnhub-processor-submitter"
SUBMITTER_COMPONENT = "spark-submitter"
SUBMIT_MODULE = "finnhub_processor.k8s_submit"
TEMPLATES = "finnhub-processor-pod-templates"
TEMPLATES_DIR = "/etc/finnhub-submit"
DRIVER_TEMPLATE = "driver.json"
EXECUTOR_TEMPLATE = "executor.json"
# The submitter's writable folder (an emptyDir): the rendered driver template, and the marker
# that exists while the submitter's own driver runs (finnhub_processor.k8s_submit).
WORK_DIR = "/tmp/finnhub-submit"
READY_MARKER = "driver-owned"
# Spark's names for the driver's and executors' containers.
SPARK_CONTAINERS = {"driver": "spark-kubernetes-driver", "executor": "spark-kubernetes-executor"}
NETWORK_POLICY_STEP = "org.apache.spark.deploy.k8s.features.NetworkPolicyFeatureStep"
# spark-submit reports the driver's phase this often (Spark's default, 1s, floods the log).
REPORT_INTERVAL = "60s"


@dataclass(frozen=True)
class SparkSubmitStackArgs(ProcessorWorkloadArgs):
    """The processor's wiring; sizes and the submitter's resources are in `config`."""


def pod_template_manifest(role: str, cfg: SparkConfig, image: pulumi.Input[str]) -> dict[str, Any]:
    """The pod Spark starts from for the driver or the executors: labels and security context
    as the SparkApplication gives them; Spark adds image, resources, env and volumes."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"labels": processor_labels(cfg, image)},
        "spec": {
            "securityContext": pod_security_context(SPARK_UID),
            "enableServiceLinks": False,
            "containers": [
                {
                    "name": SPARK_CONTAINERS[role],
                    "imagePullPolicy": "IfNotPresent",
                    # Spark writes shuffle and scratch files only to the scratch volume.
                    "securityContext": container_security_context(read_only_root=False),
                }
            ],
        },
    }


def pod_templates_manifest(
    namespace: pulumi.Input[str], cfg: SparkConfig, image: pulumi.Input[str]
) -> dict[str, Any]:
    def as_json(role: str) -> pulumi.Input[str]:
        # Spark reads the template as a file: its labels must be known strings by then.
        return derive(
            image, lambda known: json.dumps(pod_template_manifest(role, cfg, known), indent=2)
        )

    return manifests.config_map(
        TEMPLATES,
        namespace,
        recommended_labels(SUBMITTER, SUBMITTER_COMPONENT, "v1"),
        {
            DRIVER_TEMPLATE: as_json("driver"),
            EXECUTOR_TEMPLATE: as_json("executor"),
        },
    )


def env_confs(env: list[dict[str, Any]]) -> dict[str, str]:
    """The processor's env as Spark confs for driver and executors: values as env confs,
    Secret references as `secretKeyRef` confs (`<secret>:<key>`, never the value)."""
    confs: dict[str, str] = {}
    for var in env:
        name = var["name"]
        ref = var.get("valueFrom", {}).get("secretKeyRef")
        if ref is not None:
            reference = f"{ref['name']}:{ref['key']}"
            confs[f"spark.kubernetes.driver.secretKeyRef.{name}"] = reference
            confs[f"spark.kubernetes.executor.secretKeyRef.{name}"] = reference
        else:
            confs[f"spark.kubernetes.driverEnv.{name}"] = var["value"]
            confs[f"spark.executorEnv.{name}"] = var["value"]
    return confs


def volume_confs() -> dict[str, str]:
    """The checkpoint claim and the scratch emptyDir on driver and executors."""
    confs: dict[str, str] = {}
    for role in ("driver", "executor"):
        claim = f"spark.kubernetes.{role}.volumes.persistentVolumeClaim.{CHECKPOINT_VOLUME}"
        confs[f"{claim}.mount.path"] = CHECKPOINT_DIR
        confs[f"{claim}.mount.readOnly"] = "false"
        confs[f"{claim}.options.claimName"] = CHECKPOINT_CLAIM
        scratch = f"spark.kubernetes.{role}.volumes.emptyDir.{SCRATCH_VOLUME}"
        confs[f"{scratch}.mount.path"] = SCRATCH_DIR
        confs[f"{scratch}.mount.readOnly"] = "false"
        confs[f"{scratch}.options.sizeLimit"] = SCRATCH_SIZE
    return confs


def request_confs(cfg: SparkConfig) -> dict[str, str]:
    confs = {}
    if cfg.driver_core_request is not None:
        confs["spark.kubernetes.driver.request.cores"] = cfg.driver_core_request
    # Spark would request spark.executor.cores (the task slots) CPUs: request the CPU instead.
    confs["spark.kubernetes.executor.request.cores"] = cfg.executor_core_request or str(
        cfg.executor_cores
    )
    return confs


def spark_confs(cfg: SparkConfig, wiring: ProcessorWiring) -> dict[str, str]:
    """Every Spark setting of the submission (keys: Spark 4.2's running-on-kubernetes)."""
    return {
        **request_confs(cfg),
        "spark.kubernetes.container.image": wiring.image,
        "spark.kubernetes.container.image.pullPolicy": "IfNotPresent",
        "spark.kubernetes.authenticate.driver.serviceAccountName": DRIVER_SERVICE_ACCOUNT,
        "spark.kubernetes.executor.podTemplateFile": f"{TEMPLATES_DIR}/{EXECUTOR_TEMPLATE}",
        "spark.driver.cores": str(cfg.driver_cores),
        "spark.kubernetes.driver.limit.cores": cfg.driver_core_limit,
        "spark.driver.memory": cfg.driver_memory,
        "spark.executor.instances": str(cfg.executor_instances),
        "spark.executor.cores": str(cfg.executor_task_slots),
        "spark.kubernetes.executor.limit.cores": cfg.executor_core_limit,
        "spark.executor.memory": cfg.executor_memory,
        # spark-submit stays to watch the driver: its end is the submitter container's end.
        "spark.kubernetes.submission.waitAppCompletion": "true",
        "spark.kubernetes.report.interval": REPORT_INTERVAL,
        # Spark 4.2 also creates a NetworkPolicy per application (executor ingress from the
        # application's pods): the submitter would need to be allowed to write NetworkPolicies,
        # i.e. to open the namespace's network. NetworkPolicies (network_policy.py) already
        # allow exactly the processor's pods to reach each other.
        "spark.kubernetes.driver.pod.excludedFeatureSteps": NETWORK_POLICY_STEP,
        "spark.kubernetes.executor.deleteOnTermination": "true",
        "spark.sql.streaming.stopGracefullyOnShutdown": "true",
        "spark.ui.enabled": "false",
        **env_confs(processor_env(wiring)),
        **volume_confs(),
    }


def spark_submit_args(cfg: SparkConfig, wiring: ProcessorWiring) -> list[str]:
    """spark-submit's arguments as the submitter passes them on (it adds the application's
    name, namespace, driver template and its own credentials' files)."""
    args = ["--master", K8S_MASTER, "--deploy-mode", "cluster"]
    for key, value in spark_confs(cfg, wiring).items():
        args += ["--conf", f"{key}={value}"]
    return [*args, MAIN_APPLICATION_FILE]


def submitter_role_manifest(namespace: pulumi.Input[str]) -> dict[str, Any]:
    """What spark-submit in cluster mode calls (recorded from the real one, Spark 4.2, in
    tests/processor/test_spark_submission.py): create, get and watch the driver pod; create
    its ConfigMaps and Service by server-side apply (patch, create), deleting them and the pod
    if the submission fails half-way. The submitter itself lists and deletes driver pods."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": support_object_meta(SUBMITTER, namespace),
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["pods"],
                "verbs": ["create", "get", "list", "watch", "delete"],
            },
            {
                "apiGroups": [""],
                "resources": ["configmaps", "services"],
                "verbs": ["create", "patch", "delete"],
            },
        ],
    }


def submitter_env() -> list[dict[str, Any]]:
    """The submitter's settings (finnhub_processor.settings.SubmitterSettings)."""

    def field(name: str, path: str) -> dict[str, Any]:
        return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}

    return [
        field("POD_NAME", "metadata.name"),
        field("POD_UID", "metadata.uid"),
        field("POD_NAMESPACE", "metadata.namespace"),
        {"name": "SUBMIT_APP_NAME", "value": NAME},
        {"name": "SUBMIT_DRIVER_TEMPLATE", "value": f"{TEMPLATES_DIR}/{DRIVER_TEMPLATE}"},
        {"name": "SUBMIT_WORK_DIR", "value": WORK_DIR},
    ]


def submitter_deployment_manifest(
    namespace: pulumi.Input[str], cfg: SparkConfig, wiring: ProcessorWiring
) -> dict[str, Any]:
    # Its own name: the Deployment's selector must never match (and adopt) driver pods.
    labels = recommended_labels(
        SUBMITTER,
        SUBMITTER_COMPONENT,
        processor_labels(cfg, wiring.image)["app.kubernetes.io/version"],
    )
    owns_driver = manifests.exec_probe(
        ["test", "-e", f"{WORK_DIR}/{READY_MARKER}"], initial_delay=10, period=10
    )
    container = manifests.container(
        "submitter",
        wiring.image,
        cfg.submitter_resources.to_manifest(),
        read_only_root=True,
        # `args`, not `command`: the image's entrypoint (tini) stays PID 1 and execs these.
        args=derive_from_wiring(
            wiring, lambda known: ["python", "-m", SUBMIT_MODULE, *spark_submit_args(cfg, known)]
        ),
        env=submitter_env(),
        readiness=owns_driver,
        # Ready once its driver is submitted or watched; a submitter that has had none for
        # ten minutes starts over (each start reads the cluster's state afresh).
        liveness={
            **owns_driver,
            "initialDelaySeconds": 60,
            "periodSeconds": 30,
            "failureThreshold": 20,
        },
        volume_mounts=[
            {"name": "pod-templates", "mountPath": TEMPLATES_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    )
    template = manifests.pod_template(
        labels,
        [container],
        uid=SPARK_UID,
        service_account=SUBMITTER,
        automount_service_account_token=True,
        volumes=[
            {"name": "pod-templates", "configMap": {"name": TEMPLATES}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        ],
    )
    # Recreate: the old submitter is gone before the new one starts; its driver, deleted by the
    # garbage collector after it, may still be stopping: the new submitter waits for it.
    return manifests.deployment(
        SUBMITTER, namespace, labels, replicas=1, strategy="Recreate", template=template
    )


class SparkSubmitStack(pulumi.ComponentResource):
    """The submitter Deployment, its RBAC, the pod templates; the driver's RBAC and claim."""

    submitter_name: str
    application_name: str
    driver_service_account: str

    def __init__(
        self, name: str, args: SparkSubmitStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("finnhub:infra:SparkSubmitStack", name, None, opts)
        ns = pulumi.Output.from_input(args.namespace)
        cfg = args.config
        wiring = wiring_of(args)

        support = driver_support(name, args, self)
        submitter_binding = account_with_role(
            f"{name}-submitter",
            ns,
            lambda n: service_account_manifest(SUBMITTER, n),
            submitter_role_manifest,
            lambda n: role_binding_manifest(SUBMITTER, n),
            self,
        )
        templates = manifests.resource_from_manifest(
            k8s.core.v1.ConfigMap,
            f"{name}-pod-templates",
            pod_templates_manifest(ns, cfg, wiring.image),
            pulumi.ResourceOptions(parent=self),
            data="data",
        )
        manifests.resource_from_manifest(
            k8s.apps.v1.Deployment,
            f"{name}-submitter-deployment",
            submitter_deployment_manifest(ns, cfg, wiring),
            pulumi.ResourceOptions(
                parent=self, depends_on=[*support, submitter_binding, templates]
            ),
            spec="spec",
        )

        self.submitter_name = SUBMITTER
        self.application_name = NAME
        self.driver_service_account = DRIVER_SERVICE_ACCOUNT
        self.register_outputs(
            {
                "submitter_name": SUBMITTER,
                "application_name": NAME,
                "driver_service_account": DRIVER_SERVICE_ACCOUNT,
            }
        )
