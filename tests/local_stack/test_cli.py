"""The `local-stack` command: exit codes and messages a person or a script can act on."""

from __future__ import annotations

from pathlib import Path

import pytest
from local_stack.cli import main


@pytest.fixture(autouse=True)
def empty_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("LOCAL_STACK_STATE_DIR", str(tmp_path))
    # Ports nothing listens on, so a stack running on the defaults is not mistaken for ours.
    monkeypatch.setenv("LOCAL_STACK_KAFKA_PORT", "1")
    monkeypatch.setenv("LOCAL_STACK_CASSANDRA_PORT", "2")
    return tmp_path


def test_status_of_a_stopped_stack_says_not_running_and_exits_3(capsys) -> None:
    assert main(["status"]) == 3
    out = capsys.readouterr().out
    assert "kafka" in out and "cassandra" in out
    assert "yes" not in out


def test_down_with_nothing_running_succeeds_and_says_so(capsys) -> None:
    assert main(["down"]) == 0
    assert "nothing was running" in capsys.readouterr().err


def test_logs_of_a_service_never_started_points_at_the_missing_file(capsys, empty_state) -> None:
    assert main(["logs", "kafka"]) == 0
    assert f"no log at {empty_state}" in capsys.readouterr().out


def test_follow_without_a_service_is_refused_with_exit_1(capsys) -> None:
    assert main(["logs", "--follow"]) == 1
    assert "--follow needs one service" in capsys.readouterr().err


def test_help_lists_the_environment_variables(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "LOCAL_STACK_KAFKA_PORT" in out and "LOCAL_STACK_STATE_DIR" in out


def test_an_unknown_local_stack_variable_is_warned_about_in_one_line(
    capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_STACK_KAFKA_PROT", "9")
    main(["status"])
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "LOCAL_STACK_KAFKA_PROT" in warnings[0]


def test_known_local_stack_variables_raise_no_warning(capsys) -> None:
    main(["status"])
    assert "warning" not in capsys.readouterr().err
