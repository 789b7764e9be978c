"""FakeFeed alone under mocks, its pure builders, and how the producer is pointed at it."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
from finnhub_images.catalog import IMAGES
from finnhub_images.references import write_references
from finnhub_infra.components.fake_feed import (
    NAME,
    FakeFeed,
    FakeFeedArgs,
    producer_config_for,
    service_url,
)
from finnhub_infra.config import FakeFeedConfig, ProducerConfig, parse_stack_config
from infra_harness import FAKE_DIGEST, Rendered, run_mocked, run_program
from pydantic import ValidationError
from test_policy_pack import violations

IMAGE = "registry.test/finnhub-fake-feed@sha256:" + "0" * 64
SYMBOLS = ("BINANCE:BTCUSDT", "AAPL")


def render(port: int = 8765, rate: float = 7.5, keep_trades: int = 1000) -> Rendered:
    cfg = FakeFeedConfig(enabled=True, port=port, rate=rate, keep_trades=keep_trades)

    def body() -> object:
        return FakeFeed(
            "fake-feed",
            FakeFeedArgs(
                namespace="pipeline",
                image=IMAGE,
                rate=cfg.rate,
                symbols=SYMBOLS,
                port=cfg.port,
                resources=cfg.resources,
                keep_trades=cfg.keep_trades,
            ),
        )

    return run_mocked(body)


def container(rendered: Rendered) -> dict:
    spec = rendered.manifest("Deployment", NAME)["spec"]
    return spec["template"]["spec"]["containers"][0]


def test_container_runs_the_feed_module_on_every_address_of_its_pod() -> None:
    command = container(render(port=9000, rate=7.5, keep_trades=1000))["command"]
    assert command[:3] == ["python", "-m", "finnhub_fake_feed"]
    flags = dict(zip(command[3::2], command[4::2], strict=True))
    assert flags == {
        "--host": "0.0.0.0",
        "--port": "9000",
        "--rate": "7.5",
        "--keep-trades": "1000",
        "--symbols": "BINANCE:BTCUSDT,AAPL",
    }


def test_probes_hit_healthz_on_the_feed_port() -> None:
    c = container(render(port=9000))
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": 9000}
    assert c["ports"] == [{"name": "ws", "containerPort": 9000}]


def test_pod_runs_non_root_read_only_without_capabilities_or_api_token() -> None:
    pod = render().manifest("Deployment", NAME)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    security = pod["containers"][0]["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}


def test_one_replica_so_sent_is_one_processes_record() -> None:
    assert render().manifest("Deployment", NAME)["spec"]["replicas"] == 1


def test_container_has_the_configured_requests_and_limits() -> None:
    resources = container(render())["resources"]
    assert resources == FakeFeedConfig().resources.to_manifest()


def test_service_selects_the_feed_pods_on_the_feed_port() -> None:
    rendered = render(port=9000)
    svc = rendered.manifest("Service", NAME)["spec"]
    pod_labels = rendered.manifest("Deployment", NAME)["spec"]["template"]["metadata"]["labels"]
    assert svc["ports"] == [{"name": "ws", "port": 9000, "targetPort": 9000}]
    assert svc["selector"].items() <= pod_labels.items()


def test_manifests_match_the_kubernetes_schema() -> None:
    rendered = render()
    for kind in ("Deployment", "Service"):
        kubernetes_validate.validate(rendered.manifest(kind, NAME), "1.34.0", strict=True)


def test_manifests_pass_the_policy_pack() -> None:
    rendered = render()
    deployment = rendered.manifest("Deployment", NAME)
    assert violations(deployment) == []
    assert violations(rendered.manifest("Service", NAME), "kubernetes:core/v1:Service") == []


def test_component_exposes_the_url_the_producer_reads() -> None:
    rendered = render(port=9000)
    outputs = next(iter(o for urn, o in rendered.registered_outputs.items() if "FakeFeed" in urn))
    assert outputs == {"service_name", "port", "url"}
    assert service_url(9000) == f"ws://{NAME}:9000"


def test_producer_reads_the_in_cluster_feed_when_it_is_enabled() -> None:
    producer = ProducerConfig()
    wired = producer_config_for(producer, FakeFeedConfig(enabled=True, port=9000))
    assert wired.ws_url == "ws://finnhub-fake-feed:9000"
    assert wired.model_copy(update={"ws_url": producer.ws_url}) == producer


def test_producer_reads_finnhub_when_the_feed_is_disabled() -> None:
    producer = ProducerConfig()
    assert producer_config_for(producer, FakeFeedConfig(port=9000)) is producer
    assert producer.ws_url == "wss://ws.finnhub.io"


def test_feed_is_off_unless_a_stack_enables_it() -> None:
    assert parse_stack_config({}).fake_feed.enabled is False
    cfg = parse_stack_config({"fakeFeed": {"enabled": True, "rate": 2, "keepTrades": 10}})
    assert (cfg.fake_feed.enabled, cfg.fake_feed.rate, cfg.fake_feed.keep_trades) == (True, 2, 10)


def test_feed_config_rejects_a_port_out_of_range() -> None:
    with pytest.raises(ValidationError, match="port"):
        parse_stack_config({"fakeFeed": {"port": 70000}})


def test_a_change_of_the_producers_symbols_does_not_restart_the_feed(tmp_path: Path) -> None:
    # Found on the real cluster: the feed listed the producer's symbols, so adding one rolled
    # the feed too, and what it had sent was lost from its record with the pod.
    refs = tmp_path / "references.json"
    write_references(refs, {i.name: f"r/finnhub-{i.name}@{FAKE_DIGEST}" for i in IMAGES})
    images = {"referencesFile": str(refs)}
    before = run_program("local", overrides={"images": images})
    more = [*ProducerConfig().symbols, "BINANCE:SOLUSDT"]
    after = run_program("local", overrides={"images": images, "producer": {"symbols": more}})
    feed = "finnhub-fake-feed"
    assert after.manifest("Deployment", feed) == before.manifest("Deployment", feed)
    producer = "finnhub-producer"
    assert after.manifest("Deployment", producer) != before.manifest("Deployment", producer)
