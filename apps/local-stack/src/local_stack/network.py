"""Loopback ports: is something listening, and which ones are free for a private instance."""

from __future__ import annotations

import random
import socket
from pathlib import Path

# Above the well-known and commonly configured service ports (Kafka 9092, Cassandra 9042/7000).
PRIVATE_PORTS_FROM = 20000


def port_open(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True if something accepts TCP connections on host:port.

    A cheap check before a client probe: the Kafka client and the Cassandra driver both log
    every refused connection while a JVM is still booting.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            # A connect to a closed port in the ephemeral range can pick that same port as its
            # source and connect to itself (TCP simultaneous open); that is nobody listening.
            return sock.getsockname() != sock.getpeername()
    except OSError:
        return False


def port_bindable(host: str, port: int) -> bool:
    """True if a server could listen on host:port now, the question a service start asks.

    SO_REUSEADDR as servers set it, so connections of an earlier run lingering in TIME_WAIT
    do not count as the port being taken.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports on host that nothing uses now, below the kernel's ephemeral range.

    A port the kernel hands out as ephemeral can be taken at any moment by another program's
    outgoing connection or port-0 listener (Spark opens several); on a busy shared machine that
    stole a stopped service's port before its restart. Ports below the range are only ever
    taken on purpose.
    """
    low, _ = _ephemeral_range()
    candidates = list(range(PRIVATE_PORTS_FROM, low))
    random.shuffle(candidates)
    ports: list[int] = []
    for port in candidates:
        if port_bindable(host, port):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise OSError(f"no {count} free ports on {host} between {PRIVATE_PORTS_FROM} and {low}")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999
