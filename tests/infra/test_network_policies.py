"""NetworkPolicies: default deny, then exactly the data flow, consistent on both ends."""

from __future__ import annotations

import json

from finnhub_infra.components.network_policy import (
    EXTERNAL,
    FLOWS,
    SUBMITTER,
    WORKLOADS,
    all_policy_manifests,
    workload_policy_manifest,
)
from infra_harness import Rendered


def by_name() -> dict[str, dict]:
    return {m["metadata"]["name"]: m for m in all_policy_manifests("ns")}


def selects(policy: dict, workload: str) -> bool:
    labels = policy["spec"]["podSelector"].get("matchLabels", {})
    return labels.get("app.kubernetes.io/name") == workload


def peers(rules: list[dict], key: str) -> list[tuple[str | None, tuple[int, ...]]]:
    out = []
    for rule in rules:
        ports = tuple(p["port"] for p in rule.get("ports", []))
        for peer in rule[key]:
            name = peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
            out.append((name, ports))
    return out


def test_default_deny_covers_every_pod_in_both_directions() -> None:
    deny = by_name()["default-deny"]
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_every_pod_may_resolve_dns() -> None:
    dns = by_name()["allow-dns"]
    assert dns["spec"]["podSelector"] == {}
    ports = {(p["protocol"], p["port"]) for p in dns["spec"]["egress"][0]["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53)}


def test_every_flow_is_allowed_out_of_the_source_and_into_the_target() -> None:
    policies = by_name()
    for flow in FLOWS:
        out = policies[f"allow-{flow.source}"]
        into = policies[f"allow-{flow.target}"]
        assert (flow.target, flow.ports) in peers(out["spec"]["egress"], "to"), flow
        assert (flow.source, flow.ports) in peers(into["spec"]["ingress"], "from"), flow


def test_nothing_but_the_flow_table_reaches_kafka_and_cassandra() -> None:
    policies = by_name()
    kafka_sources = {name for name, _ in peers(policies["allow-kafka"]["spec"]["ingress"], "from")}
    assert kafka_sources == {
        "kafka",
        "finnhub-producer",
        "finnhub-processor",
        "kafka-topics",
        "kafka-ui",
    }
    cassandra_sources = {
        name for name, _ in peers(policies["allow-cassandra"]["spec"]["ingress"], "from")
    }
    assert cassandra_sources == {"cassandra", "finnhub-processor", "cassandra-schema", "grafana"}


def test_only_declared_workloads_leave_the_cluster() -> None:
    leaving = {e.workload for e in EXTERNAL if e.direction == "egress"}
    assert leaving == {
        "finnhub-producer",
        "finnhub-processor",
        "grafana",
        "finnhub-processor-submitter",
    }
    policies = by_name()
    for workload in WORKLOADS:
        if workload in leaving:
            continue
        for rule in policies[f"allow-{workload}"]["spec"].get("egress", []):
            assert all("ipBlock" not in peer for peer in rule["to"]), workload


def test_every_policy_selects_the_workload_it_is_named_after() -> None:
    policies = by_name()
    for workload in WORKLOADS:
        assert selects(policies[f"allow-{workload}"], workload)


def test_policies_select_the_labels_the_workloads_really_carry(minikube: Rendered) -> None:
    names = set()
    for m in minikube.manifests():
        if m["kind"] in ("Deployment", "StatefulSet", "Job"):
            names.add(m["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"])
    spark = minikube.manifest("SparkApplication", "finnhub-processor")["spec"]
    names.add(spark["driver"]["labels"]["app.kubernetes.io/name"])
    names.add(spark["executor"]["labels"]["app.kubernetes.io/name"])
    assert names == set(WORKLOADS)


def test_with_the_submit_runner_policies_select_the_workloads_it_creates(
    minikube_submit: Rendered,
) -> None:
    names = set()
    for m in minikube_submit.manifests():
        if m["kind"] in ("Deployment", "StatefulSet", "Job"):
            names.add(m["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"])
        if m["kind"] == "ConfigMap" and m["metadata"]["name"] == "finnhub-processor-pod-templates":
            for text in m["data"].values():
                names.add(json.loads(text)["metadata"]["labels"]["app.kubernetes.io/name"])
    policies = {
        m["metadata"]["name"] for m in minikube_submit.manifests() if m["kind"] == "NetworkPolicy"
    }
    assert {f"allow-{name}" for name in names} | {"default-deny", "allow-dns"} == policies


def test_the_submitter_may_reach_only_the_kubernetes_api() -> None:
    policy = workload_policy_manifest("ns", SUBMITTER)
    assert policy["spec"]["policyTypes"] == ["Egress"]
    (rule,) = policy["spec"]["egress"]
    assert {p["port"] for p in rule["ports"]} == {443, 6443}
