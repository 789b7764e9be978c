"""ProducerDeployment alone under mocks."""

from __future__ import annotations

from finnhub_infra.components.producer import ProducerDeployment, ProducerDeploymentArgs
from finnhub_infra.config import ProducerConfig
from infra_harness import Rendered, run_mocked

IMAGE = "registry.test/finnhub-producer@sha256:" + "0" * 64


def render(cfg: ProducerConfig) -> Rendered:
    def body() -> object:
        return ProducerDeployment(
            "producer",
            ProducerDeploymentArgs(
                namespace="pipeline",
                config=cfg,
                image=IMAGE,
                finnhub_token="tok-123",
                kafka_bootstrap_servers="kafka:9092",
                kafka_topic="market",
                kafka_dlq_topic="market.dlq",
            ),
        )

    return run_mocked(body)


def container(rendered: Rendered) -> dict:
    spec = rendered.manifest("Deployment", "finnhub-producer")["spec"]
    return spec["template"]["spec"]["containers"][0]


def test_token_reaches_the_pod_only_through_its_secret() -> None:
    rendered = render(ProducerConfig())
    env = {e["name"]: e for e in container(rendered)["env"]}
    ref = env["FINNHUB_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert (ref["name"], ref["key"]) == ("finnhub-token", "token")
    assert rendered.manifest("Secret", "finnhub-token")["stringData"]["token"] == "tok-123"


def test_env_follows_the_design_contract() -> None:
    env = {e["name"]: e.get("value") for e in container(render(ProducerConfig()))["env"]}
    assert env["FINNHUB_SYMBOLS"] == (
        "BINANCE:BTCUSDT,BINANCE:ETHUSDT,BINANCE:XRPUSDT,BINANCE:DOGEUSDT"
    )
    assert env["FINNHUB_WS_URL"] == "wss://ws.finnhub.io"
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["KAFKA_TOPIC"] == "market"


def test_pod_serves_metrics_beyond_loopback_for_probes_and_the_service() -> None:
    env = {e["name"]: e.get("value") for e in container(render(ProducerConfig()))["env"]}
    assert env["METRICS_HOST"] == "0.0.0.0"


def test_liveness_probe_hits_healthz_on_the_metrics_port() -> None:
    c = container(render(ProducerConfig(metrics_port=9200)))
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 9200}
    assert c["ports"] == [{"name": "metrics", "containerPort": 9200}]


def test_metrics_service_exposes_the_metrics_port() -> None:
    svc = render(ProducerConfig()).manifest("Service", "finnhub-producer-metrics")
    assert svc["spec"]["ports"][0]["port"] == 9108


def test_rollouts_never_run_two_producers_on_one_token() -> None:
    spec = render(ProducerConfig()).manifest("Deployment", "finnhub-producer")["spec"]
    assert spec["strategy"] == {"type": "Recreate"}


def test_producer_pod_gets_no_kubernetes_api_token() -> None:
    spec = render(ProducerConfig()).manifest("Deployment", "finnhub-producer")["spec"]
    assert spec["template"]["spec"]["automountServiceAccountToken"] is False
