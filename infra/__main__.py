"""The pipeline on Kubernetes: read the stack's typed config, compose the components.

Order of reading: `config.py` (what a stack may set), then the components in the order below,
which is the data flow: images, Kafka, Cassandra, the processor (on the runner `spark.runner`
names: `processor_runner.py`), Grafana, the fake feed, the producer, and the network policies
that allow exactly that flow. Optional parts are `None` where the stack leaves them out.
"""

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
from finnhub_infra.bootstrap import read_bootstrap
from finnhub_infra.components.cassandra import CassandraStack, CassandraStackArgs
from finnhub_infra.components.fake_feed import FakeFeed, FakeFeedArgs, producer_config_for
from finnhub_infra.components.grafana import GrafanaStack, GrafanaStackArgs, load_dashboards
from finnhub_infra.components.images import AppImages, AppImagesArgs
from finnhub_infra.components.kafka import KafkaStack, KafkaStackArgs
from finnhub_infra.components.network_policy import NetworkPolicies, NetworkPoliciesArgs
from finnhub_infra.components.processor_workload import ProcessorWorkloadArgs
from finnhub_infra.components.producer import ProducerDeployment, ProducerDeploymentArgs
from finnhub_infra.config import load_stack_config
from finnhub_infra.processor_runner import checkpoint_storage_class, run_processor, runner_export

REPO_ROOT = Path(__file__).resolve().parent.parent

pulumi_config = pulumi.Config()
cfg = load_stack_config(pulumi_config)
finnhub_token = pulumi_config.require_secret("finnhubToken")
grafana_admin_password = pulumi_config.get_secret("grafanaAdminPassword")

bootstrap = read_bootstrap(cfg.terraform_state, str(REPO_ROOT), cfg.bootstrap)
provider = k8s.Provider("cluster", context=cfg.cluster.kube_context)
on_cluster = pulumi.ResourceOptions(providers={"kubernetes": provider})
storage_class = cfg.cluster.storage_class

images = AppImages(
    "images",
    AppImagesArgs(
        registry_url=bootstrap.registry_url,
        config=cfg.images,
        repo_root=str(REPO_ROOT),
        with_fake_feed=cfg.fake_feed.enabled,
    ),
)
kafka = KafkaStack(
    "kafka",
    KafkaStackArgs(
        namespace=bootstrap.namespace,
        config=cfg.kafka,
        storage_class=storage_class,
        image=images.kafka,
    ),
    on_cluster,
)
cassandra = CassandraStack(
    "cassandra",
    CassandraStackArgs(
        namespace=bootstrap.namespace,
        config=cfg.cassandra,
        storage_class=storage_class,
        image=images.cassandra,
    ),
    on_cluster,
)
spark = run_processor(
    "spark",
    ProcessorWorkloadArgs(
        namespace=bootstrap.namespace,
        config=cfg.spark,
        storage_class=checkpoint_storage_class(cfg.spark, storage_class),
        checkpoint_access_mode=cfg.spark.checkpoint_access_mode,
        processor_image=images.processor,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_topic=kafka.topic,
        kafka_dlq_topic=kafka.dlq_topic,
        cassandra_hosts=cassandra.contact_points,
        cassandra_port=cassandra.port,
        cassandra_keyspace=cassandra.keyspace,
        cassandra_credentials_secret=cassandra.credentials_secret_name,
    ),
    pulumi.ResourceOptions(providers={"kubernetes": provider}, depends_on=[kafka, cassandra]),
)
grafana = (
    GrafanaStack(
        "grafana",
        GrafanaStackArgs(
            namespace=bootstrap.namespace,
            config=cfg.grafana,
            dashboards=load_dashboards(REPO_ROOT / cfg.grafana.dashboards_dir),
            cassandra_hosts=cassandra.contact_points,
            cassandra_port=cassandra.port,
            cassandra_keyspace=cassandra.keyspace,
            cassandra_credentials_secret=cassandra.credentials_secret_name,
            admin_password=grafana_admin_password,
        ),
        pulumi.ResourceOptions(providers={"kubernetes": provider}, depends_on=[cassandra]),
    )
    if cfg.grafana.enabled
    else None
)
# With the fake feed enabled the producer reads it, in the cluster, instead of Finnhub.
feed_cfg = cfg.fake_feed
fake_feed = (
    FakeFeed(
        "fake-feed",
        FakeFeedArgs(
            namespace=bootstrap.namespace,
            image=images.fake_feed,
            rate=feed_cfg.rate,
            symbols=feed_cfg.extra_symbols,
            port=feed_cfg.port,
            resources=feed_cfg.resources,
            keep_trades=feed_cfg.keep_trades,
        ),
        on_cluster,
    )
    if feed_cfg.enabled
    else None
)
producer = ProducerDeployment(
    "producer",
    ProducerDeploymentArgs(
        namespace=bootstrap.namespace,
        config=producer_config_for(cfg.producer, feed_cfg),
        image=images.producer,
        finnhub_token=finnhub_token,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_topic=kafka.topic,
        kafka_dlq_topic=kafka.dlq_topic,
    ),
    pulumi.ResourceOptions(
        providers={"kubernetes": provider},
        depends_on=[part for part in (kafka, fake_feed) if part is not None],
    ),
)
NetworkPolicies(
    "network",
    NetworkPoliciesArgs(
        namespace=bootstrap.namespace,
        fake_feed_port=feed_cfg.port if feed_cfg.enabled else None,
        spark_runner=cfg.spark.runner,
    ),
    on_cluster,
)

pulumi.export("namespace", bootstrap.namespace)
pulumi.export("kafkaBootstrapServers", kafka.bootstrap_servers)
pulumi.export("cassandraContactPoints", cassandra.contact_points)
pulumi.export("processorImage", images.processor)
pulumi.export("producerImage", images.producer)
pulumi.export("kafkaImage", images.kafka)
pulumi.export("cassandraImage", images.cassandra)
pulumi.export(*runner_export(spark))
if grafana is not None:
    pulumi.export("grafanaService", grafana.service_name)
    pulumi.export("grafanaAdminPassword", grafana.admin_password)
