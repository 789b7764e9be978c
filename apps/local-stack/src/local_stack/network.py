"""Loopback ports: is something listening, and which ones are free for a private instance."""

from __future__ import annotations

import socket


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
    """`count` distinct ports the kernel considers free right now on host.

    All sockets stay open until every port is picked, so the kernel cannot hand out one twice.
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
