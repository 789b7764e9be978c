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
from finnhub_infra.components.conventions import (
    container_security_context,
    object_meta,
    pod_security_context,
    recommended_labels,
    secret_env,
    selector_labels,
)
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
        {"name": "METRICS_PORT", "value": str(cfg.metrics_port)},
    ]


def deployment_manifest(
    namespace: str, cfg: ProducerConfig, image: str, bootstrap: str, topic: str, dlq_topic: str
) -> dict[str, Any]:
    labels = recommended_labels(NAME, "producer", image)
    container = {
        "name": "producer",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": producer_env(cfg, bootstrap, topic, dlq_topic),
        "ports": [{"name": "metrics", "containerPort": cfg.metrics_port}],
        "resources": cfg.resources.to_manifest(),
        "securityContext": container_security_context(read_only_root=True),
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": cfg.metrics_port},
            "initialDelaySeconds": 10,
            "periodSeconds": 15,
            "failureThreshold": 4,
        },
        "readinessProbe": {
            "httpGet": {"path": "/metrics", "port": cfg.metrics_port},
            "initialDelaySeconds": 5,
            "periodSeconds": 10,
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(NAME, namespace, labels),
        "spec": {
            "replicas": cfg.replicas,
            # Never two producers on one token, not even during a rollout.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector_labels(NAME)},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(cfg.metrics_port),
                    },
                },
                "spec": {
                    "securityContext": pod_security_context(PRODUCER_UID),
                    "enableServiceLinks": False,
                    "automountServiceAccountToken": False,
                    "containers": [container],
                },
            },
        },
    }


def metrics_service_manifest(namespace: str, cfg: ProducerConfig, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(
            f"{NAME}-metrics", namespace, recommended_labels(NAME, "producer", image)
        ),
        "spec": {
            "selector": selector_labels(NAME),
            "ports": [
                {"name": "metrics", "port": cfg.metrics_port, "targetPort": cfg.metrics_port}
            ],
        },
    }


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
            metadata=ns.apply(
                lambda n: object_meta(TOKEN_SECRET, n, recommended_labels(NAME, "producer", "v1"))
            ),
            type="Opaque",
            string_data={TOKEN_KEY: pulumi.Output.secret(args.finnhub_token)},
            opts=child,
        )
        manifest = pulumi.Output.all(ns, args.image, args.kafka_bootstrap_servers).apply(
            lambda v: deployment_manifest(
                v[0], cfg, v[1], v[2], args.kafka_topic, args.kafka_dlq_topic
            )
        )
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=manifest.apply(lambda m: m["metadata"]),
            spec=manifest.apply(lambda m: m["spec"]),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[token]),
        )
        service = pulumi.Output.all(ns, args.image).apply(
            lambda v: metrics_service_manifest(v[0], cfg, v[1])
        )
        k8s.core.v1.Service(
            f"{name}-metrics",
            metadata=service.apply(lambda m: m["metadata"]),
            spec=service.apply(lambda m: m["spec"]),
            opts=child,
        )

        self.token_secret_name = TOKEN_SECRET
        self.metrics_port = cfg.metrics_port
        self.register_outputs({"token_secret_name": TOKEN_SECRET, "metrics_port": cfg.metrics_port})
