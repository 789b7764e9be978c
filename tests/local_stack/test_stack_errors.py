"""`up` refuses clearly, and starts nothing, when a port it needs is taken."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from local_stack.errors import ServiceStartError
from local_stack.network import free_ports
from local_stack.settings import LocalStackSettings
from local_stack.stack import LocalStack


def _settings(state_dir: Path, **overrides: object) -> LocalStackSettings:
    kafka, controller, native, storage, jmx = free_ports(5)
    return LocalStackSettings(
        kafka_port=kafka,
        kafka_controller_port=controller,
        cassandra_port=native,
        cassandra_storage_port=storage,
        cassandra_jmx_port=jmx,
        state_dir=state_dir,
        **overrides,
    )


def test_up_names_the_busy_port_and_leaves_nothing_running(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    storage = settings.cassandra_storage_port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", storage))
        squatter.listen()
        stack = LocalStack(settings, stop_with_parent=True)
        with pytest.raises(ServiceStartError) as raised:
            stack.up()
    assert "cassandra" in str(raised.value)
    assert str(storage) in str(raised.value)
    assert not any(status.running for status in stack.status())


def test_timeout_names_service_and_address_shows_its_log_and_stops_what_it_started(
    tmp_path: Path,
) -> None:
    # No JVM answers within a second: the waiting gives up on the first service it checks.
    stack = LocalStack(_settings(tmp_path, start_timeout_s=1.0), stop_with_parent=True)
    with pytest.raises(ServiceStartError) as raised:
        stack.up()
    message = str(raised.value)
    assert "cassandra did not answer on 127.0.0.1:" in message
    assert f"{tmp_path}/cassandra/logs/cassandra.log" in message
    assert "LOCAL_STACK_START_TIMEOUT_S" in message
    assert not any(status.running for status in stack.status())
