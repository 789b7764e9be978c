"""Port checks: what listens, what a service could bind, which ports are free."""

from __future__ import annotations

import socket
from pathlib import Path

from local_stack.network import PRIVATE_PORTS_FROM, free_ports, port_bindable, port_open


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5
    assert all(port_bindable("127.0.0.1", port) for port in ports)


def test_a_listening_port_is_open_and_not_bindable() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_open("127.0.0.1", port)
        assert not port_bindable("127.0.0.1", port)


def test_a_closed_port_is_not_open_even_when_asked_many_times() -> None:
    # Many connects to a closed port of the ephemeral range, where a connect can pick the
    # destination port as its own source and reach itself: that must not count as a server.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert not any(port_open("127.0.0.1", port, timeout_s=0.2) for _ in range(200))


def test_free_ports_lie_below_the_kernels_ephemeral_range() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert all(PRIVATE_PORTS_FROM <= port < low for port in free_ports(5))
