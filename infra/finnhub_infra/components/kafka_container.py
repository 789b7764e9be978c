"""The container contract of the project's Kafka image (`images/kafka/Dockerfile`).

The image is a JRE and the jar set local-stack runs, in `/opt/kafka/libs`; it has no entrypoint
script. Everything else is rendered here: `server.properties` as a ConfigMap template, an init
step that fills in the pod's own values (node id, advertised name) and formats the KRaft storage,
and the broker's command, `java ... -cp '/opt/kafka/libs/*' kafka.Kafka /config/server.properties`.

Network and paths are parameters with the pod's values as defaults: the contract test runs the
same files and commands on a host's loopback, with free ports and a temporary folder.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from local_stack.kafka import SERVER_MAIN, STORAGE_TOOL_MAIN, java_command, render_log4j2_properties

from finnhub_infra.config import KafkaConfig

SERVER_PROPERTIES = "server.properties"
LOG4J_PROPERTIES = "log4j2.properties"
PREPARE_SCRIPT = "prepare-node.sh"
# Placeholders the init step replaces with values only the pod knows.
NODE_ID_PLACEHOLDER = "@NODE_ID@"
ADVERTISED_HOST_PLACEHOLDER = "@ADVERTISED_HOST@"
TOOLS_HEAP = "256m"
TOPIC_COMMAND_MAIN = "org.apache.kafka.tools.TopicCommand"
CONFIG_COMMAND_MAIN = "org.apache.kafka.tools.ConfigCommand"


@dataclass(frozen=True)
class BrokerPaths:
    """Where the container finds things: the image's jars, the ConfigMap, its writable folders."""

    libs: str = "/opt/kafka/libs"
    templates: str = "/etc/kafka/templates"
    config: str = "/config"
    data: str = "/var/lib/kafka/data"

    @property
    def log_dirs(self) -> str:
        # A subfolder: the volume's root may hold `lost+found`, which is no partition.
        return f"{self.data}/logs"


@dataclass(frozen=True)
class BrokerNetwork:
    """Where brokers listen and how they reach the controllers.

    In a pod: every interface, the fixed ports, controllers by their stable DNS names
    (`voter_hosts` None). On a host, `bind_host` and one voter host pin it to loopback.
    """

    client_port: int = 9092
    controller_port: int = 9093
    bind_host: str = ""
    voter_hosts: tuple[str, ...] | None = None


POD_PATHS = BrokerPaths()
POD_NETWORK = BrokerNetwork()


def render_server_properties_template(
    cfg: KafkaConfig, voters: str, network: BrokerNetwork, paths: BrokerPaths
) -> str:
    """server.properties of every broker, with the pod's own values left as placeholders."""
    rf = cfg.topic_replication_factor
    min_isr = str(min(2, rf))
    bind = network.bind_host
    properties = {
        "process.roles": "broker,controller",
        "node.id": NODE_ID_PLACEHOLDER,
        # Static voters: storage formats without --standalone, the quorum is the StatefulSet.
        "controller.quorum.voters": voters,
        "listeners": (
            f"PLAINTEXT://{bind}:{network.client_port},CONTROLLER://{bind}:{network.controller_port}"
        ),
        "advertised.listeners": f"PLAINTEXT://{ADVERTISED_HOST_PLACEHOLDER}:{network.client_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": paths.log_dirs,
        # Topics are created by the topics Job with explicit settings, never implicitly.
        "auto.create.topics.enable": "false",
        "num.partitions": str(cfg.topic_partitions),
        "offsets.topic.replication.factor": str(rf),
        "transaction.state.log.replication.factor": str(rf),
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": str(rf),
        "share.coordinator.state.topic.min.isr": min_isr,
    }
    return "".join(f"{key}={value}\n" for key, value in properties.items())


def _java(
    heap: str, paths: BrokerPaths, main: str, args: list[str], short_lived: bool = False
) -> list[str]:
    """local-stack's own Kafka JVM command, with the image's paths. The broker gets the full
    JIT; short-lived tools (storage format, topic admin) start C1-only, which answers sooner."""
    return java_command(
        "java",
        Path(paths.libs),
        heap,
        Path(paths.templates) / LOG4J_PROPERTIES,
        main,
        args,
        quick_start_jit=short_lived,
    )


def render_prepare_script(paths: BrokerPaths) -> str:
    """The init step: this pod's server.properties, then KRaft storage formatted once.

    The node id is the StatefulSet ordinal (`kafka-2` is node 2); `ADVERTISED_HOST` and
    `CLUSTER_ID` come from the pod's environment. `--ignore-formatted` keeps existing data.
    """
    config = f"{paths.config}/{SERVER_PROPERTIES}"
    storage_tool = shlex.join(_java(TOOLS_HEAP, paths, STORAGE_TOOL_MAIN, [], short_lived=True))
    return (
        "set -eu\n"
        'node_id="${HOSTNAME##*-}"\n'
        f'sed -e "s|{NODE_ID_PLACEHOLDER}|${{node_id}}|g"'
        f' -e "s|{ADVERTISED_HOST_PLACEHOLDER}|${{ADVERTISED_HOST}}|g"'
        f" {shlex.quote(paths.templates + '/' + SERVER_PROPERTIES)} > {shlex.quote(config)}\n"
        f'exec {storage_tool} format -t "$CLUSTER_ID" -c {shlex.quote(config)}'
        " --ignore-formatted\n"
    )


def config_files(
    cfg: KafkaConfig, voters: str, network: BrokerNetwork, paths: BrokerPaths
) -> dict[str, str]:
    """The broker ConfigMap's data: the properties template, logging, the init script."""
    return {
        SERVER_PROPERTIES: render_server_properties_template(cfg, voters, network, paths),
        LOG4J_PROPERTIES: render_log4j2_properties(),
        PREPARE_SCRIPT: render_prepare_script(paths),
    }


def prepare_command(paths: BrokerPaths) -> list[str]:
    return ["/bin/bash", f"{paths.templates}/{PREPARE_SCRIPT}"]


def broker_command(cfg: KafkaConfig, paths: BrokerPaths) -> list[str]:
    """The broker itself: the JVM, the image's jars, the file the init step rendered."""
    return _java(cfg.heap, paths, SERVER_MAIN, [f"{paths.config}/{SERVER_PROPERTIES}"])


def tool_shell_function(name: str, main: str, paths: BrokerPaths) -> str:
    """A shell function running one of Kafka's admin tools from the image's jars."""
    tool = shlex.join(_java(TOOLS_HEAP, paths, main, [], short_lived=True))
    return f'{name}() {{ {tool} "$@"; }}'
