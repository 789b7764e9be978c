"""The submitter's decisions about driver pods: wait for, delete, own, render, submit."""

from __future__ import annotations

from typing import Any

import pytest
from finnhub_processor.driver_pods import (
    APP_LABEL,
    SubmitterIdentity,
    driver_pods,
    driver_selector,
    driver_template,
    finished_drivers_to_delete,
    live_drivers,
    spark_submit_argv,
    watching_own_driver,
)

ME = SubmitterIdentity(
    pod_name="submitter-abc", pod_uid="uid-me", namespace="finnhub", app_name="finnhub-processor"
)
BASE_TEMPLATE = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"labels": {"app.kubernetes.io/name": "finnhub-processor"}},
    "spec": {"containers": [{"name": "spark-kubernetes-driver"}]},
}


def pod(
    name: str,
    phase: str | None = "Running",
    owner: str | None = "uid-me",
    deleting: bool = False,
    created: str = "2026-12-01T10:00:00Z",
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": created}
    if owner is not None:
        meta["ownerReferences"] = [{"kind": "Pod", "name": "x", "uid": owner}]
    if deleting:
        meta["deletionTimestamp"] = "2026-12-01T10:05:00Z"
    item: dict[str, Any] = {"metadata": meta}
    if phase is not None:
        item["status"] = {"phase": phase}
    return item


def pods(*items: dict[str, Any]) -> list:
    return driver_pods({"kind": "PodList", "items": list(items)})


def names(found: list) -> list[str]:
    return [p.name for p in found]


def test_selector_picks_this_applications_drivers_only() -> None:
    assert driver_selector("finnhub-processor") == (
        f"{APP_LABEL}=finnhub-processor,spark-role=driver"
    )


def test_a_terminating_driver_of_a_rolled_submitter_is_waited_for() -> None:
    live = live_drivers(pods(pod("old-driver", owner="uid-old", deleting=True)))
    assert names(live) == ["old-driver"]


def test_finished_drivers_are_not_waited_for_whoever_owns_them() -> None:
    found = pods(pod("a", "Failed"), pod("b", "Succeeded", owner="uid-old"))
    assert live_drivers(found) == []


def test_a_driver_without_status_yet_counts_as_starting() -> None:
    assert names(live_drivers(pods(pod("new", phase=None)))) == ["new"]


def test_an_own_driver_still_running_after_a_container_restart_is_waited_for() -> None:
    # A second submission beside it would put two drivers on one checkpoint.
    live = live_drivers(pods(pod("mine", "Running", owner="uid-me")))
    assert names(live) == ["mine"]
    assert watching_own_driver(live, "uid-me")


def test_a_driver_of_another_submitter_is_not_this_submitters() -> None:
    live = live_drivers(pods(pod("theirs", owner="uid-old")))
    assert not watching_own_driver(live, "uid-me")


def test_own_finished_drivers_but_the_newest_are_deleted() -> None:
    found = pods(
        pod("first", "Failed", created="2026-12-01T10:00:00Z"),
        pod("third", "Failed", created="2026-12-01T12:00:00Z"),
        pod("second", "Succeeded", created="2026-12-01T11:00:00Z"),
        pod("running", "Running", created="2026-12-01T13:00:00Z"),
        pod("other", "Failed", owner="uid-old", created="2026-12-01T09:00:00Z"),
    )
    assert finished_drivers_to_delete(found, "uid-me") == ["first", "second"]


def test_the_template_makes_the_submitters_pod_own_the_driver() -> None:
    template = driver_template(BASE_TEMPLATE, ME)
    assert template["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Pod", "name": "submitter-abc", "uid": "uid-me"}
    ]


def test_the_template_labels_the_driver_for_the_wait() -> None:
    labels = driver_template(BASE_TEMPLATE, ME)["metadata"]["labels"]
    assert labels[APP_LABEL] == "finnhub-processor"
    assert labels["app.kubernetes.io/name"] == "finnhub-processor"


def test_rendering_leaves_the_base_template_alone() -> None:
    driver_template(BASE_TEMPLATE, ME)
    assert "ownerReferences" not in BASE_TEMPLATE["metadata"]


def test_a_template_that_is_not_a_pod_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Pod"):
        driver_template({"kind": "ConfigMap"}, ME)


ARGS = [
    "--master",
    "k8s://https://kubernetes.default.svc:443",
    "--deploy-mode",
    "cluster",
    "--conf",
    "spark.kubernetes.submission.waitAppCompletion=true",
    "local:///opt/finnhub/processor_main.py",
]


def confs(argv: list[str]) -> dict[str, str]:
    pairs = [argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--conf"]
    return dict(pairs)


def test_spark_submit_runs_in_this_namespace_with_the_rendered_template() -> None:
    argv = spark_submit_argv(
        "/spark/bin/spark-submit", ME, "/w/t.json", "/sa/ca.crt", "/sa/t", ARGS
    )
    assert argv[0] == "/spark/bin/spark-submit"
    assert argv[argv.index("--name") + 1] == "finnhub-processor"
    got = confs(argv)
    assert got["spark.kubernetes.namespace"] == "finnhub"
    assert got["spark.kubernetes.driver.podTemplateFile"] == "/w/t.json"


def test_spark_submit_authenticates_as_the_submitters_service_account() -> None:
    got = confs(spark_submit_argv("s", ME, "t", "/sa/ca.crt", "/sa/token", ARGS))
    assert got["spark.kubernetes.authenticate.submission.caCertFile"] == "/sa/ca.crt"
    assert got["spark.kubernetes.authenticate.submission.oauthTokenFile"] == "/sa/token"


def test_the_application_file_stays_last() -> None:
    argv = spark_submit_argv("s", ME, "t", "c", "k", ARGS)
    assert argv[-1] == "local:///opt/finnhub/processor_main.py"


@pytest.mark.parametrize(
    "extra",
    [
        ["--name", "x"],
        ["--conf", "spark.kubernetes.namespace=other"],
        ["--conf=spark.kubernetes.driver.podTemplateFile=/elsewhere.json"],
        ["--conf", "spark.kubernetes.authenticate.submission.oauthToken=abc"],
    ],
)
def test_args_setting_what_the_submitter_owns_are_refused(extra: list[str]) -> None:
    with pytest.raises(ValueError, match="sets these itself"):
        spark_submit_argv("s", ME, "t", "c", "k", extra + ARGS)
