"""NetworkPolicies: default deny, then exactly the data flow, consistent on both ends."""

from __future__ import annotations

import json

from finnhub_infra.components.network_policy import (
    EXTERNAL,
    FAKE_FEED,
    FLOWS,
    PRODUCER,
    SUBMITTER,
    WORKLOADS,
    NetworkPolicies,
    NetworkPoliciesArgs,
    all_policy_manifests,
    flows_for,
    workload_policy_manifest,
)
from infra_harness import Rendered, run_mocked

FEED_PORT = 8765


def by_name(fake_feed_port: int | None = None) -> dict[str, dict]:
    return {m["metadata"]["name"]: m for m in all_policy_manifests("ns", fake_feed_port)}


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


def test_without_the_fake_feed_nothing_may_reach_a_feed_pod() -> None:
    policies = by_name()
    assert f"allow-{FAKE_FEED}" not in policies
    producer_out = peers(policies[f"allow-{PRODUCER}"]["spec"]["egress"], "to")
    assert all(name != FAKE_FEED for name, _ in producer_out)


def test_with_the_fake_feed_the_producer_reaches_it_on_its_port_both_ends() -> None:
    policies = by_name(FEED_PORT)
    producer_out = peers(policies[f"allow-{PRODUCER}"]["spec"]["egress"], "to")
    assert (FAKE_FEED, (FEED_PORT,)) in producer_out
    feed_in = peers(policies[f"allow-{FAKE_FEED}"]["spec"]["ingress"], "from")
    assert (PRODUCER, (FEED_PORT,)) in feed_in
    assert selects(policies[f"allow-{FAKE_FEED}"], FAKE_FEED)


def test_with_the_fake_feed_no_pod_but_the_producer_may_open_the_feed() -> None:
    feed_in = by_name(FEED_PORT)[f"allow-{FAKE_FEED}"]["spec"]["ingress"]
    pod_sources = {name for name, _ in peers(feed_in, "from") if name is not None}
    assert pod_sources == {PRODUCER}
    assert {flow.source for flow in flows_for(FEED_PORT) if flow.target == FAKE_FEED} == {PRODUCER}


def test_with_the_fake_feed_the_producer_no_longer_leaves_the_cluster() -> None:
    policies = by_name(FEED_PORT)
    for rule in policies[f"allow-{PRODUCER}"]["spec"]["egress"]:
        assert all("ipBlock" not in peer for peer in rule["to"]), rule
    assert by_name()[f"allow-{PRODUCER}"] != policies[f"allow-{PRODUCER}"]


def test_with_the_fake_feed_the_feed_itself_sends_nowhere() -> None:
    assert "egress" not in by_name(FEED_PORT)[f"allow-{FAKE_FEED}"]["spec"]


def test_component_creates_the_feeds_policy_only_when_given_its_port() -> None:
    def body(port: int | None) -> object:
        return NetworkPolicies("network", NetworkPoliciesArgs(namespace="ns", fake_feed_port=port))

    without = {r.name for r in run_mocked(lambda: body(None)).resources}
    with_feed = {r.name for r in run_mocked(lambda: body(FEED_PORT)).resources}
    assert with_feed - without == {f"network-allow-{FAKE_FEED}"}


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
