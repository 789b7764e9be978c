"""The container contract of the project's Cassandra image (`images/cassandra/Dockerfile`).

The image is a JRE, the jar set local-stack runs in `/opt/cassandra/lib`, jamm at a fixed path,
and cqlsh; it has no entrypoint script. Rendered here: `cassandra.yaml` as a ConfigMap template
whose pod address an init step fills in, the JVM options as a Java argument file (the flags
local-stack passes, pod-sized), the snitch's datacenter and rack, logging, and the daemon's
command: `java @jvm.options -cp '/opt/cassandra/lib/*' <CassandraDaemon>`.

Network and paths are parameters with the pod's values as defaults: the contract test runs the
same files and commands on a host's loopback, with free ports and a temporary folder.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from local_stack.cassandra import DAEMON_MAIN, JAVA17_MODULE_FLAGS, render_logback_xml

from finnhub_infra.config import CassandraConfig

CASSANDRA_YAML = "cassandra.yaml"
JVM_OPTIONS = "jvm.options"
RACKDC_PROPERTIES = "cassandra-rackdc.properties"
LOGBACK_XML = "logback.xml"
PREPARE_SCRIPT = "prepare-node.sh"
POD_IP_PLACEHOLDER = "@POD_IP@"
DATACENTER = "dc1"
RACK = "rack1"


@dataclass(frozen=True)
class NodePaths:
    """Where the container finds things: the image's jars and jamm, the ConfigMap, its volumes."""

    lib: str = "/opt/cassandra/lib"
    jamm_agent: str = "/opt/cassandra/agents/jamm.jar"
    templates: str = "/etc/cassandra/templates"
    config: str = "/config"
    data: str = "/var/lib/cassandra"


@dataclass(frozen=True)
class NodeNetwork:
    """Where a node listens. In a pod, CQL on every interface (clients and the probe) and the
    fixed ports; on a host, `rpc_bind` pins CQL to loopback and the ports are free ones."""

    cql_port: int = 9042
    storage_port: int = 7000
    rpc_bind: str = "0.0.0.0"


POD_PATHS = NodePaths()
POD_NETWORK = NodeNetwork()


def render_cassandra_yaml_template(
    cfg: CassandraConfig, seeds: str, network: NodeNetwork, paths: NodePaths
) -> str:
    """cassandra.yaml of every node; the pod's IP stays a placeholder for the init step.

    Written as JSON values (a subset of YAML), like local-stack's; every unset key keeps
    Cassandra's default. Authentication is on: the schema Job replaces the default superuser.
    """
    entries: dict[str, object] = {
        "cluster_name": cfg.cluster_name,
        "num_tokens": 16,
        "allocate_tokens_for_local_replication_factor": cfg.replication_factor,
        "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
        "endpoint_snitch": "GossipingPropertyFileSnitch",
        "seed_provider": [
            {
                "class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
                "parameters": [{"seeds": seeds}],
            }
        ],
        "listen_address": POD_IP_PLACEHOLDER,
        "rpc_address": network.rpc_bind,
        "broadcast_rpc_address": POD_IP_PLACEHOLDER,
        "storage_port": network.storage_port,
        "native_transport_port": network.cql_port,
        "start_native_transport": True,
        "data_file_directories": [f"{paths.data}/data"],
        "commitlog_directory": f"{paths.data}/commitlog",
        "saved_caches_directory": f"{paths.data}/saved_caches",
        "hints_directory": f"{paths.data}/hints",
        "cdc_raw_directory": f"{paths.data}/cdc_raw",
        "commitlog_sync": "periodic",
        "commitlog_sync_period": "10000ms",
        "authenticator": "PasswordAuthenticator",
        "authorizer": "CassandraAuthorizer",
        "role_manager": "CassandraRoleManager",
        # A fresh 5.0 cluster: no 4.x nodes to stay wire compatible with.
        "storage_compatibility_mode": "NONE",
    }
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in entries.items())


def render_jvm_options(cfg: CassandraConfig, paths: NodePaths) -> str:
    """A Java argument file (`java @file`), one option a line: the flags local-stack runs
    Cassandra with, minus its single-node shortcuts (ring delay, gossip settling)."""
    options = [
        f"-Xms{cfg.heap}",
        f"-Xmx{cfg.heap}",
        "-Xss256k",
        "-XX:+UseG1GC",
        "-XX:+ParallelRefProcEnabled",
        "-XX:MaxTenuringThreshold=1",
        "-XX:+PerfDisableSharedMem",
        # A node that ran out of heap may have half-written state; better dead than wrong.
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.net.preferIPv4Stack=true",
        *JAVA17_MODULE_FLAGS,
        f"-javaagent:{paths.jamm_agent}",
        f"-Dcassandra.config=file://{paths.config}/{CASSANDRA_YAML}",
        f"-Dcassandra-rackdc.properties=file://{paths.templates}/{RACKDC_PROPERTIES}",
        f"-Dcassandra.storagedir={paths.data}",
        f"-Dcassandra.logdir={paths.data}/logs",
        f"-Dcassandra.triggers_dir={paths.config}/triggers",
        f"-Dlogback.configurationFile={paths.templates}/{LOGBACK_XML}",
        "-Dcassandra-foreground=yes",
    ]
    return "".join(f"{option}\n" for option in options)


def render_prepare_script(paths: NodePaths) -> str:
    """The init step: this pod's cassandra.yaml with its own IP (`POD_IP` from the pod's
    environment), and the triggers folder Cassandra insists on."""
    template = shlex.quote(f"{paths.templates}/{CASSANDRA_YAML}")
    config = shlex.quote(f"{paths.config}/{CASSANDRA_YAML}")
    return (
        "set -eu\n"
        f'sed -e "s|{POD_IP_PLACEHOLDER}|${{POD_IP}}|g" {template} > {config}\n'
        f"mkdir -p {shlex.quote(paths.config + '/triggers')}\n"
    )


def config_files(
    cfg: CassandraConfig, seeds: str, network: NodeNetwork, paths: NodePaths
) -> dict[str, str]:
    """The node ConfigMap's data."""
    return {
        CASSANDRA_YAML: render_cassandra_yaml_template(cfg, seeds, network, paths),
        JVM_OPTIONS: render_jvm_options(cfg, paths),
        RACKDC_PROPERTIES: f"dc={DATACENTER}\nrack={RACK}\nprefer_local=true\n",
        LOGBACK_XML: render_logback_xml(),
        PREPARE_SCRIPT: render_prepare_script(paths),
    }


def prepare_command(paths: NodePaths) -> list[str]:
    return ["/bin/bash", f"{paths.templates}/{PREPARE_SCRIPT}"]


def node_command(paths: NodePaths) -> list[str]:
    """The daemon: the JVM with the rendered options file, the image's jars."""
    return ["java", f"@{paths.templates}/{JVM_OPTIONS}", "-cp", f"{paths.lib}/*", DAEMON_MAIN]
