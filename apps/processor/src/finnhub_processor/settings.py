"""Everything the processor can be told, read once from the environment (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from finnhub_contracts.cassandra import KEYSPACE, check_keyspace
from finnhub_contracts.environment import unknown_variables, variable_names
from finnhub_contracts.kafka import DLQ_TOPIC, TOPIC
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from finnhub_processor.progress import interval_ms


class ProcessorSettings(BaseSettings):
    """The processor's configuration; every field is an environment variable of the same name."""

    model_config = SettingsConfigDict(extra="ignore")

    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_topic: str = TOPIC
    kafka_dlq_topic: str = Field(DLQ_TOPIC, description="Where undecodable records go.")
    kafka_starting_offsets: str = Field(
        "earliest",
        description="Where a query without a checkpoint starts; `earliest` loses nothing retained.",
    )
    kafka_max_offsets_per_trigger: int | None = Field(
        None, ge=1, description="Caps one micro-batch so a backlog drains in bounded steps."
    )

    cassandra_hosts: str = Field("localhost", description="Comma-separated contact points.")
    cassandra_port: int = 9042
    cassandra_username: str | None = None
    cassandra_password: SecretStr | None = None
    cassandra_keyspace: str = Field(
        KEYSPACE,
        description="Keyspace of the tables; created by finnhub_contracts.cassandra.setup_cql.",
    )
    cassandra_concurrency: int = Field(64, ge=1, description="In-flight writes per partition.")
    cassandra_retry_seconds: float = Field(
        300.0, gt=0, description="How long one batch keeps retrying failed writes before failing."
    )

    checkpoint_dir: str = Field(
        ".state/processor/checkpoints",
        description="Folder or Hadoop URI (e.g. s3a://...) holding one checkpoint per query.",
    )
    spark_master: str = Field(
        "local[6]",
        description=(
            "Without spark-submit. Task slots, not cores: the trades query's real-time tasks "
            "hold one per Kafka partition (3) all the time, the windows query needs its own."
        ),
    )
    spark_jars: str = Field(
        "", description="Comma-separated connector jars (Kafka, Avro) for `spark.jars`."
    )
    spark_shuffle_partitions: int = Field(4, ge=1)
    spark_ui_enabled: bool = False

    watermark_delay: str = Field("10 seconds", description="How late a trade may arrive.")
    trigger_interval: str = Field(
        "1 second", description="The windows query's micro-batch processing-time trigger."
    )
    trades_trigger: Literal["micro-batch", "real-time"] = Field(
        "micro-batch",
        description=(
            "How the trades query runs: micro-batches every TRADES_INTERVAL, or Spark's "
            "real-time mode with TRADES_INTERVAL epochs. Measured on two cores, real-time mode "
            "with this Python foreach writer fell behind at 1,000 trades/s "
            "(benchmarks/processor.py)."
        ),
    )
    trades_interval: str = Field(
        "250 milliseconds",
        description=(
            "The trades query's trigger interval, or its real-time epoch: how often it "
            "checkpoints, and (its foreach writer being Python, which Spark feeds at each "
            "epoch's end) how soon a trade lands."
        ),
    )
    progress_summary_seconds: float = Field(
        60.0, gt=0, description="How often each query's batch times are summarised in the log."
    )

    @field_validator("cassandra_keyspace")
    @classmethod
    def _keyspace_is_plain(cls, value: str) -> str:
        # Spliced into every INSERT: only a plain identifier is accepted.
        return check_keyspace(value)

    @field_validator("trigger_interval", "trades_interval")
    @classmethod
    def _trigger_interval_is_an_interval(cls, value: str) -> str:
        interval_ms(value)
        return value

    @property
    def cassandra_contact_points(self) -> list[str]:
        return [host.strip() for host in self.cassandra_hosts.split(",") if host.strip()]

    def checkpoint_location(self, query_name: str) -> str:
        return f"{self.checkpoint_dir.rstrip('/')}/{query_name}"

    @property
    def spark_jar_list(self) -> list[str]:
        return [jar.strip() for jar in self.spark_jars.split(",") if jar.strip()]


class SubmitterSettings(BaseSettings):
    """The submitter's configuration (`python -m finnhub_processor.k8s_submit`): its own pod,
    from the downward API, and where the Pulumi program mounted the driver's pod template."""

    model_config = SettingsConfigDict(extra="ignore")

    pod_name: str = Field(min_length=1, description="fieldRef metadata.name")
    pod_uid: str = Field(min_length=1, description="fieldRef metadata.uid")
    pod_namespace: str = Field(min_length=1, description="fieldRef metadata.namespace")
    submit_app_name: str = Field(
        "finnhub-processor", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63
    )
    submit_driver_template: str = Field(
        description="The driver pod template (JSON) the owner reference is added to."
    )
    submit_work_dir: str = Field(
        "/tmp/finnhub-submit", description="Writable: the rendered template, the ready marker."
    )
    submit_poll_seconds: float = Field(2.0, gt=0)
    spark_home: str = Field(description="Where bin/spark-submit is (the image sets it).")


# The prefixes of the processor's own variables. Not SPARK_: Spark itself reads and sets dozens
# of SPARK_* variables (SPARK_HOME, SPARK_LOCAL_IP, SPARK_CONF_DIR, and on Kubernetes
# SPARK_DRIVER_*, SPARK_EXECUTOR_*, SPARK_JAVA_OPT_<n>...), so that prefix would warn on Spark's
# own. The processor's SPARK_MASTER, SPARK_JARS... are checked where they are set instead
# (tests/processor/test_settings_environment.py, tests/infra/test_env_contract.py).
ENV_PREFIXES = ("KAFKA_", "CASSANDRA_", "CHECKPOINT_")
# Variables a starter may set for Spark itself (read by Spark's launcher and JVM, not by the
# processor's settings): the starter checks accept these beside the processor's own.
SPARK_RUNTIME_VARIABLES = frozenset({"SPARK_LOCAL_IP", "SPARK_HOME", "SPARK_CONF_DIR"})


def unknown_environment(environ: Mapping[str, str]) -> list[str]:
    """Variables with the processor's prefixes that it does not read (a typo, a renamed one)."""
    return unknown_variables(environ, ENV_PREFIXES, variable_names(ProcessorSettings))
