"""SparkSubmitStack alone under mocks: the submitter, its RBAC, the pod templates, the confs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from finnhub_infra.components import spark_submit
from finnhub_infra.components.processor_workload import MAIN_APPLICATION_FILE
from finnhub_infra.components.spark_submit import SparkSubmitStack, SparkSubmitStackArgs
from finnhub_infra.config import KafkaConfig, SparkConfig
from finnhub_processor import k8s_submit
from finnhub_processor.driver_pods import owned_settings_in
from finnhub_processor.settings import SubmitterSettings
from infra_harness import PROCESSOR_IMAGE, Rendered, processor_wiring, run_mocked

IMAGE = PROCESSOR_IMAGE
SUBMITTER = "finnhub-processor-submitter"


def render(cfg: SparkConfig) -> Rendered:
    def body() -> object:
        return SparkSubmitStack("spark", SparkSubmitStackArgs(**processor_wiring(cfg)))

    return run_mocked(body)


@pytest.fixture(scope="module")
def rendered() -> Rendered:
    return render(SparkConfig(runner="submit"))


def submitter_pod(rendered: Rendered) -> dict[str, Any]:
    return rendered.manifest("Deployment", SUBMITTER)["spec"]["template"]


def container(rendered: Rendered) -> dict[str, Any]:
    (only,) = submitter_pod(rendered)["spec"]["containers"]
    return only


def confs(rendered: Rendered) -> dict[str, str]:
    args = container(rendered)["args"]
    return dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "--conf")


def templates(rendered: Rendered) -> dict[str, dict[str, Any]]:
    data = rendered.manifest("ConfigMap", spark_submit.TEMPLATES)["data"]
    return {name: json.loads(text) for name, text in data.items()}


def test_one_submitter_replaced_not_rolled(rendered: Rendered) -> None:
    spec = rendered.manifest("Deployment", SUBMITTER)["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}


def test_the_submitter_runs_the_entry_module_under_the_images_entrypoint(
    rendered: Rendered,
) -> None:
    c = container(rendered)
    assert "command" not in c
    assert c["args"][:3] == ["python", "-m", "finnhub_processor.k8s_submit"]
    assert c["image"] == IMAGE


def test_spark_submit_submits_the_processor_in_cluster_mode(rendered: Rendered) -> None:
    args = container(rendered)["args"]
    assert args[args.index("--master") + 1] == "k8s://https://kubernetes.default.svc:443"
    assert args[args.index("--deploy-mode") + 1] == "cluster"
    assert args[-1] == MAIN_APPLICATION_FILE


def test_the_args_leave_to_the_submitter_what_it_sets_itself(rendered: Rendered) -> None:
    assert owned_settings_in(container(rendered)["args"]) == []


def test_driver_and_executors_run_the_image_by_digest_with_the_driver_account(
    rendered: Rendered,
) -> None:
    got = confs(rendered)
    assert got["spark.kubernetes.container.image"] == IMAGE
    assert got["spark.kubernetes.container.image.pullPolicy"] == "IfNotPresent"
    assert got["spark.kubernetes.authenticate.driver.serviceAccountName"] == "spark-driver"
    assert rendered.manifest("RoleBinding", "spark-driver")


def test_spark_submit_waits_for_the_driver_and_the_stream_stops_gracefully(
    rendered: Rendered,
) -> None:
    got = confs(rendered)
    assert got["spark.kubernetes.submission.waitAppCompletion"] == "true"
    assert got["spark.kubernetes.executor.deleteOnTermination"] == "true"
    assert got["spark.sql.streaming.stopGracefullyOnShutdown"] == "true"
    assert got["spark.ui.enabled"] == "false"


def test_spark_makes_no_network_policy_of_its_own(rendered: Rendered) -> None:
    # The submitter may not write NetworkPolicies; network_policy.py allows the processor's pods.
    assert confs(rendered)["spark.kubernetes.driver.pod.excludedFeatureSteps"] == (
        "org.apache.spark.deploy.k8s.features.NetworkPolicyFeatureStep"
    )


def test_sizes_follow_the_config() -> None:
    cfg = SparkConfig(runner="submit", executor_instances=4, executor_memory="3g", driver_cores=2)
    got = confs(render(cfg))
    assert got["spark.executor.instances"] == "4"
    assert got["spark.executor.memory"] == "3g"
    assert got["spark.driver.cores"] == "2"
    assert got["spark.kubernetes.executor.limit.cores"] == "1"
    assert got["spark.kubernetes.driver.limit.cores"] == "1"


def test_the_executor_has_task_slots_for_real_time_mode_but_requests_only_its_cpu() -> None:
    # Real-time mode holds a task slot per Kafka partition for as long as the trades query runs.
    got = confs(render(SparkConfig(runner="submit")))
    assert int(got["spark.executor.cores"]) >= KafkaConfig().topic_partitions + 3
    assert got["spark.kubernetes.executor.request.cores"] == "1"
    got = confs(render(SparkConfig(runner="submit", executor_core_request="500m")))
    assert got["spark.kubernetes.executor.request.cores"] == "500m"


def test_the_processor_env_reaches_driver_and_executors(rendered: Rendered) -> None:
    got = confs(rendered)
    for prefix in ("spark.kubernetes.driverEnv.", "spark.executorEnv."):
        assert got[f"{prefix}KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert got[f"{prefix}CHECKPOINT_DIR"] == "/checkpoints"


def test_cassandra_credentials_reach_the_pods_only_as_secret_references(
    rendered: Rendered,
) -> None:
    got = confs(rendered)
    for role in ("driver", "executor"):
        assert got[f"spark.kubernetes.{role}.secretKeyRef.CASSANDRA_PASSWORD"] == (
            "cassandra-credentials:app-password"
        )
        assert got[f"spark.kubernetes.{role}.secretKeyRef.CASSANDRA_USERNAME"] == (
            "cassandra-credentials:app-username"
        )
    assert not any("CASSANDRA_PASSWORD" in key and "Env." in key for key in got)


def test_checkpoints_and_scratch_are_mounted_on_driver_and_executors(rendered: Rendered) -> None:
    got = confs(rendered)
    for role in ("driver", "executor"):
        claim = f"spark.kubernetes.{role}.volumes.persistentVolumeClaim.checkpoints"
        assert got[f"{claim}.options.claimName"] == "processor-checkpoints"
        assert got[f"{claim}.mount.path"] == "/checkpoints"
        assert got[f"spark.kubernetes.{role}.volumes.emptyDir.spark-local.mount.path"] == "/tmp"
    assert rendered.manifest("PersistentVolumeClaim", "processor-checkpoints")


@pytest.mark.parametrize("role", ["driver", "executor"])
def test_spark_pods_get_the_restricted_security_context_and_labels(
    rendered: Rendered, role: str
) -> None:
    pod = templates(rendered)[f"{role}.json"]
    assert pod["kind"] == "Pod"
    security = pod["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 185
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    (spark,) = pod["spec"]["containers"]
    assert spark["name"] == f"spark-kubernetes-{role}"
    assert spark["securityContext"]["allowPrivilegeEscalation"] is False
    assert spark["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "finnhub-processor"
    assert pod["metadata"]["labels"]["app.kubernetes.io/version"] == "4.2.0"


def test_the_executor_template_is_given_to_spark_and_the_driver_one_to_the_submitter(
    rendered: Rendered,
) -> None:
    mount = next(
        m["mountPath"] for m in container(rendered)["volumeMounts"] if m["name"] == "pod-templates"
    )
    assert confs(rendered)["spark.kubernetes.executor.podTemplateFile"] == (
        f"{mount}/executor.json"
    )
    env = {e["name"]: e.get("value") for e in container(rendered)["env"]}
    assert env["SUBMIT_DRIVER_TEMPLATE"] == f"{mount}/driver.json"


def test_the_submitters_selector_never_matches_driver_or_executor_pods(
    rendered: Rendered,
) -> None:
    # A ReplicaSet adopts matching pods that have no controller: it would count the driver.
    selector = rendered.manifest("Deployment", SUBMITTER)["spec"]["selector"]["matchLabels"]
    for pod in templates(rendered).values():
        labels = pod["metadata"]["labels"]
        assert not selector.items() <= labels.items()


def test_submitter_env_is_what_its_settings_read(rendered: Rendered) -> None:
    names = {e["name"].lower() for e in container(rendered)["env"]}
    required = {n for n, f in SubmitterSettings.model_fields.items() if f.is_required()}
    # SPARK_HOME comes from the image.
    assert required - {"spark_home"} <= names
    assert names <= set(SubmitterSettings.model_fields)


def test_submitter_knows_its_own_pod_from_the_downward_api(rendered: Rendered) -> None:
    env = {e["name"]: e for e in container(rendered)["env"]}
    for name, path in (
        ("POD_NAME", "metadata.name"),
        ("POD_UID", "metadata.uid"),
        ("POD_NAMESPACE", "metadata.namespace"),
    ):
        assert env[name]["valueFrom"]["fieldRef"]["fieldPath"] == path


def test_probes_read_the_marker_the_submitter_writes(rendered: Rendered) -> None:
    c = container(rendered)
    marker = f"{spark_submit.WORK_DIR}/{k8s_submit.READY_MARKER}"
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["SUBMIT_WORK_DIR"] == spark_submit.WORK_DIR
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["exec"]["command"] == ["test", "-e", marker]


def test_the_submitter_has_its_own_account_with_only_what_spark_submit_needs(
    rendered: Rendered,
) -> None:
    spec = submitter_pod(rendered)["spec"]
    assert spec["serviceAccountName"] == SUBMITTER
    role = rendered.manifest("Role", SUBMITTER)
    granted = {
        (resource, verb)
        for rule in role["rules"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert {("pods", v) for v in ("create", "get", "watch", "list", "delete")} <= granted
    # spark-submit creates the driver's ConfigMap and Service by server-side apply.
    assert {("configmaps", "patch"), ("services", "patch")} <= granted
    assert not {verb for _, verb in granted} & {"update", "deletecollection", "*"}
    assert all(rule["apiGroups"] == [""] for rule in role["rules"])
    binding = rendered.manifest("RoleBinding", SUBMITTER)
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": SUBMITTER, "namespace": "pipeline"}
    ]


def test_the_submitter_cannot_write_its_image(rendered: Rendered) -> None:
    c = container(rendered)
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in c["volumeMounts"]} >= {"/tmp"}
