"""Background processes: the Java they need, stop escalation, pid files that are not ours."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from background_processes.pid_files import ProcessFiles, start_background
from local_stack.errors import MissingToolError
from local_stack.processes import find_java, java_major_version, recorded_pid, stop

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
IGNORES_SIGTERM = [
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(120)",
]


def _files(tmp_path: Path, identity: str) -> ProcessFiles:
    return ProcessFiles(tmp_path / "svc.pid", tmp_path / "svc.log", identity)


def _gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.1)
    return False


def test_stop_sends_sigterm_and_the_process_ends(tmp_path: Path) -> None:
    files = _files(tmp_path, "marker-term")
    pid = start_background([*SLEEPER, "marker-term"], files, tmp_path)
    assert recorded_pid(files) == pid
    assert stop(files, timeout_s=10) is True
    assert recorded_pid(files) is None
    assert not files.pid_file.exists()
    assert _gone(pid, within_s=5)


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    files = _files(tmp_path, "marker-stubborn")
    pid = start_background([*IGNORES_SIGTERM, "marker-stubborn"], files, tmp_path)
    deadline = time.monotonic() + 20
    while "ready" not in files.log_file.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    assert stop(files, timeout_s=1.0) is True
    assert time.monotonic() - started < 8
    assert _gone(pid, within_s=5)


def test_pid_file_naming_a_foreign_process_is_not_treated_as_ours(tmp_path: Path) -> None:
    files = _files(tmp_path, "a-service-that-is-not-running")
    # Our own pid certainly runs, but its command line lacks the service's identity, as after
    # a reboot that handed the recorded pid to an unrelated process.
    files.pid_file.write_text(f"{os.getpid()}\n")
    assert recorded_pid(files) is None
    assert stop(files, timeout_s=1) is False


def test_service_started_with_stop_with_parent_dies_when_its_parent_is_killed(
    tmp_path: Path,
) -> None:
    parent_script = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from background_processes.pid_files import ProcessFiles, start_background
        home = Path(sys.argv[1])
        files = ProcessFiles(home / "svc.pid", home / "svc.log", "marker-orphan")
        command = [sys.executable, "-c", "import time; time.sleep(120)", "marker-orphan"]
        print(start_background(command, files, home, stop_with_parent=True), flush=True)
        time.sleep(120)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_script, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    assert Path(f"/proc/{child_pid}").exists()
    parent.kill()
    parent.wait()
    assert _gone(child_pid, within_s=10)


def test_process_whose_main_thread_exited_while_others_run_counts_as_running(
    tmp_path: Path,
) -> None:
    # What a JVM looks like during shutdown hooks: main thread a zombie, ports still bound.
    script = (
        "import ctypes, threading, time\n"
        "threading.Thread(target=time.sleep, args=(120,)).start()\n"
        "print('ready', flush=True)\n"
        "ctypes.CDLL(None).pthread_exit(None)\n"
    )
    files = _files(tmp_path, "marker-half-exited")
    pid = start_background([sys.executable, "-c", script, "marker-half-exited"], files, tmp_path)
    deadline = time.monotonic() + 20
    while "ready" not in files.log_file.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)

    def leader_state() -> str:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]

    # The main thread exits just after printing; on a loaded machine that can take a while.
    while leader_state() != "Z" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leader_state() == "Z"
    assert recorded_pid(files) == pid
    assert stop(files, timeout_s=10) is True
    assert _gone(pid, within_s=5)


def test_missing_java_error_says_what_and_how_to_fix() -> None:
    with pytest.raises(MissingToolError) as raised:
        find_java("no-such-java-here")
    assert "Java 17" in str(raised.value)
    assert "LOCAL_STACK_JAVA" in str(raised.value)


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ("something else entirely", None),
    ],
    ids=["openjdk-17", "openjdk-21", "oracle-8", "unrecognised"],
)
def test_java_major_version_reads_both_version_styles(output: str, major: int | None) -> None:
    assert java_major_version(output) == major


def test_java_older_than_17_is_refused_with_the_version_found(tmp_path: Path) -> None:
    old_java = tmp_path / "java"
    old_java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    old_java.chmod(0o755)
    with pytest.raises(MissingToolError) as raised:
        find_java(str(old_java))
    assert "Java 11" in str(raised.value)
    assert "17" in str(raised.value)
