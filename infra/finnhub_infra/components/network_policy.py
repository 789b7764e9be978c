"""NetworkPolicies: deny everything in the pipeline namespace, then allow exactly the data flow.

The allowances are one table, `FLOWS` (who talks to whom on which port); each workload's policy
is derived from it, so an ingress rule on the receiver always has the matching egress rule on
the sender and a reader checks one list instead of a dozen YAML documents. With the fake feed
enabled (`fake_feed_port`), `flows_for` and `external_for` add its flow and take away the
producer's way out to Finnhub, which it then no longer needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from finnhub_infra.components import manifests
from finnhub_infra.components.conventions import object_meta, recommended_labels, selector_labels

KAFKA = "kafka"
KAFKA_UI = "kafka-ui"
TOPICS_JOB = "kafka-topics"
CASSANDRA = "cassandra"
SCHEMA_JOB = "cassandra-schema"
PRODUCER = "finnhub-producer"
PROCESSOR = "finnhub-processor"
GRAFANA = "grafana"
# Deployed only when a stack enables it (see `FakeFeed`), so not in `WORKLOADS`.
FAKE_FEED = "finnhub-fake-feed"
# Only with `spark.runner: submit` (spark_submit.py): runs spark-submit, talks only to the API.
SUBMITTER = "finnhub-processor-submitter"

WORKLOADS = (KAFKA, KAFKA_UI, TOPICS_JOB, CASSANDRA, SCHEMA_JOB, PRODUCER, PROCESSOR, GRAFANA)
RUNNER_WORKLOADS = {"operator": (), "submit": (SUBMITTER,)}


@dataclass(frozen=True)
class Flow:
    source: str
    target: str
    ports: tuple[int, ...]


FLOWS: tuple[Flow, ...] = (
    Flow(KAFKA, KAFKA, (9092, 9093)),
    Flow(PRODUCER, KAFKA, (9092,)),
    Flow(PROCESSOR, KAFKA, (9092,)),
    Flow(TOPICS_JOB, KAFKA, (9092,)),
    Flow(KAFKA_UI, KAFKA, (9092,)),
    Flow(CASSANDRA, CASSANDRA, (7000,)),
    Flow(PROCESSOR, CASSANDRA, (9042,)),
    Flow(SCHEMA_JOB, CASSANDRA, (9042,)),
    Flow(GRAFANA, CASSANDRA, (9042,)),
    # Spark driver and executors talk on ports Spark picks (block manager, RPC).
    Flow(PROCESSOR, PROCESSOR, ()),
)


@dataclass(frozen=True)
class External:
    """Traffic that crosses the namespace boundary, and why it is needed."""

    workload: str
    direction: str
    ports: tuple[int, ...]
    reason: str


FINNHUB_EGRESS = External(PRODUCER, "egress", (443,), "the Finnhub websocket")
EXTERNAL: tuple[External, ...] = (
    FINNHUB_EGRESS,
    External(PROCESSOR, "egress", (443, 6443), "the Kubernetes API: the driver creates executors"),
    External(
        SUBMITTER, "egress", (443, 6443), "the Kubernetes API: spark-submit creates the driver"
    ),
    External(GRAFANA, "egress", (443,), "the Cassandra datasource plugin download at start"),
    External(GRAFANA, "ingress", (3000,), "users, through port-forward or an ingress"),
    External(KAFKA_UI, "ingress", (8080,), "users, through port-forward or an ingress"),
    External(PRODUCER, "ingress", (9108,), "Prometheus scraping /metrics"),
)


def workloads_for(fake_feed_port: int | None, spark_runner: str = "operator") -> tuple[str, ...]:
    feed = () if fake_feed_port is None else (FAKE_FEED,)
    return (*WORKLOADS, *RUNNER_WORKLOADS[spark_runner], *feed)


def flows_for(fake_feed_port: int | None) -> tuple[Flow, ...]:
    if fake_feed_port is None:
        return FLOWS
    return (*FLOWS, Flow(PRODUCER, FAKE_FEED, (fake_feed_port,)))


def external_for(fake_feed_port: int | None) -> tuple[External, ...]:
    if fake_feed_port is None:
        return EXTERNAL
    reason = "the kubelet's probes and a test reading /sent through port-forward"
    kept = tuple(ext for ext in EXTERNAL if ext != FINNHUB_EGRESS)
    return (*kept, External(FAKE_FEED, "ingress", (fake_feed_port,), reason))


@dataclass(frozen=True)
class NetworkPoliciesArgs:
    namespace: pulumi.Input[str]
    # The fake feed's port when a stack enables it; None: no feed, the producer reads Finnhub.
    fake_feed_port: int | None = None
    # Which Spark runner the stack uses: it decides whether a submitter workload exists.
    spark_runner: str = "operator"


def _pods(name: str) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": selector_labels(name)}}


def _ports(ports: tuple[int, ...]) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def _rule(peer_key: str, peers: list[dict[str, Any]], ports: tuple[int, ...]) -> dict[str, Any]:
    rule: dict[str, Any] = {peer_key: peers}
    if ports:
        rule["ports"] = _ports(ports)
    return rule


def _policy(name: str, namespace: pulumi.Input[str], spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": object_meta(
            name, namespace, recommended_labels("network-policy", "security", "v1")
        ),
        "spec": spec,
    }


def default_deny_manifest(namespace: pulumi.Input[str]) -> dict[str, Any]:
    return _policy(
        "default-deny", namespace, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    )


def dns_egress_manifest(namespace: pulumi.Input[str]) -> dict[str, Any]:
    return _policy(
        "allow-dns",
        namespace,
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"namespaceSelector": {}}],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
    )


def workload_policy_manifest(
    namespace: pulumi.Input[str],
    workload: str,
    flows: tuple[Flow, ...] = FLOWS,
    external: tuple[External, ...] = EXTERNAL,
) -> dict[str, Any]:
    """Ingress from every flow that ends at `workload`, egress to every flow that starts there."""
    ingress = [_rule("from", [_pods(f.source)], f.ports) for f in flows if f.target == workload]
    egress = [_rule("to", [_pods(f.target)], f.ports) for f in flows if f.source == workload]
    anywhere = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    for ext in external:
        if ext.workload != workload:
            continue
        if ext.direction == "ingress":
            ingress.append(_rule("from", [*anywhere, {"namespaceSelector": {}}], ext.ports))
        else:
            egress.append(_rule("to", anywhere, ext.ports))
    spec: dict[str, Any] = {"podSelector": _pods(workload)["podSelector"], "policyTypes": []}
    if ingress:
        spec["policyTypes"].append("Ingress")
        spec["ingress"] = ingress
    if egress:
        spec["policyTypes"].append("Egress")
        spec["egress"] = egress
    return _policy(f"allow-{workload}", namespace, spec)


def all_policy_manifests(
    namespace: pulumi.Input[str], fake_feed_port: int | None = None, spark_runner: str = "operator"
) -> list[dict[str, Any]]:
    flows, external = flows_for(fake_feed_port), external_for(fake_feed_port)
    return [
        default_deny_manifest(namespace),
        dns_egress_manifest(namespace),
        *(
            workload_policy_manifest(namespace, w, flows, external)
            for w in workloads_for(fake_feed_port, spark_runner)
        ),
    ]


class NetworkPolicies(pulumi.ComponentResource):
    """Default-deny plus the allowances of `FLOWS` and `EXTERNAL`."""

    policy_names: list[str]

    def __init__(
        self, name: str, args: NetworkPoliciesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("finnhub:infra:NetworkPolicies", name, None, opts)
        policies = all_policy_manifests(args.namespace, args.fake_feed_port, args.spark_runner)
        names = [policy["metadata"]["name"] for policy in policies]
        for policy in policies:
            manifests.resource_from_manifest(
                k8s.networking.v1.NetworkPolicy,
                f"{name}-{policy['metadata']['name']}",
                policy,
                pulumi.ResourceOptions(parent=self),
                spec="spec",
            )
        self.policy_names = names
        self.register_outputs({"policy_names": names})
