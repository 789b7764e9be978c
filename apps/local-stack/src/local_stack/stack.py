"""The local Kafka + Cassandra pair as one object: up, down, status. The CLI and tests use this."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from background_processes.pid_files import rss_bytes, start_background
from finnhub_contracts.cassandra import setup_cql
from finnhub_contracts.kafka import TOPIC

from local_stack import processes
from local_stack.artifacts import (
    CASSANDRA_JARS,
    KAFKA_JARS,
    SPARK_CONNECTOR_JARS,
    JarResolver,
    spark_connector_jars,
)
from local_stack.cassandra import CassandraService, connect
from local_stack.errors import LocalStackError, ServiceStartError
from local_stack.kafka import KafkaService
from local_stack.network import port_bindable
from local_stack.schema import apply_cql, create_topics
from local_stack.settings import LocalStackSettings

Service = KafkaService | CassandraService
EventCallback = Callable[[str], None]


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    pid: int | None
    answering: bool
    rss_bytes: int | None
    log_file: Path

    @property
    def running(self) -> bool:
        return self.pid is not None


@dataclass(frozen=True)
class StackEndpoints:
    """How to reach the running stack, and how long each service took to answer."""

    kafka_bootstrap: str
    cassandra_host: str
    cassandra_port: int
    state_dir: Path
    seconds_to_answer: dict[str, float] = field(default_factory=dict)


def _ignore(_: str) -> None:
    return None


class LocalStack:
    """Kafka + Cassandra under one state dir.

    stop_with_parent ties the services' lives to this process (tests, an orchestrator that owns
    them); by default they outlive it, as `local-stack up` promises.
    """

    def __init__(
        self,
        settings: LocalStackSettings | None = None,
        on_event: EventCallback = _ignore,
        stop_with_parent: bool = False,
    ) -> None:
        self.settings = settings or LocalStackSettings()
        self._on_event = on_event
        self._stop_with_parent = stop_with_parent
        self._resolver = JarResolver(self.settings)

    def _services(self, java: str = "java") -> tuple[CassandraService, KafkaService]:
        # Cassandra first: it is the slower one to boot, so it gets a head start.
        return (
            CassandraService(self.settings, java, self._resolver.jar_dir(CASSANDRA_JARS)),
            KafkaService(self.settings, java, self._resolver.jar_dir(KAFKA_JARS)),
        )

    def up(self) -> StackEndpoints:
        """Resolves jars if needed, starts what is not running, waits, applies schema and topics.

        Running services found by their pid files are kept. If anything fails, the services
        this call started are stopped again, so a failed `up` leaves no JVM behind.
        """
        java = processes.find_java(self.settings.java)
        for jar_set in (KAFKA_JARS, CASSANDRA_JARS):
            if not self._resolver.is_resolved(jar_set):
                self._on_event(f"resolving the {jar_set.name} jars with Maven")
                self._resolver.jars(jar_set, self._download_progress(jar_set.name))
        started: list[Service] = []
        try:
            started_at = time.monotonic()
            services = self._services(java)
            for service in services:
                self._start(service, started)
            seconds = self._wait_until_answering(services, started_at)
            self._on_event(f"applying the schema of keyspace {self.settings.keyspace}")
            self.apply_schema()
            self._on_event("creating topics")
            self.create_topics()
        except BaseException:
            for service in started:
                processes.stop(service.files, self.settings.stop_timeout_s)
            raise
        return StackEndpoints(
            kafka_bootstrap=self.settings.kafka_bootstrap,
            cassandra_host=self.settings.host,
            cassandra_port=self.settings.cassandra_port,
            state_dir=self.settings.resolved_state_dir,
            seconds_to_answer=seconds,
        )

    def _start(self, service: Service, started: list[Service]) -> None:
        if processes.recorded_pid(service.files) is not None:
            self._on_event(f"{service.name} already running at {service.address}")
            return
        busy = [port for port in service.ports if not port_bindable(self.settings.host, port)]
        if busy:
            raise ServiceStartError(
                f"{service.name}: port(s) {', '.join(map(str, busy))} on {self.settings.host} "
                "already in use by another process; stop it or choose other ports "
                "(LOCAL_STACK_*_PORT, see `local-stack --help`)."
            )
        self._on_event(f"starting {service.name} on {service.address}")
        service.prepare()
        start_background(
            service.command(),
            service.files,
            service.home,
            stop_with_parent=self._stop_with_parent,
        )
        started.append(service)

    def _wait_until_answering(
        self, services: tuple[Service, ...], started_at: float
    ) -> dict[str, float]:
        deadline = started_at + self.settings.start_timeout_s
        waiting = list(services)
        seconds: dict[str, float] = {}
        while waiting:
            for service in list(waiting):
                if processes.recorded_pid(service.files) is None:
                    raise ServiceStartError(
                        f"{service.name} exited before answering on {service.address}. "
                        f"Last lines of {service.files.log_file}:\n{service.log_tail()}"
                    )
                if service.answers():
                    seconds[service.name] = round(time.monotonic() - started_at, 1)
                    self._on_event(f"{service.name} answers on {service.address}")
                    waiting.remove(service)
            if waiting and time.monotonic() > deadline:
                service = waiting[0]
                raise ServiceStartError(
                    f"{service.name} did not answer on {service.address} within "
                    f"{self.settings.start_timeout_s:.0f} s (LOCAL_STACK_START_TIMEOUT_S). "
                    f"Last lines of {service.files.log_file}:\n{service.log_tail()}"
                )
            if waiting:
                time.sleep(1.0)
        return seconds

    def apply_schema(self) -> int:
        """Applies the contracts' CQL to the keyspace; returns the number of statements run."""
        cluster = connect(self.settings.host, self.settings.cassandra_port)
        try:
            return apply_cql(cluster.connect(), setup_cql(self.settings.keyspace))
        finally:
            cluster.shutdown()

    def create_topics(self) -> list[str]:
        partitions = {topic: 1 for topic in self.settings.topics}
        partitions[TOPIC] = self.settings.market_partitions
        return create_topics(self.settings.kafka_bootstrap, partitions)

    def down(self) -> list[str]:
        """Stops both services by their pid files; returns the names of those that were running."""
        stopped = []
        # Kafka first: it holds no state Cassandra needs, and stops faster.
        for service in reversed(self._services()):
            if processes.stop(service.files, self.settings.stop_timeout_s):
                stopped.append(service.name)
        return stopped

    def status(self) -> list[ServiceStatus]:
        result = []
        for service in self._services():
            pid = processes.recorded_pid(service.files)
            result.append(
                ServiceStatus(
                    name=service.name,
                    address=service.address,
                    pid=pid,
                    answering=pid is not None and service.answers(),
                    rss_bytes=rss_bytes(pid) if pid is not None else None,
                    log_file=service.files.log_file,
                )
            )
        return result

    def log_file(self, name: str) -> Path:
        for service in self._services():
            if service.name == name:
                return service.files.log_file
        raise LocalStackError(f"no service named {name!r}; choose kafka or cassandra")

    def spark_connector_jars(self) -> list[Path]:
        """Jars for the processor's `spark.jars`, resolved with Maven on first use."""
        if not self._resolver.is_resolved(SPARK_CONNECTOR_JARS):
            self._on_event("resolving the Spark connector jars with Maven")
        return spark_connector_jars(self.settings, self._download_progress("Spark connector"))

    def _download_progress(self, what: str) -> Callable[[str], None]:
        """Reports each file Maven downloads, saying once beforehand that this happens only once.

        A warm Maven repository resolves without downloading anything; then nothing is said.
        """
        announced = False

        def report(file_name: str) -> None:
            nonlocal announced
            if not announced:
                announced = True
                self._on_event(
                    f"downloading the {what} jars from the Maven registry (first run only; "
                    f"later runs reuse {self.settings.resolved_cache_dir / 'jars'})"
                )
            self._on_event(f"downloaded {file_name}")

        return report
