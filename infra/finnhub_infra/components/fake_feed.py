"""FakeFeed: the fake Finnhub websocket (apps/fake-feed) as a Deployment and a Service.

For an end-to-end run on a cluster without a Finnhub account: the producer reads this feed
instead of the real endpoint (`producer_config_for`), and a test outside the pod compares the
feed's `GET /sent` with what reached Cassandra. One replica: `/sent` is one process's record,
and a second pod would answer with another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from finnhub_infra.components import manifests
from finnhub_infra.components.conventions import recommended_labels
from finnhub_infra.config import FakeFeedConfig, ProducerConfig, Resources

NAME = "finnhub-fake-feed"
# The uid the feed's image runs as, like the producer's (apps/producer/Dockerfile).
FAKE_FEED_UID = 10001


@dataclass(frozen=True)
class FakeFeedArgs:
    namespace: pulumi.Input[str]
    image: pulumi.Input[str]
    rate: float
    symbols: tuple[str, ...]
    port: int
    resources: Resources
    keep_trades: int = 50_000


def service_url(port: int) -> str:
    """The feed's websocket URL from a pod in the same namespace (the Service's short name)."""
    return f"ws://{NAME}:{port}"


def producer_config_for(producer: ProducerConfig, feed: FakeFeedConfig) -> ProducerConfig:
    """The producer's config with its `ws_url` on the in-cluster feed when the feed is enabled."""
    if not feed.enabled:
        return producer
    return producer.model_copy(update={"ws_url": service_url(feed.port)})


def feed_command(rate: float, symbols: tuple[str, ...], port: int, keep_trades: int) -> list[str]:
    # 0.0.0.0 inside the pod's own network namespace: the Service and the kubelet come from
    # outside it. `--symbols` lists the stack's extra symbols besides the feed's defaults.
    command = ["python", "-m", "finnhub_fake_feed", "--host", "0.0.0.0", "--port", str(port)]
    command += ["--rate", str(rate), "--keep-trades", str(keep_trades)]
    if symbols:
        command += ["--symbols", ",".join(symbols)]
    return command


def deployment_manifest(
    namespace: pulumi.Input[str],
    image: pulumi.Input[str],
    rate: float,
    symbols: tuple[str, ...],
    port: int,
    resources: Resources,
    keep_trades: int,
) -> dict[str, Any]:
    labels = recommended_labels(NAME, "fake-feed", image)
    container = manifests.container(
        "fake-feed",
        image,
        resources.to_manifest(),
        read_only_root=True,
        command=feed_command(rate, symbols, port, keep_trades),
        ports={"ws": port},
        readiness=manifests.http_probe("/healthz", port, initial_delay=2, period=5),
        liveness=manifests.http_probe(
            "/healthz", port, initial_delay=5, period=15, failure_threshold=4
        ),
    )
    template = manifests.pod_template(
        labels, [container], uid=FAKE_FEED_UID, automount_service_account_token=False
    )
    return manifests.deployment(NAME, namespace, labels, replicas=1, template=template)


def service_manifest(
    namespace: pulumi.Input[str], image: pulumi.Input[str], port: int
) -> dict[str, Any]:
    return manifests.service(
        NAME, namespace, recommended_labels(NAME, "fake-feed", image), NAME, {"ws": port}
    )


class FakeFeed(pulumi.ComponentResource):
    """The fake feed's Deployment and the Service the producer and tests reach it by."""

    service_name: str
    port: int
    url: str

    def __init__(
        self, name: str, args: FakeFeedArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("finnhub:infra:FakeFeed", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        manifests.resource_from_manifest(
            k8s.apps.v1.Deployment,
            f"{name}-deployment",
            deployment_manifest(
                args.namespace,
                args.image,
                args.rate,
                args.symbols,
                args.port,
                args.resources,
                args.keep_trades,
            ),
            child,
            spec="spec",
        )
        manifests.resource_from_manifest(
            k8s.core.v1.Service,
            f"{name}-service",
            service_manifest(args.namespace, args.image, args.port),
            child,
            spec="spec",
        )
        self.service_name = NAME
        self.port = args.port
        self.url = service_url(args.port)
        self.register_outputs({"service_name": NAME, "port": args.port, "url": self.url})
