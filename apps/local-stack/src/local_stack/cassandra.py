"""Apache Cassandra 5.0 as one node run from the cassandra-all jar: config, command, probe."""

from __future__ import annotations

import json
from pathlib import Path

from background_processes.log_files import log_tail
from background_processes.pid_files import ProcessFiles
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import RoundRobinPolicy

from local_stack.network import port_open
from local_stack.processes import QUICK_START_JIT_FLAGS
from local_stack.settings import LocalStackSettings

DAEMON_MAIN = "org.apache.cassandra.service.CassandraDaemon"
CLUSTER_NAME = "local-stack"
DATACENTER = "datacenter1"

# What the distribution's conf/jvm17-server.options passes: Cassandra reaches into JDK internals
# (off-heap memory, direct buffers, JMX, the jamm object sizer) and fails on Java 17 without them.
JAVA17_MODULE_FLAGS = (
    "-Djdk.attach.allowAttachSelf=true",
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports=java.sql/java.sql=ALL-UNNAMED",
    "--add-exports=java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports=jdk.attach/sun.tools.attach=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
)

# Single local node: no peers to wait for, so skip the waits meant for joining a ring.
FAST_SINGLE_NODE_FLAGS = (
    "-Dcassandra.skip_wait_for_gossip_to_settle=0",
    "-Dcassandra.ring_delay_ms=0",
    "-Dcassandra.superuser_setup_delay_ms=0",
)


def render_cassandra_yaml(settings: LocalStackSettings, home: Path) -> str:
    """cassandra.yaml for one small loopback node; every unset key keeps Cassandra's default.

    JSON is a subset of YAML, so values are written with json.dumps and need no YAML library.
    """
    host = settings.host
    entries: dict[str, object] = {
        "cluster_name": CLUSTER_NAME,
        # One token: a lone node needs no vnodes, and fewer tokens start faster.
        "num_tokens": 1,
        "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
        "endpoint_snitch": "SimpleSnitch",
        "seed_provider": [
            {
                "class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
                "parameters": [{"seeds": f"{host}:{settings.cassandra_storage_port}"}],
            }
        ],
        "listen_address": host,
        "rpc_address": host,
        "storage_port": settings.cassandra_storage_port,
        "native_transport_port": settings.cassandra_port,
        "start_native_transport": True,
        "data_file_directories": [str(home / "data")],
        "commitlog_directory": str(home / "commitlog"),
        "saved_caches_directory": str(home / "saved_caches"),
        "hints_directory": str(home / "hints"),
        "cdc_raw_directory": str(home / "cdc_raw"),
        "commitlog_sync": "periodic",
        "commitlog_sync_period": "10000ms",
        # Hints replay writes to nodes that were down; with one node there is none.
        "hinted_handoff_enabled": False,
        # Dropping a test keyspace should not leave a snapshot of it on disk.
        "auto_snapshot": False,
        "authenticator": "AllowAllAuthenticator",
        "authorizer": "AllowAllAuthorizer",
        "concurrent_reads": 8,
        "concurrent_writes": 8,
        "concurrent_counter_writes": 4,
        "concurrent_compactors": 1,
        "memtable_heap_space": "128MiB",
        "memtable_offheap_space": "128MiB",
        "key_cache_size": "16MiB",
        "dynamic_snitch": False,
        # A fresh 5.0 node: no 4.x nodes to stay wire compatible with.
        "storage_compatibility_mode": "NONE",
    }
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in entries.items())


def render_logback_xml() -> str:
    """Logs go to stdout, which the launcher sends to the service's log file."""
    return """<configuration scan="false">
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
"""


def connect(host: str, port: int) -> Cluster:
    """A driver Cluster for the one local node (call `.connect()` on it for a Session)."""
    return Cluster(
        contact_points=[host],
        port=port,
        # Cassandra 5 speaks v5; naming it skips the driver's downgrade dance and its warnings.
        protocol_version=5,
        execution_profiles={
            EXEC_PROFILE_DEFAULT: ExecutionProfile(
                load_balancing_policy=RoundRobinPolicy(), request_timeout=30
            )
        },
        connect_timeout=10,
    )


class CassandraService:
    """Files and commands of the local Cassandra node under `<state>/cassandra`."""

    name = "cassandra"

    def __init__(self, settings: LocalStackSettings, java: str, jar_dir: Path) -> None:
        self._settings = settings
        self._java = java
        self._jar_dir = jar_dir
        self.home = settings.resolved_state_dir / "cassandra"
        self.config_file = self.home / "conf" / "cassandra.yaml"
        self.logback_file = self.home / "conf" / "logback.xml"
        self.files = ProcessFiles(
            pid_file=self.home / "cassandra.pid",
            log_file=self.home / "logs" / "cassandra.log",
            identity=str(self.config_file),
        )

    @property
    def address(self) -> str:
        return f"{self._settings.host}:{self._settings.cassandra_port}"

    @property
    def ports(self) -> tuple[int, ...]:
        settings = self._settings
        return (
            settings.cassandra_port,
            settings.cassandra_storage_port,
            settings.cassandra_jmx_port,
        )

    def prepare(self) -> None:
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(render_cassandra_yaml(self._settings, self.home))
        self.logback_file.write_text(render_logback_xml())
        (self.home / "triggers").mkdir(exist_ok=True)

    def command(self) -> list[str]:
        settings = self._settings
        jamm = sorted(self._jar_dir.glob("jamm-*.jar"))
        return [
            self._java,
            f"-Xmx{settings.cassandra_heap}",
            *(QUICK_START_JIT_FLAGS if settings.quick_start_jit else ()),
            "-Xss256k",
            "-XX:+UseG1GC",
            "-XX:+ParallelRefProcEnabled",
            "-XX:MaxTenuringThreshold=1",
            "-XX:+PerfDisableSharedMem",
            # A node that ran out of heap may have half-written state; better dead than wrong.
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.net.preferIPv4Stack=true",
            *JAVA17_MODULE_FLAGS,
            # Cassandra sizes memtables by measuring objects with jamm, loaded as an agent.
            *(f"-javaagent:{jar}" for jar in jamm[:1]),
            *FAST_SINGLE_NODE_FLAGS,
            # JMX stays local-only (no remote connector); the port is ours to choose.
            f"-Dcassandra.jmx.local.port={settings.cassandra_jmx_port}",
            f"-Dcassandra.config={self.config_file.as_uri()}",
            f"-Dcassandra.storagedir={self.home}",
            f"-Dcassandra.logdir={self.home / 'logs'}",
            f"-Dcassandra.triggers_dir={self.home / 'triggers'}",
            f"-Dlogback.configurationFile={self.logback_file}",
            "-Dcassandra-foreground=yes",
            "-cp",
            f"{self._jar_dir}/*",
            DAEMON_MAIN,
        ]

    def answers(self) -> bool:
        """True once `SELECT release_version FROM system.local` returns a row."""
        if not port_open(self._settings.host, self._settings.cassandra_port):
            return False
        try:
            cluster = connect(self._settings.host, self._settings.cassandra_port)
        except Exception:
            return False
        try:
            session = cluster.connect()
            row = session.execute("SELECT release_version FROM system.local", timeout=10).one()
            return row is not None
        except Exception:
            return False
        finally:
            cluster.shutdown()

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.files.log_file, lines)
