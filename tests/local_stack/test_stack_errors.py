"""`up` refuses clearly, and starts nothing, when a port it needs is taken."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from local_stack.errors import ServiceStartError
from local_stack.network import free_ports
from local_stack.settings import LocalStackSettings
from local_stack.stack import LocalStack


def test_up_names_the_busy_port_and_leaves_nothing_running(tmp_path: Path) -> None:
    kafka, controller, native, storage, jmx = free_ports(5)
    settings = LocalStackSettings(
        kafka_port=kafka,
        kafka_controller_port=controller,
        cassandra_port=native,
        cassandra_storage_port=storage,
        cassandra_jmx_port=jmx,
        state_dir=tmp_path,
    )
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", storage))
        squatter.listen()
        stack = LocalStack(settings, stop_with_parent=True)
        with pytest.raises(ServiceStartError) as raised:
            stack.up()
    assert "cassandra" in str(raised.value)
    assert str(storage) in str(raised.value)
    assert not any(status.running for status in stack.status())
