"""The submitter's entry: the wait before a submission, its log lines, its errors.

The API is a stand-in answering `list_pods`/`delete_pod` from a script of pod lists: what is
under test is the submitter's reaction to what the API server reports, not the API server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import structlog
from finnhub_processor import k8s_submit
from finnhub_processor.driver_pods import SubmitterIdentity
from finnhub_processor.settings import SubmitterSettings
from tls_api_server import SUBMITTER_ENTRY, FakeApiServer

ME = SubmitterIdentity(
    pod_name="submitter-abc", pod_uid="uid-me", namespace="finnhub", app_name="finnhub-processor"
)


def driver(name: str, phase: str, owner: str, **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "ownerReferences": [{"uid": owner}], **meta},
        "status": {"phase": phase},
    }


class ScriptedApi:
    """Answers each `list_pods` with the next pod list; records deletions."""

    def __init__(self, *answers: list[dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.listed: list[tuple[str, str]] = []
        self.deleted: list[str] = []

    def list_pods(self, namespace: str, selector: str) -> dict[str, Any]:
        self.listed.append((namespace, selector))
        return {"items": self.answers.pop(0)}

    def delete_pod(self, namespace: str, name: str) -> None:
        self.deleted.append(name)


def run_wait(api: ScriptedApi, work_dir: Path) -> list[dict[str, Any]]:
    with structlog.testing.capture_logs() as logs:
        k8s_submit.wait_until_no_live_driver(api, ME, work_dir, 0.0, sleep=lambda s: None)
    return logs


def test_submission_waits_until_the_old_driver_is_gone(tmp_path: Path) -> None:
    old = driver("old", "Running", "uid-old", deletionTimestamp="2026-12-01T10:00:00Z")
    api = ScriptedApi([old], [old], [driver("old", "Failed", "uid-old")])
    run_wait(api, tmp_path)
    assert api.answers == []
    assert api.listed[0] == ("finnhub", "finnhub.io/spark-app=finnhub-processor,spark-role=driver")


def test_each_change_of_what_is_waited_for_is_logged_once(tmp_path: Path) -> None:
    old = driver("old", "Running", "uid-old")
    api = ScriptedApi([old], [old], [old], [])
    logs = run_wait(api, tmp_path)
    waits = [entry for entry in logs if entry["event"] == "waiting_for_driver"]
    assert len(waits) == 1
    assert waits[0]["drivers"] == [
        {"name": "old", "phase": "Running", "owner": "other", "deleting": False}
    ]


def test_own_finished_drivers_are_deleted_while_waiting(tmp_path: Path) -> None:
    done = [
        driver(f"d{i}", "Failed", "uid-me", creationTimestamp=f"2026-12-01T1{i}:00:00Z")
        for i in range(3)
    ]
    api = ScriptedApi(done)
    logs = run_wait(api, tmp_path)
    assert api.deleted == ["d0", "d1"]
    assert [e["driver"] for e in logs if e["event"] == "finished_driver_deleted"] == ["d0", "d1"]


def test_ready_only_while_its_own_driver_runs(tmp_path: Path) -> None:
    marker = tmp_path / k8s_submit.READY_MARKER
    marker.touch()  # left by the previous container of this pod
    states = []

    class Observing(ScriptedApi):
        def list_pods(self, namespace: str, selector: str) -> dict[str, Any]:
            states.append(marker.exists())
            return super().list_pods(namespace, selector)

    api = Observing(
        [driver("old", "Running", "uid-old")], [driver("mine", "Running", "uid-me")], []
    )
    run_wait(api, tmp_path)
    # Before each list: stale marker, then cleared (other's driver), then set (own driver).
    assert states == [True, False, True]
    assert not marker.exists()


def test_the_rendered_template_is_the_base_owned_by_the_submitters_pod(tmp_path: Path) -> None:
    base = tmp_path / "driver.json"
    base.write_text(json.dumps({"kind": "Pod", "metadata": {}, "spec": {"containers": []}}))
    settings = SubmitterSettings(
        pod_name="submitter-abc",
        pod_uid="uid-me",
        pod_namespace="finnhub",
        submit_driver_template=str(base),
        submit_work_dir=str(tmp_path),
        spark_home="/spark",
    )
    rendered = json.loads(k8s_submit.render_driver_template(settings, ME).read_text())
    assert rendered["metadata"]["ownerReferences"][0]["uid"] == "uid-me"


def submitter(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POD_", "SUBMIT_"))}
    return subprocess.run(
        [sys.executable, "-m", "finnhub_processor.k8s_submit", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_missing_downward_api_values_fail_in_one_line_naming_them() -> None:
    result = submitter({"SPARK_HOME": "/spark"})
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    event = json.loads(line)
    assert event["event"] == "invalid_configuration"
    for name in ("POD_NAME", "POD_UID", "POD_NAMESPACE", "SUBMIT_DRIVER_TEMPLATE"):
        assert name in event["problems"]


def test_args_setting_what_the_submitter_owns_fail_before_any_api_call(tmp_path: Path) -> None:
    env = {
        "POD_NAME": "p",
        "POD_UID": "u",
        "POD_NAMESPACE": "finnhub",
        "SUBMIT_DRIVER_TEMPLATE": str(tmp_path / "driver.json"),
        "SUBMIT_WORK_DIR": str(tmp_path),
        "SPARK_HOME": "/spark",
    }
    result = submitter(env, "--conf", "spark.kubernetes.namespace=x", "local:///app.py")
    assert result.returncode == 2
    events = [json.loads(line)["event"] for line in result.stderr.strip().splitlines()]
    assert events == ["submitter_started", "submission_not_possible"]


# Stands in for $SPARK_HOME/bin/spark-submit: records its argv and the template it was given.
FAKE_SPARK_SUBMIT = """#!{python}
import json, sys
key = "spark.kubernetes.driver.podTemplateFile="
template = next(a.removeprefix(key) for a in sys.argv if a.startswith(key))
with open({out!r}, "w") as out:
    json.dump({{"argv": sys.argv, "template": json.load(open(template))}}, out)
"""


def test_after_the_wait_spark_submit_gets_the_rendered_template_and_the_args(
    api_server: FakeApiServer, tmp_path: Path
) -> None:
    spark_home = tmp_path / "spark"
    (spark_home / "bin").mkdir(parents=True)
    out = tmp_path / "submitted.json"
    fake = spark_home / "bin" / "spark-submit"
    fake.write_text(FAKE_SPARK_SUBMIT.format(python=sys.executable, out=str(out)))
    fake.chmod(0o755)
    base = tmp_path / "driver.json"
    base.write_text(json.dumps({"kind": "Pod", "metadata": {}, "spec": {"containers": []}}))
    work = tmp_path / "work"
    api_server.replies += [(200, {"items": [driver("old", "Running", "uid-old")]}), (200, {})]
    env = {
        "POD_NAME": "submitter-abc",
        "POD_UID": "uid-me",
        "POD_NAMESPACE": "finnhub",
        "SUBMIT_DRIVER_TEMPLATE": str(base),
        "SUBMIT_WORK_DIR": str(work),
        "SUBMIT_POLL_SECONDS": "0.05",
        "SPARK_HOME": str(spark_home),
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POD_", "SUBMIT_"))}
    user_args = ["--master", "k8s://https://kubernetes.default.svc:443", "local:///app.py"]
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            SUBMITTER_ENTRY,
            api_server.url,
            str(tmp_path / "account"),
            *user_args,
        ],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line)["event"] for line in result.stderr.strip().splitlines()]
    assert events == ["submitter_started", "waiting_for_driver", "submitting_driver"]
    assert len(api_server.seen) == 2
    submitted = json.loads(out.read_text())
    assert submitted["argv"][-3:] == user_args
    assert "spark.kubernetes.namespace=finnhub" in submitted["argv"]
    assert submitted["template"]["metadata"]["ownerReferences"][0]["uid"] == "uid-me"
    assert (work / k8s_submit.READY_MARKER).exists()
