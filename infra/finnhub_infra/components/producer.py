"""ProducerDeployment: the Finnhub websocket producer, its token Secret and metrics Service.

One replica by default: Finnhub allows one websocket per token, and a second producer would
subscribe the same symbols twice. The liveness probe hits `/healthz`, which fails when the main
loop stops beating (see apps/producer's metrics module), so a hung producer is restarted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from finnhub_infra.components import manifests
from finnhub_infra.components.conventions import object_meta, recommended_labels, secret_env
from finnhub_infra.config import ProducerConfig

NAME = "finnhub-producer"
TOKEN_SECRET = "finnhub-token"
TOKEN_KEY = "token"
# The uid the producer image creates for itself (apps/producer/Dockerfile).
PRODUCER_UID = 10001


@dataclass(frozen=True)
class ProducerDeploymentArgs:
    namespace: pulumi.Input[str]
    config: ProducerConfig
    image: pulumi.Input[str]
    finnhub_token: pulumi.Input[str]
    kafka_bootstrap_servers: pulumi.Input[str]
    kafka_topic: str
    kafka_dlq_topic: str


def producer_env(
    cfg: ProducerConfig, bootstrap: str, topic: str, dlq_topic: str
) -> list[dict[str, Any]]:
    return [
        secret_env("FINNHUB_TOKEN", TOKEN_SECRET, TOKEN_KEY),
        {"name": "FINNHUB_WS_URL", "value": cfg.ws_url},
        {"name": "FINNHUB_SYMBOLS", "value": ",".join(cfg.symbols)},
        {"name": "KAFKA_BOOTSTRAP_SERVERS", "value": bootstrap},
        {"name": "KAFKA_TOPIC", "value": topic},
        {"name": "KAFKA_DLQ_TOPIC", "value": dlq_topic},
        # The producer binds loopback by default; in a pod the probes and Service come from outside.
        {"name": "METRICS_HOST", "value": "0.0.0.0"},
        {"name": "METRICS_PORT", "value": str(cfg.metrics_port)},
    ]


def deployment_manifest(
    namespace: pulumi.Input[str],
    cfg: ProducerConfig,
    image: pulumi.Input[str],
    bootstrap: pulumi.Input[str],
    topic: str,
    dlq_topic: str,
) -> dict[str, Any]:
    labels = recommended_labels(NAME, "producer", image)
    container = manifests.container(
        "producer",
        image,
        cfg.resources.to_manifest(),
        read_only_root=True,
        env=producer_env(cfg, bootstrap, topic, dlq_topic),
        ports={"metrics": cfg.metrics_port},
        readiness=manifests.http_probe("/metrics", cfg.metrics_port, initial_delay=5, period=10),
        liveness=manifests.http_probe(
            "/healthz", cfg.metrics_port, initial_delay=10, period=15, failure_threshold=4
        ),
    )
    template = manifests.pod_template(
        labels,
        [container],
        uid=PRODUCER_UID,
        annotations={
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(cfg.metrics_port),
        },
        automount_service_account_token=False,
    )
    return manifests.deployment(
        NAME,
        namespace,
        labels,
        replicas=cfg.replicas,
        # Never two producers on one token, not even during a rollout.
        strategy="Recreate",
        template=template,
    )


def metrics_service_manifest(
    namespace: pulumi.Input[str], cfg: ProducerConfig, image: pulumi.Input[str]
) -> dict[str, Any]:
    return manifests.service(
        f"{NAME}-metrics",
        namespace,
        recommended_labels(NAME, "producer", image),
        NAME,
        {"metrics": cfg.metrics_port},
    )


class ProducerDeployment(pulumi.ComponentResource):
    """The producer Deployment with its token Secret and metrics Service."""

    token_secret_name: str
    metrics_port: int

    def __init__(
        self, name: str, args: ProducerDeploymentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("finnhub:infra:ProducerDeployment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = pulumi.Output.from_input(args.namespace)
        cfg = args.config

        token = k8s.core.v1.Secret(
            f"{name}-token",
            metadata=object_meta(TOKEN_SECRET, ns, recommended_labels(NAME, "producer", "v1")),
            type="Opaque",
            string_data={TOKEN_KEY: pulumi.Output.secret(args.finnhub_token)},
            opts=child,
        )
        manifests.resource_from_manifest(
            k8s.apps.v1.Deployment,
            f"{name}-deployment",
            deployment_manifest(
                ns,
                cfg,
                args.image,
                args.kafka_bootstrap_servers,
                args.kafka_topic,
                args.kafka_dlq_topic,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[token]),
            spec="spec",
        )
        manifests.resource_from_manifest(
            k8s.core.v1.Service,
            f"{name}-metrics",
            metrics_service_manifest(ns, cfg, args.image),
            child,
            spec="spec",
        )

        self.token_secret_name = TOKEN_SECRET
        self.metrics_port = cfg.metrics_port
        self.register_outputs({"token_secret_name": TOKEN_SECRET, "metrics_port": cfg.metrics_port})
