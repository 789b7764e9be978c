"""Apache Kafka as one KRaft node (broker and controller in one JVM): config, command, probe."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from background_processes.log_files import log_tail
from background_processes.pid_files import ProcessFiles
from confluent_kafka.admin import AdminClient

from local_stack.errors import ServiceStartError
from local_stack.network import port_open
from local_stack.processes import QUICK_START_JIT_FLAGS
from local_stack.settings import LocalStackSettings

SERVER_MAIN = "kafka.Kafka"
STORAGE_TOOL_MAIN = "kafka.tools.StorageTool"
NODE_ID = 1


def render_server_properties(settings: LocalStackSettings, data_dir: Path) -> str:
    """server.properties of a single combined broker+controller bound to loopback."""
    host = settings.host
    properties = {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        # Static voters: one node, no quorum reconfiguration, so formatting needs no --standalone.
        "controller.quorum.voters": f"{NODE_ID}@{host}:{settings.kafka_controller_port}",
        "listeners": (
            f"PLAINTEXT://{host}:{settings.kafka_port},"
            f"CONTROLLER://{host}:{settings.kafka_controller_port}"
        ),
        "advertised.listeners": f"PLAINTEXT://{host}:{settings.kafka_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        # One broker: internal topics cannot have more replicas than that.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "3",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Consumers in tests and `make run` join a group once; waiting 3 s for others is waste.
        "group.initial.rebalance.delay.ms": "0",
        # Topics are created on purpose with their partition count; a typo must not make one.
        "auto.create.topics.enable": "false",
        "num.network.threads": "2",
        "num.io.threads": "2",
        "log.retention.hours": "24",
    }
    return "".join(f"{key}={value}\n" for key, value in properties.items())


def render_log4j2_properties() -> str:
    """Logs go to stdout, which the launcher sends to the service's log file."""
    return (
        "status = warn\n"
        "appender.out.type = Console\n"
        "appender.out.name = out\n"
        "appender.out.layout.type = PatternLayout\n"
        "appender.out.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = INFO\n"
        "rootLogger.appenderRef.out.ref = out\n"
        "logger.kafka.name = org.apache.kafka\n"
        "logger.kafka.level = WARN\n"
    )


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's Uuid).

    Like Kafka's own Uuid.randomUuid, never one starting with "-": kafka-storage's argument
    parser would read it as an option (1 start in 64 failed with "expected one argument").
    """
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


def java_command(
    java: str,
    jar_dir: Path,
    heap: str,
    log4j_config: Path,
    main: str,
    args: list[str],
    quick_start_jit: bool = True,
) -> list[str]:
    return [
        java,
        f"-Xmx{heap}",
        *(QUICK_START_JIT_FLAGS if quick_start_jit else ()),
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j_config}",
        "-cp",
        f"{jar_dir}/*",
        main,
        *args,
    ]


class KafkaService:
    """Files and commands of the local Kafka node under `<state>/kafka`."""

    name = "kafka"

    def __init__(self, settings: LocalStackSettings, java: str, jar_dir: Path) -> None:
        self._settings = settings
        self._java = java
        self._jar_dir = jar_dir
        self.home = settings.resolved_state_dir / "kafka"
        self.config_file = self.home / "conf" / "server.properties"
        self.log4j_file = self.home / "conf" / "log4j2.properties"
        self.data_dir = self.home / "data"
        self.files = ProcessFiles(
            pid_file=self.home / "kafka.pid",
            log_file=self.home / "logs" / "kafka.log",
            identity=str(self.config_file),
        )

    @property
    def address(self) -> str:
        return self._settings.kafka_bootstrap

    @property
    def ports(self) -> tuple[int, ...]:
        return (self._settings.kafka_port, self._settings.kafka_controller_port)

    def prepare(self) -> None:
        """Writes the configs and formats the storage the first time only."""
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(render_server_properties(self._settings, self.data_dir))
        self.log4j_file.write_text(render_log4j2_properties())
        if (self.data_dir / "meta.properties").is_file():
            return
        command = java_command(
            self._java,
            self._jar_dir,
            "256m",
            self.log4j_file,
            STORAGE_TOOL_MAIN,
            ["format", "-t", new_cluster_id(), "-c", str(self.config_file), "--ignore-formatted"],
        )
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServiceStartError(
                f"kafka: formatting the KRaft storage in {self.data_dir} failed "
                f"(exit {result.returncode}):\n{(result.stdout + result.stderr)[-3000:]}"
            )

    def command(self) -> list[str]:
        return java_command(
            self._java,
            self._jar_dir,
            self._settings.kafka_heap,
            self.log4j_file,
            SERVER_MAIN,
            [str(self.config_file)],
            self._settings.quick_start_jit,
        )

    def answers(self) -> bool:
        """True once the broker serves a metadata request."""
        if not port_open(self._settings.host, self._settings.kafka_port):
            return False
        admin = AdminClient({"bootstrap.servers": self.address, "log_level": 0})
        try:
            metadata = admin.list_topics(timeout=5)
        except Exception:
            return False
        return bool(metadata.brokers)

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.files.log_file, lines)
