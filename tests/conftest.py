"""Real services for the whole test suite: one private Kafka + Cassandra per pytest session.

`local_stack` starts them on free loopback ports with a throwaway state dir, applies
schemas/cassandra-setup.cql, creates topics `market` and `market.dlq`, and stops them when the
session ends. Jars come from the project's shared `.cache/` (resolved once with Maven).
Outside CI a machine without Java/Maven/the services skips the tests that need them, with the
reason; under CI=true that is an error, so a broken set-up can never pass as "all skipped".
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cassandra.cluster import Session
from local_stack.cassandra import connect
from local_stack.errors import LocalStackError
from local_stack.network import free_ports
from local_stack.settings import LocalStackSettings
from local_stack.stack import LocalStack


@dataclass(frozen=True)
class LocalStackHandle:
    kafka_bootstrap: str
    cassandra_host: str
    cassandra_port: int
    spark_jars: list[Path]
    state_dir: Path
    stack: LocalStack


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"local stack unavailable under CI: {reason}", pytrace=False)
    pytest.skip(f"local stack unavailable: {reason}")


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStackHandle]:
    kafka, controller, native, storage, jmx = free_ports(5)
    settings = LocalStackSettings(
        kafka_port=kafka,
        kafka_controller_port=controller,
        cassandra_port=native,
        cassandra_storage_port=storage,
        cassandra_jmx_port=jmx,
        state_dir=tmp_path_factory.mktemp("local-stack-state"),
        # Spark and other JVMs of the suite share the cores; a loaded machine boots slowly.
        start_timeout_s=360.0,
    )
    # Tied to this pytest process: even a killed session leaves no JVM behind.
    stack = LocalStack(settings, stop_with_parent=True)
    try:
        endpoints = stack.up()
        spark_jars = stack.spark_connector_jars()
    except LocalStackError as error:
        stack.down()
        _unavailable(str(error))
    try:
        yield LocalStackHandle(
            kafka_bootstrap=endpoints.kafka_bootstrap,
            cassandra_host=endpoints.cassandra_host,
            cassandra_port=endpoints.cassandra_port,
            spark_jars=spark_jars,
            state_dir=endpoints.state_dir,
            stack=stack,
        )
    finally:
        stack.down()


@pytest.fixture(scope="session")
def kafka_bootstrap(local_stack: LocalStackHandle) -> str:
    return local_stack.kafka_bootstrap


@pytest.fixture(scope="session")
def cassandra_session(local_stack: LocalStackHandle) -> Iterator[Session]:
    cluster = connect(local_stack.cassandra_host, local_stack.cassandra_port)
    try:
        yield cluster.connect()
    finally:
        cluster.shutdown()


@dataclass(frozen=True)
class Listener:
    """A listening TCP socket (or bound UDP socket) held by one process."""

    pid: int
    command: str
    address: str
    port: int
    loopback: bool


def _descendants(root: int) -> list[int]:
    """`root` and every process below it: Kafka, Cassandra, the children and their JVMs."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def _address(hex_address: str) -> str:
    """/proc/net/tcp{,6} address (32-bit words in host byte order, little-endian here)."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def _listening_sockets(pids: list[int]) -> list[Listener]:
    """Every TCP socket in LISTEN and every bound UDP socket the processes hold."""
    found = []
    for pid in pids:
        inodes = set()
        try:
            descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            with contextlib.suppress(OSError):  # closed meanwhile (e.g. the listing's own fd)
                link = os.readlink(descriptor)
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        command = _command(pid)
        for table, listening in (("tcp", "0A"), ("tcp6", "0A"), ("udp", "07"), ("udp6", "07")):
            try:
                lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if fields[3] == listening and fields[9] in inodes:
                    host, port = fields[1].split(":")
                    address = _address(host)
                    found.append(
                        Listener(pid, command, address, int(port, 16), _is_loopback(address))
                    )
    return found


def _command(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _is_loopback(address: str) -> bool:
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return parsed.is_loopback


@pytest.fixture(scope="session")
def listening_sockets() -> Callable[[int], tuple[list[Listener], list[str]]]:
    """Given a pid: the listeners of it and every process below it, and their command lines.

    Read from /proc (sockets matched to each process by inode), so a JVM's sockets count too.
    """

    def find(root: int) -> tuple[list[Listener], list[str]]:
        pids = _descendants(root)
        return _listening_sockets(pids), [_command(pid) for pid in pids]

    return find
