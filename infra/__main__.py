"""The pipeline on Kubernetes: read the stack's typed config, compose the components.

Order of reading: `config.py` (what a stack may set), then the components in the order below,
which is the data flow: images, Kafka, Cassandra, the processor (on the runner `spark.runner`
names: `processor_runner.py`), Grafana, the fake feed, the producer, and the network policies
that allow exactly that flow. What each one is given, of the config and of the components
before it, is `composition.py`. Optional parts are `None` where the stack leaves them out.
"""

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
from finnhub_infra import composition as compose
from finnhub_infra.bootstrap import read_bootstrap
from finnhub_infra.components.cassandra import CassandraStack
from finnhub_infra.components.fake_feed import FakeFeed
from finnhub_infra.components.grafana import GrafanaStack, load_dashboards
from finnhub_infra.components.images import AppImages
from finnhub_infra.components.kafka import KafkaStack
from finnhub_infra.components.network_policy import NetworkPolicies
from finnhub_infra.components.producer import ProducerDeployment
from finnhub_infra.composition import on_cluster
from finnhub_infra.config import load_stack_config
from finnhub_infra.processor_runner import run_processor, runner_export

REPO_ROOT = Path(__file__).resolve().parent.parent

pulumi_config = pulumi.Config()
cfg = load_stack_config(pulumi_config)
finnhub_token = pulumi_config.require_secret("finnhubToken")
grafana_admin_password = pulumi_config.get_secret("grafanaAdminPassword")

bootstrap = read_bootstrap(cfg.terraform_state, str(REPO_ROOT), cfg.bootstrap)
ns = bootstrap.namespace
provider = k8s.Provider("cluster", context=cfg.cluster.kube_context)

images = AppImages("images", compose.images_args(cfg, bootstrap.registry_url, REPO_ROOT))
kafka = KafkaStack("kafka", compose.kafka_args(cfg, ns, images.kafka), on_cluster(provider))
cassandra = CassandraStack(
    "cassandra", compose.cassandra_args(cfg, ns, images.cassandra), on_cluster(provider)
)
spark = run_processor(
    "spark",
    compose.processor_args(cfg, ns, images.processor, kafka, cassandra),
    on_cluster(provider, after=[kafka, cassandra]),
)
dashboards = load_dashboards(REPO_ROOT / cfg.grafana.dashboards_dir) if cfg.grafana.enabled else {}
grafana_args = compose.grafana_args(cfg, ns, dashboards, cassandra, grafana_admin_password)
grafana = (
    GrafanaStack("grafana", grafana_args, on_cluster(provider, after=[cassandra]))
    if grafana_args
    else None
)
# With the fake feed enabled the producer reads it, in the cluster, instead of Finnhub.
feed_args = compose.fake_feed_args(cfg, ns, images.fake_feed)
fake_feed = FakeFeed("fake-feed", feed_args, on_cluster(provider)) if feed_args else None
producer = ProducerDeployment(
    "producer",
    compose.producer_args(cfg, ns, images.producer, finnhub_token, kafka),
    on_cluster(provider, after=[kafka, fake_feed]),
)
NetworkPolicies("network", compose.network_policies_args(cfg, ns), on_cluster(provider))

processor_output = runner_export(spark)
outputs = compose.stack_outputs(ns, images, kafka, cassandra, processor_output, grafana)
for name, value in outputs.items():
    pulumi.export(name, value)
