"""Background processes started, their pid files and logs read, as both local apps do."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from background_processes.log_files import log_tail, print_log
from background_processes.pid_files import ProcessFiles, reap, recorded, start_background


def test_log_tail_is_the_last_lines_of_the_log(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    log.write_text("".join(f"line {n}\n" for n in range(10)))
    assert log_tail(log, 3) == "line 7\nline 8\nline 9\n"


def test_a_missing_log_is_named_not_raised(tmp_path: Path) -> None:
    assert log_tail(tmp_path / "never.log") == f"(no log at {tmp_path / 'never.log'})"


def test_print_log_without_follow_prints_the_tail_and_returns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "svc.log"
    log.write_text("a\nb\nc\n")
    print_log(log, 2, follow=False)
    assert capsys.readouterr().out == "b\nc\n"


def test_a_started_process_gets_the_given_environment_and_logs_to_its_file(
    tmp_path: Path,
) -> None:
    files = ProcessFiles(tmp_path / "run" / "svc.pid", tmp_path / "logs" / "svc.log", "marker")
    command = [sys.executable, "-c", "import os; print(os.environ['GREETING'], flush=True)"]
    pid = start_background(command, files, tmp_path, env={"GREETING": "hello"})
    assert files.pid_file.read_text() == f"{pid}\n"
    deadline = time.monotonic() + 20
    while "hello" not in log_tail(files.log_file) and time.monotonic() < deadline:
        time.sleep(0.05)
    reap(pid)
    assert log_tail(files.log_file) == "hello\n"


def test_a_pid_file_that_is_missing_or_not_a_number_records_nothing(tmp_path: Path) -> None:
    files = ProcessFiles(tmp_path / "svc.pid", tmp_path / "svc.log", "marker")
    assert recorded(files) is None
    files.pid_file.write_text("not a pid\n")
    assert recorded(files) is None
    files.pid_file.write_text("4242\n")
    assert recorded(files) == 4242
