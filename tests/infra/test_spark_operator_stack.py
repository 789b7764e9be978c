"""SparkOperatorStack alone under mocks: the operator release, driver RBAC, the SparkApplication."""

from __future__ import annotations

from finnhub_contracts.versions import SPARK_VERSION
from finnhub_infra.components.processor_workload import MAIN_APPLICATION_FILE
from finnhub_infra.components.spark_operator import SparkOperatorStack, SparkOperatorStackArgs
from finnhub_infra.config import KafkaConfig, SparkConfig
from infra_harness import PROCESSOR_IMAGE, Rendered, processor_wiring, run_mocked

IMAGE = PROCESSOR_IMAGE


def render(cfg: SparkConfig) -> Rendered:
    def body() -> object:
        return SparkOperatorStack("spark", SparkOperatorStackArgs(**processor_wiring(cfg)))

    return run_mocked(body)


def test_operator_watches_only_the_pipeline_namespace_from_its_own() -> None:
    rendered = render(SparkConfig())
    (release,) = rendered.of_type("kubernetes:helm.sh/v3:Release")
    values = release.inputs["values"]
    assert values["spark"]["jobNamespaces"] == ["pipeline"]
    assert values["spark"]["serviceAccount"]["create"] is False
    assert rendered.manifest("Namespace", "spark-operator")
    assert release.inputs["namespace"] == "spark-operator"


def test_operator_pods_have_resource_limits() -> None:
    (release,) = render(SparkConfig()).of_type("kubernetes:helm.sh/v3:Release")
    for part in ("controller", "webhook"):
        assert release.inputs["values"][part]["resources"]["limits"]


def test_driver_account_may_manage_only_namespaced_pod_resources() -> None:
    rendered = render(SparkConfig())
    role = rendered.manifest("Role", "spark-driver")
    (rule,) = role["rules"]
    assert set(rule["resources"]) == {"pods", "services", "configmaps", "persistentvolumeclaims"}
    binding = rendered.manifest("RoleBinding", "spark-driver")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "spark-driver", "namespace": "pipeline"}
    ]
    app = rendered.manifest("SparkApplication", "finnhub-processor")
    assert app["spec"]["driver"]["serviceAccount"] == "spark-driver"


def test_application_runs_the_processor_image_entry_file_as_a_restarting_stream() -> None:
    spec = render(SparkConfig()).manifest("SparkApplication", "finnhub-processor")["spec"]
    assert spec["type"] == "Python"
    assert spec["image"] == IMAGE
    assert spec["mainApplicationFile"] == MAIN_APPLICATION_FILE
    assert spec["sparkVersion"] == SPARK_VERSION
    assert spec["restartPolicy"]["type"] == "Always"


def test_checkpoints_live_on_a_claim_mounted_in_driver_and_executors() -> None:
    rendered = render(SparkConfig())
    spec = rendered.manifest("SparkApplication", "finnhub-processor")["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["checkpoints"]["persistentVolumeClaim"]["claimName"] == "processor-checkpoints"
    for role in ("driver", "executor"):
        env = {e["name"]: e.get("value") for e in spec[role]["env"]}
        mounts = {m["name"]: m["mountPath"] for m in spec[role]["volumeMounts"]}
        assert env["CHECKPOINT_DIR"] == mounts["checkpoints"]
    assert rendered.manifest("PersistentVolumeClaim", "processor-checkpoints")


def test_executor_count_and_sizes_follow_the_config() -> None:
    cfg = SparkConfig(executor_instances=4, executor_memory="3g", executor_task_slots=8)
    executor = render(cfg).manifest("SparkApplication", "finnhub-processor")["spec"]["executor"]
    assert (executor["instances"], executor["memory"], executor["cores"]) == (4, "3g", 8)


def test_the_executor_has_task_slots_for_real_time_mode_but_requests_only_its_cpu() -> None:
    # Real-time mode holds a task slot per Kafka partition for as long as the trades query runs.
    cfg = SparkConfig()
    executor = render(cfg).manifest("SparkApplication", "finnhub-processor")["spec"]["executor"]
    assert executor["cores"] >= KafkaConfig().topic_partitions + 3
    assert executor["coreRequest"] == "1"
    executor = render(SparkConfig(executor_core_request="500m")).manifest(
        "SparkApplication", "finnhub-processor"
    )["spec"]["executor"]
    assert executor["coreRequest"] == "500m"
