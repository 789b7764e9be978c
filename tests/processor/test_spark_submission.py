"""The submitter's entry, then the real spark-submit it execs (pyspark 4.2's), in cluster mode with
the Pulumi program's confs and pod templates, against a recording stand-in for the API server.

What Spark sends is what a cluster would get: the driver pod it builds from the confs and the
template (owner, labels, security context, env, Secret references, volumes), and every API call
it makes, each of which the submitter's Role must allow. The stand-in answers the driver pod as
Failed at once, the way a driver that died looks to spark-submit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyspark
import pytest
from finnhub_infra.components import spark_submit
from finnhub_infra.components.processor_workload import K8S_MASTER, ProcessorWiring
from finnhub_infra.config import SparkConfig
from finnhub_processor.driver_pods import SubmitterIdentity
from tls_api_server import SUBMITTER_ENTRY, serving

ME = SubmitterIdentity(
    pod_name="submitter-abc", pod_uid="uid-me", namespace="finnhub", app_name="finnhub-processor"
)
IMAGE = "registry.test/finnhub-processor@sha256:" + "1" * 64
WIRING = ProcessorWiring(
    IMAGE, "kafka:9092", "market", "market.dlq", "cassandra", 9042, "market", "cassandra-creds"
)


class Cluster:
    """Creates what it is sent, reports the driver pod Failed, records every call."""

    def __init__(self) -> None:
        self.created: dict[str, dict[str, Any]] = {}

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        url = urlsplit(path)
        if method == "POST":
            obj = json.loads(body)
            obj["metadata"] |= {"uid": "driver-uid", "resourceVersion": "1"}
            self.created[obj["metadata"]["name"]] = obj
            return 201, obj
        if method == "PATCH":
            return 200, json.loads(body) if body.strip().startswith(b"{") else {}
        pods = list(self.created.values())
        if method == "GET" and pods:
            pod = {**pods[0], "status": {"phase": "Failed"}}
            if "watch" in parse_qs(url.query):
                return 200, {"type": "MODIFIED", "object": pod}
            return 200, pod
        return 200, {}


def rbac_request(method: str, path: str) -> tuple[str, str, str]:
    """(apiGroup, resource, verb) of an API request, as RBAC authorizes it."""
    url = urlsplit(path)
    parts = url.path.strip("/").split("/")
    group = "" if parts[0] == "api" else parts[1]
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    resource, named = rest[2], len(rest) > 3
    watch = "watch" in parse_qs(url.query)
    verb = {
        "POST": "create",
        "PATCH": "patch",
        "PUT": "update",
        "DELETE": "delete",
        "GET": "watch" if watch else ("get" if named else "list"),
    }[method]
    return group, resource, verb


@pytest.fixture(scope="module")
def submission(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # Not the per-test api_server fixture: this module submits once and every test reads it.
    tmp = tmp_path_factory.mktemp("submission")
    cfg = SparkConfig(runner="submit")
    executor = tmp / "executor.json"
    executor.write_text(json.dumps(spark_submit.pod_template_manifest("executor", cfg, IMAGE)))
    driver = tmp / "driver.json"
    driver.write_text(json.dumps(spark_submit.pod_template_manifest("driver", cfg, IMAGE)))
    cluster = Cluster()
    with serving(tmp) as api:
        api.answer = cluster.answer
        args = [
            arg.replace(K8S_MASTER, f"k8s://{api.url}").replace(
                f"{spark_submit.TEMPLATES_DIR}/{spark_submit.EXECUTOR_TEMPLATE}", str(executor)
            )
            for arg in spark_submit.spark_submit_args(cfg, WIRING)
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_"))}
        env |= {
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_HOME": str(Path(pyspark.__file__).parent),
            "POD_NAME": ME.pod_name,
            "POD_UID": ME.pod_uid,
            "POD_NAMESPACE": ME.namespace,
            "SUBMIT_DRIVER_TEMPLATE": str(driver),
            "SUBMIT_WORK_DIR": str(tmp / "work"),
        }
        result = subprocess.run(
            [sys.executable, "-c", SUBMITTER_ENTRY, api.url, str(tmp / "account"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        calls = [(method, path) for method, path, _ in api.seen]
        tokens = {auth for _, _, auth in api.seen}
    return {"result": result, "calls": calls, "created": cluster.created, "tokens": tokens}


def spark_errors(stderr: str) -> str:
    """spark-submit's error lines without the Java stack frames."""
    return "\n".join(line for line in stderr.splitlines() if not line.lstrip().startswith("at "))


def driver_pod(submission: dict[str, Any]) -> dict[str, Any]:
    pods = [o for o in submission["created"].values() if o["kind"] == "Pod"]
    assert len(pods) == 1, spark_errors(submission["result"].stderr)[-3000:]
    return pods[0]


def env_of(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}


@pytest.mark.spark
def test_spark_submit_calls_only_what_the_submitters_role_allows(submission: dict) -> None:
    rules = spark_submit.submitter_role_manifest("finnhub")["rules"]
    allowed = {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    calls = {rbac_request(method, path) for method, path in submission["calls"]}
    assert ("", "pods", "create") in calls
    assert calls <= allowed, submission["calls"]


@pytest.mark.spark
def test_the_submitter_looks_for_live_drivers_before_spark_submit_creates_one(
    submission: dict,
) -> None:
    first, second = submission["calls"][:2]
    assert first[0] == "GET" and "labelSelector=finnhub.io%2Fspark-app" in first[1]
    assert second == ("POST", "/api/v1/namespaces/finnhub/pods")


@pytest.mark.spark
def test_spark_submit_authenticates_with_the_service_account_token(submission: dict) -> None:
    assert submission["tokens"] == {"Bearer token-one"}


@pytest.mark.spark
def test_the_driver_is_owned_by_the_submitter_and_labelled_for_its_wait(
    submission: dict,
) -> None:
    meta = driver_pod(submission)["metadata"]
    assert meta["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Pod", "name": "submitter-abc", "uid": "uid-me"}
    ]
    assert meta["labels"]["finnhub.io/spark-app"] == "finnhub-processor"
    assert meta["labels"]["spark-role"] == "driver"
    assert meta["labels"]["app.kubernetes.io/name"] == "finnhub-processor"


@pytest.mark.spark
def test_the_driver_runs_the_image_as_the_driver_account_non_root(submission: dict) -> None:
    spec = driver_pod(submission)["spec"]
    (container,) = spec["containers"]
    assert container["image"] == IMAGE
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert spec["serviceAccountName"] == "spark-driver"
    assert spec["securityContext"]["runAsUser"] == 185
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["limits"]["cpu"] == "1"


@pytest.mark.spark
def test_the_driver_gets_the_env_and_the_credentials_only_by_reference(
    submission: dict,
) -> None:
    env = env_of(driver_pod(submission))
    assert env["KAFKA_BOOTSTRAP_SERVERS"]["value"] == "kafka:9092"
    assert env["CASSANDRA_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "cassandra-creds",
        "key": "app-password",
    }
    assert "value" not in env["CASSANDRA_PASSWORD"]


@pytest.mark.spark
def test_the_driver_mounts_the_checkpoint_claim_and_scratch(submission: dict) -> None:
    spec = driver_pod(submission)["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["checkpoints"]["persistentVolumeClaim"]["claimName"] == "processor-checkpoints"
    mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    assert (mounts["checkpoints"], mounts["spark-local"]) == ("/checkpoints", "/tmp")


@pytest.mark.spark
def test_a_failed_driver_ends_spark_submit_and_with_exit_code_zero(submission: dict) -> None:
    # Why the submitter does not rely on the exit code: a Deployment's container restarts
    # whatever it exits with.
    result = submission["result"]
    assert result.returncode == 0, spark_errors(result.stderr)[-3000:]
    assert "finished" in result.stderr
